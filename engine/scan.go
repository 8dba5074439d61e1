package engine

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/hotpipe/hotpipe/txframe"
)

// readBlock is how much of a segment is read at a time.
const readBlock = 1 << 20

// segScanner reads whole frames from one segment file up to limit, in large
// blocks, checking each frame's bounds and CRC. Frames it returns alias its
// buffer and stay valid until the scanner next reads from the file.
type segScanner struct {
	f     *os.File
	limit int64  // no byte at or past limit is read
	buf   []byte // buf[r:w] holds file bytes from offset base+r
	base  int64
	r, w  int
}

func newSegScanner(f *os.File, off, limit int64, buf []byte) *segScanner {
	if cap(buf) < readBlock {
		buf = getBlock()
	}
	return &segScanner{f: f, limit: limit, buf: buf[:cap(buf)], base: off}
}

// blocks recycles read buffers: a follower opens a reader for every few new
// frames, and a fresh 1 MiB buffer each time is mostly clearing and GC.
var blocks = sync.Pool{New: func() any { return make([]byte, readBlock) }}

func getBlock() []byte { return blocks.Get().([]byte) }

// putBlock recycles a buffer of the standard size; grown ones are dropped.
func putBlock(b []byte) {
	if cap(b) == readBlock {
		blocks.Put(b[:readBlock]) //nolint:staticcheck // a slice header is small next to 1 MiB
	}
}

// offset returns the file offset of the next unread byte.
func (s *segScanner) offset() int64 { return s.base + int64(s.r) }

// buffered returns the frame at the read position if it is wholly in the
// buffer, without reading the file. ok is false when more bytes are needed.
func (s *segScanner) buffered() (f []byte, h txframe.Header, ok bool, err error) {
	avail := s.buf[s.r:s.w]
	n, err := txframe.FrameLen(avail)
	if errors.Is(err, txframe.ErrIncomplete) || err == nil && len(avail) < n {
		return nil, h, false, nil
	}
	if err != nil {
		return nil, h, false, err
	}
	h, err = txframe.Peek(avail[:n])
	if err != nil {
		return nil, h, false, err
	}
	s.r += n
	return avail[:n], h, true, nil
}

// next returns the next frame and its header. It returns io.EOF when the read
// position is exactly at limit, and an error wrapping txframe.ErrIncomplete
// when limit cuts a frame short.
func (s *segScanner) next() ([]byte, txframe.Header, error) {
	for {
		f, h, ok, err := s.buffered()
		if ok || err != nil {
			return f, h, err
		}
		if err := s.fill(); err != nil {
			return nil, h, err
		}
	}
}

// skip passes over the frame at the read position when its length still
// reads and it fits before limit, so that a check can go on after a frame
// damaged inside; false when even that is lost.
func (s *segScanner) skip() bool {
	for {
		n, err := txframe.FrameLen(s.buf[s.r:s.w])
		switch {
		case err == nil && s.offset()+int64(n) > s.limit:
			return false
		case err == nil && s.r+n <= s.w:
			s.r += n
			return true
		case err != nil && !errors.Is(err, txframe.ErrIncomplete):
			return false
		}
		if s.fill() != nil {
			return false
		}
	}
}

// fill reads more of the file, first moving unread bytes to the front and
// growing the buffer if the pending frame is larger than it.
func (s *segScanner) fill() error {
	remaining := s.limit - s.offset()
	have := s.w - s.r
	if int64(have) >= remaining {
		if have == 0 {
			return io.EOF
		}
		return fmt.Errorf("%w: %d bytes before the end of the file", txframe.ErrIncomplete, have)
	}
	need := readBlock
	if n, err := txframe.FrameLen(s.buf[s.r:s.w]); err == nil && n > need {
		need = n // bounded by MaxFrameLen, and by remaining below
	}
	if int64(need) > remaining {
		need = int(remaining)
	}
	if need > cap(s.buf) {
		grown := make([]byte, need)
		copy(grown, s.buf[s.r:s.w])
		s.buf = grown
	} else {
		copy(s.buf, s.buf[s.r:s.w])
	}
	s.base += int64(s.r)
	s.r, s.w = 0, have
	want := min(int64(len(s.buf)), remaining)
	n, err := s.f.ReadAt(s.buf[s.w:want], s.base+int64(s.w))
	s.w += n
	if n > 0 {
		return nil
	}
	if err == io.EOF {
		return fmt.Errorf("%w: file ends at %d, before %d", txframe.ErrIncomplete, s.base+int64(s.w), s.limit)
	}
	return err
}
