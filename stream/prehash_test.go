package stream_test

import (
	"errors"
	"testing"

	"github.com/hotpipe/hotpipe/stream"
	"github.com/hotpipe/hotpipe/txframe"
)

// TestParallelHashingStillCatchesATamperedFrame reads runs of frames large
// enough to be hashed in parallel: a clean stream reads whole, and a body
// changed under a recomputed CRC is still a chain error at its own LSN and
// offset, with the frames before it delivered.
func TestParallelHashingStillCatchesATamperedFrame(t *testing.T) {
	h := newHistory(t, 800, 1000) // ~830 KiB: above the parallel threshold
	clean := h.segment(t, 0, 800)
	opts := stream.Options{ParallelHash: true}
	res := readAll(t, inputs(clean), opts)
	if res.err != nil || res.last != 800 {
		t.Fatalf("clean read: last %d, %v", res.last, res.err)
	}
	s := h.at(0, 0, 800)
	off := s.frame(437)
	bad := edit(clean, func(c []byte) {
		f := c[off : off+frameLen(1000)]
		f[100] ^= 1
		copy(f, reseal(f))
	})
	res = readAll(t, inputs(bad), opts)
	var se *stream.Error
	if !errors.Is(res.err, txframe.ErrChain) || !errors.As(res.err, &se) || se.LSN != 437 || se.Offset != off {
		t.Fatalf("tampered read = %v; want a chain error at LSN 437, offset %d", res.err, off)
	}
	if res.last != 436 {
		t.Fatalf("delivered up to LSN %d before the damage; want 436", res.last)
	}
}
