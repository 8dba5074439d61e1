package stream_test

import (
	"errors"
	"io"
	"testing"

	"github.com/hotpipe/hotpipe/stream"
)

// TestReaderRefusesUntiedSegments: a segment that overlaps the stream and
// ends before where the stream is (T) is accepted only when its last LSN
// is a boundary the reader has seen, with the same hash (FORMAT.md,
// "Segments read as one stream"). A segment with no frames ends at its
// own base, so its base must be such a boundary: a header's base hash is
// not a known hash until something ties it to the stream's history.
func TestReaderRefusesUntiedSegments(t *testing.T) {
	h := newHistory(t, 20, 50)
	foreign := h.header(5)
	foreign.BaseHash[0] ^= 1
	emptyForeign := raw(t, foreign, stream.End{First: 6, Last: 5, LastHash: foreign.BaseHash, Length: hdrLen})
	s1 := h.at(0, 0, 10)
	refused := &wantErr{stream.ErrHistory, "in0", s1.then(5, 5).end(), 5}
	for _, c := range []readerCase{
		{name: "no frames, foreign base hash inside the stream", inputs: [][]byte{cat(h.segment(t, 0, 10), emptyForeign)},
			first: 1, last: 10, bases: []uint64{0, 5}, err: refused},
		{name: "no frames, foreign base hash, in its own input", inputs: [][]byte{h.segment(t, 0, 10), emptyForeign},
			first: 1, last: 10, bases: []uint64{0, 5}, err: &wantErr{stream.ErrHistory, "in1", hdrLen, 5}},
		{name: "no frames, the stream's own hash at an LSN that is no boundary", inputs: [][]byte{cat(h.segment(t, 0, 10), h.segment(t, 5, 5))},
			first: 1, last: 10, bases: []uint64{0, 5}, err: refused},
		{name: "no frames, at a boundary seen, same hash", inputs: [][]byte{cat(h.segment(t, 0, 5), h.segment(t, 5, 10), h.segment(t, 5, 5))},
			first: 1, last: 10, bases: []uint64{0, 5, 5}},
		{name: "no frames, at the stream's end, same hash", inputs: [][]byte{cat(h.segment(t, 0, 10), h.segment(t, 10, 10))},
			first: 1, last: 10, bases: []uint64{0, 10}},
		{name: "no frames, foreign base hash at the stream's end", inputs: [][]byte{cat(h.segment(t, 0, 5), emptyForeign)},
			first: 1, last: 5, bases: []uint64{0}, err: &wantErr{stream.ErrHistory, "in0", h.at(0, 0, 5).next(), 5}},
		{name: "overlap tied by the frame at T, then a segment from its base",
			inputs: [][]byte{cat(h.segment(t, 0, 10), h.segment(t, 5, 15), h.segment(t, 5, 20))}, first: 1, last: 20, bases: []uint64{0, 5, 5}},
	} {
		t.Run(c.name, func(t *testing.T) { runReaderCase(t, h, c) })
	}
}

// TestUntiedSegmentDoesNotPoisonLaterJoins: a checker that goes on after
// the refused segment (verify) still accepts a later segment that joins
// the real history at the LSN the refused one claimed.
func TestUntiedSegmentDoesNotPoisonLaterJoins(t *testing.T) {
	h := newHistory(t, 20, 50)
	foreign := h.header(5)
	foreign.BaseHash[0] ^= 1
	emptyForeign := raw(t, foreign, stream.End{First: 6, Last: 5, LastHash: foreign.BaseHash, Length: hdrLen})
	r := stream.NewReader(inputs(h.segment(t, 0, 10), emptyForeign, h.segment(t, 5, 20)), stream.Options{KeepGoing: true})
	var problems []error
	var last uint64
	for {
		ev, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			problems = append(problems, err)
			r.Resync()
			continue
		}
		if ev.Kind == stream.KindFrames {
			last = ev.Last
		}
	}
	se, ok := errors.AsType[*stream.Error](errors.Join(problems...))
	if len(problems) != 1 || !errors.Is(problems[0], stream.ErrHistory) || !ok || se.Source != "in1" {
		t.Fatalf("problems %v; want one history error, in in1, the segment with the foreign hash", problems)
	}
	if last != 20 {
		t.Errorf("read up to LSN %d; want 20: the segment after the refused one joins", last)
	}
}
