package stream

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
)

// xzBlockHeader is what a block header says.
type xzBlockHeader struct {
	size             int64  // of the header itself
	dict             uint64 // dictionary size its LZMA2 filter needs
	packed, unpacked int64  // declared sizes, -1 when absent
}

// xzLZMA2 is the LZMA2 filter id; this reader, like the library under it,
// decodes blocks whose only filter is LZMA2.
const xzLZMA2 = 0x21

// parseXZBlockHeader parses a whole block header, CRC32 included:
//
//	size byte, flags, [compressed size], [uncompressed size],
//	filter flags (id, property size, properties), zero padding, CRC32
//
// The LZMA2 property byte p (p <= 40) names the dictionary:
// (2 | p&1) << (p/2 + 11) bytes, and 40 means 4 GiB - 1.
func parseXZBlockHeader(bh []byte) (xzBlockHeader, error) {
	h := xzBlockHeader{size: int64(len(bh)), packed: -1, unpacked: -1}
	n := len(bh) - 4
	if n < 2 || binary.LittleEndian.Uint32(bh[n:]) != crc32.ChecksumIEEE(bh[:n]) {
		return h, errors.New("bad CRC32")
	}
	flags := bh[1]
	if flags&0x3f != 0 { // one filter (count - 1 = 0), reserved bits zero
		return h, fmt.Errorf("flags %#02x: only a single LZMA2 filter is supported", flags)
	}
	r := bytes.NewReader(bh[2:n])
	var err error
	if flags&0x40 != 0 {
		h.packed, err = xzSize(r)
	}
	if err == nil && flags&0x80 != 0 {
		h.unpacked, err = xzSize(r)
	}
	if err != nil {
		return h, err
	}
	var filter [3]byte
	if _, err := io.ReadFull(r, filter[:]); err != nil || filter[0] != xzLZMA2 || filter[1] != 1 {
		return h, fmt.Errorf("filter % x: only a single LZMA2 filter is supported", filter)
	}
	if h.dict, err = xzDict(filter[2]); err != nil {
		return h, err
	}
	rest := bh[2+int(r.Size())-r.Len() : n]
	if !zero(rest) {
		return h, errors.New("non-zero header padding")
	}
	return h, nil
}

// xzDict decodes an LZMA2 dictionary size property.
func xzDict(p byte) (uint64, error) {
	switch {
	case p > 40:
		return 0, fmt.Errorf("bad LZMA2 dictionary size property %d", p)
	case p == 40:
		return 1<<32 - 1, nil
	}
	return uint64(2|p&1) << (p/2 + 11), nil
}

// xzSize reads a declared block size: a varint, at least 1.
func xzSize(r io.ByteReader) (int64, error) {
	v, err := xzVarint(r)
	if err == nil && (v == 0 || v >= 1<<62) {
		err = fmt.Errorf("block size %d out of range", v)
	}
	return int64(v), err
}

// xzVarint reads an xz multibyte integer: 7 bits a byte, low first, at
// most 9 bytes, no needless zero byte at the end.
func xzVarint(r io.ByteReader) (uint64, error) {
	var v uint64
	for i := 0; i < 9; i++ {
		b, err := r.ReadByte()
		if err != nil {
			return 0, err
		}
		if i > 0 && b == 0 {
			return 0, errors.New("badly encoded integer")
		}
		v |= uint64(b&0x7f) << (7 * i)
		if b&0x80 == 0 {
			return v, nil
		}
	}
	return 0, errors.New("integer longer than 9 bytes")
}

// nextStream skips stream padding and reads the next stream header. It
// returns io.EOF where the input ends between streams.
func (x *xzReader) nextStream() error {
	var b [12]byte
	for {
		n, err := io.ReadFull(x.src, b[:4])
		if n == 0 && err == io.EOF && x.streams > 0 {
			return io.EOF
		}
		if err != nil {
			return x.cut(err, "stream padding or a stream header")
		}
		if x.streams == 0 || !zero(b[:4]) {
			break
		}
	}
	at := x.src.n - 4
	if _, err := io.ReadFull(x.src, b[4:]); err != nil {
		return x.cut(err, "a stream header")
	}
	check, err := parseXZStreamHeader(b[:])
	if err != nil {
		return fmt.Errorf("%w: xz: stream header at offset %d of the compressed input: %v", ErrFormat, at, err)
	}
	x.streams++
	x.flags, x.check, x.blocks, x.inIndex = [2]byte(b[6:8]), check, 0, false
	x.records = sha256.New()
	return nil
}

