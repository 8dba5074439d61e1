package stream

import (
	"fmt"
	"io"

	"github.com/hotpipe/hotpipe/txframe"
)

// Writer writes one segment: its header, blocks of frames, and on Close its
// end record. Frames are written as given; the caller has checked them.
type Writer struct {
	w        io.Writer
	hdr      Header
	end      End
	lastTime int64
	closed   bool
	buf      []byte
}

// NewWriter writes h and returns a Writer for the segment's frames.
func NewWriter(w io.Writer, h Header) (*Writer, error) {
	b, err := AppendHeader(nil, &h)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(b); err != nil {
		return nil, err
	}
	return resume(w, h, 0, h.BaseHash, HeaderSize), nil
}

// ResumeWriter continues a segment whose header and first frames (up to LSN
// last, h(last), length bytes in all) are already written: a backup file
// repaired after an interruption.
func ResumeWriter(w io.Writer, h Header, last uint64, lastHash txframe.Hash, length int64) *Writer {
	return resume(w, h, last-h.Base, lastHash, uint64(length))
}

func resume(w io.Writer, h Header, frames uint64, lastHash txframe.Hash, length uint64) *Writer {
	return &Writer{w: w, hdr: h, end: End{Frames: frames, First: h.Base + 1, Last: h.Base + frames, LastHash: lastHash, Length: length}}
}

// WriteFrames writes a block of whole frames continuing the segment.
func (w *Writer) WriteFrames(block []byte) error {
	if w.closed {
		return fmt.Errorf("stream: write after Close")
	}
	end, lastTime, err := w.scan(block)
	if err != nil {
		return err
	}
	if _, err := w.w.Write(block); err != nil {
		return err
	}
	w.end, w.lastTime = end, lastTime
	return nil
}

// LastTime returns the commit time of the last frame written, or 0.
func (w *Writer) LastTime() int64 { return w.lastTime }

// scan checks that block continues the segment's LSNs and returns the end
// record the segment would have after it, and its last commit time.
func (w *Writer) scan(block []byte) (End, int64, error) {
	end, lastTime := w.end, w.lastTime
	p := 0
	for f := range txframe.Frames(block) {
		lsn, t := txframe.Fields(f)
		if lsn != end.Last+1 {
			return w.end, 0, fmt.Errorf("stream: %w: writing LSN %d after %d", ErrGap, lsn, end.Last)
		}
		end.Last++
		end.Frames++
		end.LastHash = txframe.StoredHash(f)
		lastTime = t
		p += len(f)
	}
	if p < len(block) {
		return w.end, 0, fmt.Errorf("stream: block holds a partial frame at byte %d", p)
	}
	end.Length += uint64(len(block))
	return end, lastTime, nil
}

// End returns what the end record would say now.
func (w *Writer) End() End { return w.end }

// Close writes the end record. It does not close the underlying writer.
func (w *Writer) Close() error {
	if w.closed {
		return nil
	}
	w.closed = true
	w.buf = AppendEnd(w.buf[:0], &w.end)
	_, err := w.w.Write(w.buf)
	return err
}
