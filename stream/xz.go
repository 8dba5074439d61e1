package stream

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"hash/crc64"
	"io"

	"github.com/ulikunitz/xz/lzma"
)

// The xz container (xz-file-format-1.2.1), as far as this reader needs it:
//
//	file   = stream, { stream padding (4k zero bytes) | stream }
//	stream = stream header (12), { block }, index, stream footer (12)
//	block  = block header (4..1024), LZMA2 data, padding to 4, check
//
// The github.com/ulikunitz/xz reader parses all of this itself and gives
// each block's decoder the dictionary the block header asks for, up to
// 4 GiB, with nothing a caller can bound: a later block, or a later
// concatenated stream, makes it allocate whatever it declares. A wrapper
// that inspects block headers as the bytes go past cannot be sure to see
// every one: that library's LZMA2 decoder does not check that a chunk used
// all the packed bytes its header claims, so the decoder and any parallel
// parser can disagree about where the next block header starts. So this
// reader parses the container itself, checks every block header's
// dictionary against the bound, and only then hands the block's LZMA2 data
// to the lzma package's decoder, sized to what was checked. Where the
// decoder stops, the reader knows, because it counts what the decoder read.

// xzStreamMagic and xzFooterMagic open a stream header and close a footer.
var (
	xzStreamMagic = []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}
	xzFooterMagic = []byte{'Y', 'Z'}
	crc64Table    = crc64.MakeTable(crc64.ECMA)
)

// xzReader decompresses an xz input: one or more concatenated xz streams.
type xzReader struct {
	src     *xzSource
	max     uint64 // the dictionary bound
	streams int    // streams begun
	flags   [2]byte
	check   int // check size of the current stream, in bytes
	blocks  int64
	records hash.Hash // of (unpadded, uncompressed size) of each block, as the index must list them
	blk     *xzBlock  // nil between blocks
	inIndex bool      // the current stream's blocks are done
	err     error
}

// xzSource counts the compressed bytes read, for offsets and block sizes.
type xzSource struct {
	r *bufio.Reader
	n int64
}

func (s *xzSource) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	s.n += int64(n)
	return n, err
}

func (s *xzSource) ReadByte() (byte, error) {
	b, err := s.r.ReadByte()
	if err == nil {
		s.n++
	}
	return b, err
}

// xzBlock is the block being decoded.
type xzBlock struct {
	hdr    xzBlockHeader
	at     int64 // offset of its header
	start  int64 // offset of its data
	dec    *lzma.Reader2
	sum    hash.Hash
	out    int64 // uncompressed bytes so far
	number int64
}

// newXZReader reads the first stream header and the first block header,
// so that an input whose first block is over the bound is refused before
// anything is read from it.
func newXZReader(r *bufio.Reader, max int) (*xzReader, error) {
	x := &xzReader{src: &xzSource{r: r}, max: uint64(max)}
	if err := x.nextStream(); err != nil {
		return nil, err
	}
	if err := x.nextBlock(); err != nil && err != io.EOF {
		return nil, err
	}
	return x, nil
}

// Read returns decompressed bytes. An error after some bytes is returned
// by the next call.
func (x *xzReader) Read(p []byte) (int, error) {
	for x.err == nil {
		if x.blk == nil {
			x.err = x.nextBlock()
			continue
		}
		n, err := x.blk.read(p)
		switch {
		case err == io.EOF && !x.blk.dec.EOS(): // the decoder's input ran out inside a chunk
			err = x.cut(io.ErrUnexpectedEOF, "a block's data")
		case err == io.EOF:
			err = x.finishBlock()
		case err != nil:
			err = x.decodeErr(err, x.blk.at)
		}
		x.err = err
		if n > 0 || len(p) == 0 {
			return n, nil
		}
	}
	return 0, x.err
}

func (b *xzBlock) read(p []byte) (int, error) {
	n, err := b.dec.Read(p)
	b.sum.Write(p[:n])
	b.out += int64(n)
	return n, err
}

// nextBlock starts the next block of the current stream; past its last
// block, it reads the index and footer and moves on to the next stream.
// It returns io.EOF after the last stream.
func (x *xzReader) nextBlock() error {
	if x.inIndex {
		if err := x.nextStream(); err != nil {
			return err
		}
	}
	at := x.src.n
	size, err := x.src.ReadByte()
	if err != nil {
		return x.cut(err, "a block header or index")
	}
	if size == 0 {
		x.inIndex = true
		return x.readIndex(at)
	}
	return x.startBlock(at, (int(size)+1)*4)
}

