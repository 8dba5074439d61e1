package stream

import (
	"bufio"
	"bytes"
	"compress/bzip2"
	"compress/gzip"
	"errors"
	"fmt"
	"io"

	"github.com/klauspost/compress/zstd"

	"github.com/hotpipe/hotpipe/txframe"
)

// Input is one named source of stream bytes, read in order with the others.
type Input struct {
	Name string // file path, or "stdin"
	R    io.Reader
}

// DefaultXZDictMax bounds the dictionary an xz input may ask the decoder to
// allocate: 64 MiB is what `xz -9` uses.
const DefaultXZDictMax = 64 << 20

// readBlock is the buffer a reader starts with; it grows only to hold a
// frame larger than it, and never past txframe.MaxFrameLen.
const readBlock = 1 << 20

var (
	gzipMagic  = []byte{0x1f, 0x8b}
	bzip2Magic = []byte{'B', 'Z', 'h'}
	zstdMagic  = []byte{0x28, 0xb5, 0x2f, 0xfd}
	lz4Magic   = []byte{0x04, 0x22, 0x4d, 0x18}
)

// decompress detects the input's compression by its magic bytes and returns
// a reader of the stream bytes.
func decompress(r io.Reader, xzDictMax int) (io.Reader, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	head, err := br.Peek(32)
	if err != nil && err != io.EOF && !errors.Is(err, bufio.ErrBufferFull) {
		return nil, err
	}
	switch {
	case bytes.HasPrefix(head, xzStreamMagic):
		zr, err := newXZReader(br, xzDictMax)
		if err != nil {
			return nil, err
		}
		return zr, nil
	case bytes.HasPrefix(head, gzipMagic):
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("%w: gzip: %v", ErrFormat, err)
		}
		return zr, nil
	case bytes.HasPrefix(head, bzip2Magic) && len(head) > 3 && head[3] >= '1' && head[3] <= '9':
		return bzip2.NewReader(br), nil
	case bytes.HasPrefix(head, zstdMagic):
		return newZstdReader(br, xzDictMax)
	case bytes.HasPrefix(head, lz4Magic):
		return nil, fmt.Errorf("%w: lz4 input is not read; decompress it first (lz4 -dc)", ErrFormat)
	}
	return br, nil
}

// newZstdReader decodes zstd input in this goroutine, with a window of at
// most maxWindow bytes (a frame asking for more is refused before anything
// is allocated for it): the same bound as an xz dictionary's.
func newZstdReader(r io.Reader, maxWindow int) (io.Reader, error) {
	d, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true),
		zstd.WithDecoderMaxWindow(uint64(maxWindow)))
	if err != nil {
		return nil, fmt.Errorf("%w: zstd: %v", ErrFormat, err)
	}
	return &zstdReader{d: d}, nil
}

// zstdReader releases its decoder once the input ends or fails, and then
// returns how it ended.
type zstdReader struct {
	d   *zstd.Decoder
	err error
}

func (z *zstdReader) Read(p []byte) (int, error) {
	if z.err != nil {
		return 0, z.err
	}
	n, err := z.d.Read(p)
	if err != nil {
		z.d.Close()
		switch {
		case err == io.EOF:
			z.err = err
		case errors.Is(err, zstd.ErrWindowSizeExceeded): // the bound: not a stream of ours
			z.err = fmt.Errorf("%w: zstd: %w", ErrFormat, err)
		default:
			z.err = fmt.Errorf("zstd: %w", err)
		}
	}
	return n, z.err
}

// input buffers one decompressed input. buf[r:w] holds the bytes at offset
// off onwards.
type input struct {
	name string
	src  io.Reader
	buf  []byte
	r, w int
	off  int64
	eof  bool
	err  error

	// read ahead (Options.ReadAhead): the block buf is, and the hints for
	// its frames from hints[hi] on
	ra    *readAhead
	blk   *scanned
	hints []hint
	hi    int
}

func newInput(name string, src io.Reader, buf []byte) *input {
	if cap(buf) < readBlock {
		buf = make([]byte, readBlock)
	}
	return &input{name: name, src: src, buf: buf[:cap(buf)]}
}

func (in *input) buffered() []byte { return in.buf[in.r:in.w] }

func (in *input) consume(n int) {
	in.r += n
	in.off += int64(n)
}

// fill reads until at least n bytes are buffered or the input ends. n is at
// most txframe.MaxFrameLen. It reports whether n bytes are there.
func (in *input) fill(n int) (bool, error) {
	if n > txframe.MaxFrameLen {
		n = txframe.MaxFrameLen
	}
	if in.ra != nil {
		return in.fillReadAhead(n)
	}
	for in.w-in.r < n {
		if in.eof {
			return false, in.err
		}
		in.makeRoom(n)
		m, err := in.src.Read(in.buf[in.w:])
		in.w += m
		if err == io.EOF {
			in.eof = true
		} else if err != nil {
			in.eof, in.err = true, err
		}
	}
	return true, nil
}

// makeRoom makes room to read towards n buffered bytes: it moves unread
// bytes to the front, and grows the buffer only when they fill it, at most
// doubling it, so that a length claimed by a frame header reserves memory
// only as the bytes arrive.
func (in *input) makeRoom(n int) {
	if in.w < len(in.buf) && (in.r+n <= len(in.buf) || in.r == 0) {
		return
	}
	have := in.w - in.r
	if in.r == 0 { // full, and n > len(in.buf)
		grown := make([]byte, min(n, 2*len(in.buf)))
		copy(grown, in.buf[:have])
		in.buf = grown
	} else {
		copy(in.buf, in.buf[in.r:in.w])
	}
	in.r, in.w = 0, have
}