// parseXZStreamHeader checks a stream header (magic, flags, CRC32 of the
// flags) and returns the size of its check.
func parseXZStreamHeader(b []byte) (int, error) {
	if !bytes.Equal(b[:6], xzStreamMagic) {
		return 0, fmt.Errorf("bytes % x are not an xz stream header", b[:6])
	}
	if binary.LittleEndian.Uint32(b[8:]) != crc32.ChecksumIEEE(b[6:8]) {
		return 0, errors.New("bad CRC32")
	}
	if b[6] != 0 || b[7]&0xf0 != 0 {
		return 0, fmt.Errorf("unsupported stream flags % x", b[6:8])
	}
	switch b[7] {
	case 0x00:
		return 0, nil
	case 0x01:
		return 4, nil // CRC32
	case 0x04:
		return 8, nil // CRC64
	case 0x0a:
		return 32, nil // SHA-256
	}
	return 0, fmt.Errorf("unsupported check type %#x", b[7])
}

// readIndex reads the index whose indicator byte was at offset at, checks
// that it lists the blocks read, then reads the stream footer.
func (x *xzReader) readIndex(at int64) error {
	crc := crc32.NewIEEE()
	crc.Write([]byte{0})
	r := &crcByteReader{r: x.src, crc: crc}
	count, err := xzVarint(r)
	if err != nil {
		return x.indexErr(err, at)
	}
	if count != uint64(x.blocks) {
		return fmt.Errorf("%w: xz: the index at offset %d lists %d blocks, the stream has %d", ErrFormat, at, count, x.blocks)
	}
	listed := sha256.New()
	for range x.blocks * 2 {
		v, err := xzVarint(r)
		if err != nil {
			return x.indexErr(err, at)
		}
		listed.Write(binary.LittleEndian.AppendUint64(nil, v))
	}
	if !bytes.Equal(listed.Sum(nil), x.records.Sum(nil)) {
		return fmt.Errorf("%w: xz: the index at offset %d does not list the blocks' sizes", ErrFormat, at)
	}
	return x.indexEnd(at, crc.Sum32(), x.src.n-at)
}

// indexEnd reads the index padding and CRC32, and the stream footer.
func (x *xzReader) indexEnd(at int64, sum uint32, n int64) error {
	var b [3 + 4 + 12]byte
	pad := int(-n & 3)
	t := b[:pad+16]
	if _, err := io.ReadFull(x.src, t); err != nil {
		return x.cut(err, "an index or stream footer")
	}
	sum = crc32.Update(sum, crc32.IEEETable, t[:pad])
	size := n + int64(pad) + 4
	f := t[pad+4:]
	switch {
	case !zero(t[:pad]) || binary.LittleEndian.Uint32(t[pad:]) != sum:
		return fmt.Errorf("%w: xz: the index at offset %d: bad padding or CRC32", ErrFormat, at)
	case binary.LittleEndian.Uint32(f) != crc32.ChecksumIEEE(f[4:10]) || !bytes.Equal(f[10:], xzFooterMagic):
		return fmt.Errorf("%w: xz: bad stream footer at offset %d", ErrFormat, at+size)
	case int64(binary.LittleEndian.Uint32(f[4:]))*4+4 != size || [2]byte(f[8:10]) != x.flags:
		return fmt.Errorf("%w: xz: the stream footer at offset %d disagrees with its index or header", ErrFormat, at+size)
	}
	return nil
}

func (x *xzReader) indexErr(err error, at int64) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return x.cut(err, "an index")
	}
	return fmt.Errorf("%w: xz: the index at offset %d: %v", ErrFormat, at, err)
}

// crcByteReader reads bytes and adds them to a CRC.
type crcByteReader struct {
	r   io.ByteReader
	crc io.Writer
	b   [1]byte
}

func (c *crcByteReader) ReadByte() (byte, error) {
	b, err := c.r.ReadByte()
	if err == nil {
		c.b[0] = b
		c.crc.Write(c.b[:])
	}
	return b, err
}