// startBlock reads a block header of n bytes at offset at, checks its
// dictionary against the bound, and only then starts its decoder.
func (x *xzReader) startBlock(at int64, n int) error {
	var buf [1024]byte
	bh := buf[:n]
	bh[0] = byte(n/4 - 1)
	if _, err := io.ReadFull(x.src, bh[1:]); err != nil {
		return x.cut(err, "a block header")
	}
	h, err := parseXZBlockHeader(bh)
	if err != nil {
		return fmt.Errorf("%w: xz: block header at offset %d of the compressed input: %v", ErrFormat, at, err)
	}
	if h.dict > x.max {
		return fmt.Errorf("%w: xz: the block header at offset %d of the compressed input (stream %d, block %d) declares a dictionary of %d bytes (%d MiB), over the %d MiB memory bound",
			ErrFormat, at, x.streams, x.blocks+1, h.dict, (h.dict+1<<20-1)>>20, x.max>>20)
	}
	start := x.src.n
	dict := h.dict
	if h.unpacked >= 0 { // a dictionary larger than the block's output is never used
		dict = min(dict, uint64(h.unpacked))
	}
	dec, err := lzma.Reader2Config{DictCap: int(max(dict, lzma.MinDictCap))}.NewReader2(x.src)
	if err != nil {
		return x.decodeErr(err, at)
	}
	x.blocks++
	x.blk = &xzBlock{hdr: h, at: at, start: start, dec: dec, sum: x.newCheck(), number: x.blocks}
	return nil
}

// finishBlock checks what follows a block's data (padding and check) and
// that the sizes its header declared are the sizes it had.
func (x *xzReader) finishBlock() error {
	b := x.blk
	x.blk = nil
	packed := x.src.n - b.start
	if b.hdr.packed >= 0 && b.hdr.packed != packed || b.hdr.unpacked >= 0 && b.hdr.unpacked != b.out {
		return fmt.Errorf("%w: xz: block %d at offset %d declares %d/%d compressed/uncompressed bytes and holds %d/%d", ErrFormat, b.number, b.at, b.hdr.packed, b.hdr.unpacked, packed, b.out)
	}
	var tail [3 + sha256.Size]byte
	pad := int(-packed & 3)
	t := tail[:pad+x.check]
	if _, err := io.ReadFull(x.src, t); err != nil {
		return x.cut(err, "a block's padding and check")
	}
	if !zero(t[:pad]) || !bytes.Equal(t[pad:], checkBytes(b.sum)) {
		return fmt.Errorf("%w: xz: block %d at offset %d: bad padding or check", ErrFormat, b.number, b.at)
	}
	x.record(b.hdr.size+packed+int64(x.check), b.out)
	return nil
}

// record adds a block's sizes to what the index must list.
func (x *xzReader) record(unpadded, unpacked int64) {
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:], uint64(unpadded))
	binary.LittleEndian.PutUint64(b[8:], uint64(unpacked))
	x.records.Write(b[:])
}

// decodeErr wraps an error of the LZMA2 decoder.
func (x *xzReader) decodeErr(err error, at int64) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return x.cut(err, "a block's data")
	}
	return fmt.Errorf("%w: xz: block at offset %d: %v", ErrFormat, at, err)
}

// cut reports an input that ends inside the xz container.
func (x *xzReader) cut(err error, inside string) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return fmt.Errorf("%w: xz: the input ends inside %s, at offset %d of the compressed input", ErrTruncated, inside, x.src.n)
	}
	return err
}

// newCheck returns the hash of the current stream's check type.
func (x *xzReader) newCheck() hash.Hash {
	switch x.check {
	case 4:
		return crc32.NewIEEE()
	case 8:
		return crc64.New(crc64Table)
	case 32:
		return sha256.New()
	}
	return nopHash{}
}

// checkBytes returns a check as xz stores it: CRCs little-endian.
func checkBytes(h hash.Hash) []byte {
	switch h := h.(type) {
	case hash.Hash32:
		return binary.LittleEndian.AppendUint32(nil, h.Sum32())
	case hash.Hash64:
		return binary.LittleEndian.AppendUint64(nil, h.Sum64())
	}
	return h.Sum(nil)
}

// nopHash is the check of a stream that has none.
type nopHash struct{}

func (nopHash) Write(p []byte) (int, error) { return len(p), nil }
func (nopHash) Sum(b []byte) []byte         { return b }
func (nopHash) Reset()                      {}
func (nopHash) Size() int                   { return 0 }
func (nopHash) BlockSize() int              { return 1 }
