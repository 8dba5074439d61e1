// Package txframe encodes and decodes frames: one frame is one committed
// transaction, and the same bytes are used in a database's segment files and
// in backup streams, so a backup copies frames without re-encoding them.
//
// A frame is laid out as follows (all integers little-endian):
//
//	offset  size  field
//	     0     4  magic "HPF1"
//	     4     4  body length B (bytes from LSN through the last entry)
//	     8     8  LSN                      \
//	    16     8  commit time, unix ns      |  body: hashed into h(n)
//	    24     4  entry count N (>= 1)      |
//	    28     .  N entries                /
//	   8+B    32  h(n), the chained state hash after this transaction
//	  40+B     4  CRC32C (Castagnoli) of bytes [0, 40+B)
//
//	entry:  op u8 (1 put, 2 delete) | key length u16 | value length u32 | key | value
//
// The chained hash is h(n) = SHA-256(h(n-1) || SHA-256(body)) with h(0) all
// zeros, so two databases with equal LSN and h(LSN) have identical histories.
// The CRC catches torn and damaged frames cheaply; h(n) proves content and
// origin.
//
// Every length is bounded twice before it is used: by the format's maximum
// (see the Max constants) and by the bytes that remain. Decoding never panics
// and never allocates from an unchecked length. The encoding is canonical:
// Encode(Decode(b)) reproduces b byte for byte. docs/FORMAT.md is the
// contract for other implementations.
package txframe
