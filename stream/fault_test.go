package stream_test

import (
	"bytes"
	"errors"
	"syscall"
	"testing"

	"github.com/hotpipe/hotpipe/stream"
)

// fullDisk accepts budget bytes, then stores what fits of the next write
// and fails it with err, as a file on a filling disk does.
type fullDisk struct {
	bytes.Buffer
	budget int
	err    error
}

func (d *fullDisk) Write(p []byte) (int, error) {
	if len(p) <= d.budget {
		d.budget -= len(p)
		return d.Buffer.Write(p)
	}
	n, _ := d.Buffer.Write(p[:d.budget])
	d.budget = 0
	return n, d.err
}

// TestWriterFaults fails the backup's output at every point of a segment,
// with ENOSPC and EIO: the error is the cause; End() never counts a frame
// whose write failed; and what reached the output is a prefix of the
// segment from which ReadTail finds the last whole frame, so hot-backup
// --append can resume it. A prefix too short to hold the header's fixed
// fields (magic, version, length) does not show that it is hotpipe's, and
// is refused rather than removed (issue 10, item 11).
func TestWriterFaults(t *testing.T) {
	h := newHistory(t, 6, 50)
	hdr := h.header(0)
	end := h.end(0, 6)
	full := raw(t, hdr, end, h.block(1, 2), h.block(3, 6))
	fl := frameLen(h.valueSize)
	for _, cause := range []error{syscall.ENOSPC, syscall.EIO} {
		for budget := 0; budget < len(full); budget++ {
			d := &fullDisk{budget: budget, err: cause}
			counted, err := writeSegment(d, h)
			if !errors.Is(err, cause) {
				t.Fatalf("%v after %d bytes: err = %v, want the cause", cause, budget, err)
			}
			got := d.Bytes()
			if !bytes.Equal(got, full[:len(got)]) {
				t.Fatalf("%v after %d bytes: the output is not a prefix of the segment", cause, budget)
			}
			if counted > 0 && int64(len(got)) < hdrLen+int64(counted)*fl {
				t.Fatalf("%v after %d bytes: End() counts %d frames, only %d bytes were written", cause, budget, counted, len(got))
			}
			if len(got) < fixedLen { // too few to show they are a header's: not provably an interrupted backup
				if _, err := stream.ReadTail(bytes.NewReader(got), int64(len(got)), "backup"); len(got) > 0 && !errors.Is(err, stream.ErrFormat) {
					t.Fatalf("%v after %d bytes: ReadTail: %v; want the file refused (ErrFormat)", cause, budget, err)
				}
				continue
			}
			if len(got) < hdrLen {
				tail, err := stream.ReadTail(bytes.NewReader(got), int64(len(got)), "backup")
				if err != nil || tail.Keep != 0 || tail.Torn != int64(len(got)) {
					t.Fatalf("%v after %d bytes: %d bytes that --append cannot start again: %+v, %v", cause, budget, len(got), tail, err)
				}
				continue // hot-backup --append empties a torn header and starts again
			}
			tail, err := stream.ReadTail(bytes.NewReader(got), int64(len(got)), "backup")
			if err != nil {
				t.Fatalf("%v after %d bytes: ReadTail: %v", cause, budget, err)
			}
			if whole := hdrLen + (int64(len(got))-hdrLen)/fl*fl; tail.Keep != min(whole, hdrLen+6*fl) {
				t.Fatalf("%v after %d bytes: ReadTail keeps %d, want %d", cause, budget, tail.Keep, whole)
			}
		}
	}
}

// writeSegment writes h's frames 1..6 as one segment in two blocks and
// returns how many frames End() counted when writing failed.
func writeSegment(d *fullDisk, h *history) (uint64, error) {
	w, err := stream.NewWriter(d, h.header(0))
	if err != nil {
		return 0, err
	}
	for _, r := range [][2]uint64{{1, 2}, {3, 6}} {
		if err := w.WriteFrames(h.block(r[0], r[1])); err != nil {
			return w.End().Frames, err
		}
	}
	return w.End().Frames, w.Close()
}
