// Package stream reads and writes hotpipe backup streams.
//
// A stream is one or more segments; a segment is a header, zero or more
// frames (package txframe, the same bytes as in the database's segment
// files) and an end record. Streams are not compressed; readers detect xz,
// gzip, bzip2 and zstd input by its magic bytes and decompress it, each
// decoder bounded in memory (an xz dictionary or a zstd window of at most
// Options.XZDictMax).
//
//	header (140 bytes, little-endian):
//	  0  magic "HPSH"          4  version u16 = 1     6  header length u16 = 140
//	  8  origin id [16]byte   24  created, unix ns    32  base LSN u64
//	 40  h(base) [32]byte     72  name length u8      73  name [63]byte, zero padded
//	136  CRC32C of [0,136)
//
//	end record (80 bytes):
//	  0  magic "HPSE"          4  zero u32             8  frame count u64
//	 16  first LSN u64        24  last LSN u64        32  h(last) [32]byte
//	 64  segment length u64 (header + frames)         72  zero u32
//	 76  CRC32C of [0,76)
//
// The first frame of a segment has LSN base+1 and chains from h(base). The
// end record is fixed-size and carries the segment's length, so a file of
// whole segments is walked from its end to offset 0, header and end record
// by header and end record, without reading a frame; a file that does not
// end that way (an interrupted backup) is read forward from offset 0, and
// nothing is inferred from bytes that could be a frame's payload.
// A stream that stops without an end record is truncated, which is an error.
// Concatenated segments read as one stream when each segment's base is the
// LSN and hash where the stream so far ends, or overlaps what came before
// with the same hashes. docs/FORMAT.md is the contract.
package stream
