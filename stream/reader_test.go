package stream_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"testing"
	"testing/iotest"

	"github.com/hotpipe/hotpipe/stream"
	"github.com/hotpipe/hotpipe/txframe"
)

type readerCase struct {
	name        string
	inputs      [][]byte
	first, last uint64   // LSNs of the frames yielded before the stream ended or failed
	bases       []uint64 // the headers read, by base
	err         *wantErr
	also        error             // a second sentinel the error wraps, more precise than err's
	gap         *txframe.GapError // the LSNs a gap between segments names as missing
}

func TestReader(t *testing.T) {
	h := newHistory(t, 40, 100)
	other := h.fork(t, 5) // agrees with h through LSN 5
	early := h.fork(t, 3) // agrees with h through LSN 3
	s1 := h.at(0, 0, 10)  // the first segment of most cases
	seg1 := h.segment(t, 0, 10)
	cases := []readerCase{
		{name: "one segment", inputs: [][]byte{seg1}, first: 1, last: 10, bases: []uint64{0}},
		{name: "segment without frames", inputs: [][]byte{h.segment(t, 0, 0)}, bases: []uint64{0}},
		{name: "segment without frames between two others",
			inputs: [][]byte{cat(h.segment(t, 0, 5), h.segment(t, 5, 5), h.segment(t, 5, 10))}, first: 1, last: 10, bases: []uint64{0, 5, 5}},
		{name: "increment that starts after LSN 0", inputs: [][]byte{h.segment(t, 20, 30)}, first: 21, last: 30, bases: []uint64{20}},
		{name: "segments concatenated in one input",
			inputs: [][]byte{cat(seg1, h.segment(t, 10, 20), h.segment(t, 20, 30))}, first: 1, last: 30, bases: []uint64{0, 10, 20}},
		{name: "segments split over inputs",
			inputs: [][]byte{seg1, h.segment(t, 10, 20), h.segment(t, 20, 30)}, first: 1, last: 30, bases: []uint64{0, 10, 20}},
		{name: "base equal to the previous end joins", inputs: [][]byte{cat(seg1, h.segment(t, 10, 11))}, first: 1, last: 11, bases: []uint64{0, 10}},
		{name: "overlap with the same history yields only new frames",
			inputs: [][]byte{cat(seg1, h.segment(t, 5, 15))}, first: 1, last: 15, bases: []uint64{0, 5}},
		{name: "overlap from LSN 0 over two inputs", inputs: [][]byte{seg1, h.segment(t, 0, 20)}, first: 1, last: 20, bases: []uint64{0, 0}},
		{name: "overlap inside what came before, ending at a known boundary, yields nothing",
			inputs: [][]byte{cat(h.segment(t, 0, 5), h.segment(t, 5, 10), h.segment(t, 3, 5))}, first: 1, last: 10, bases: []uint64{0, 5, 3}},
		{name: "overlap inside what came before, with no hash to check it against",
			inputs: [][]byte{cat(seg1, h.segment(t, 3, 8))}, first: 1, last: 10, bases: []uint64{0, 3},
			err: &wantErr{stream.ErrHistory, "in0", s1.then(3, 8).end(), 8}}, // message: testdata/scripts/chains.txtar
		{name: "overlap whose hash differs at the junction",
			inputs: [][]byte{cat(seg1, other.segment(t, 5, 15))}, first: 1, last: 10, bases: []uint64{0, 5},
			err: &wantErr{stream.ErrHistory, "in0", s1.then(5, 15).frame(10), 10}},
		{name: "overlap whose base hash differs at a known boundary",
			inputs: [][]byte{cat(h.segment(t, 0, 5), h.segment(t, 5, 10), early.segment(t, 5, 12))}, first: 1, last: 10, bases: []uint64{0, 5},
			err: &wantErr{stream.ErrHistory, "in0", h.at(0, 0, 5).then(5, 10).next(), 5}},
		{name: "join whose base hash differs", inputs: [][]byte{cat(seg1, other.segment(t, 10, 15))}, first: 1, last: 10, bases: []uint64{0},
			err: &wantErr{stream.ErrHistory, "in0", s1.next(), 10}},
		{name: "gap between segments", inputs: [][]byte{cat(seg1, h.segment(t, 15, 20))}, first: 1, last: 10, bases: []uint64{0},
			err: &wantErr{stream.ErrGap, "in0", s1.next(), 15}, gap: &txframe.GapError{From: 11, To: 15}},
		{name: "gap between inputs", inputs: [][]byte{seg1, h.segment(t, 12, 20)}, first: 1, last: 10, bases: []uint64{0},
			err: &wantErr{stream.ErrGap, "in1", 0, 12}, gap: &txframe.GapError{From: 11, To: 12}},
		{name: "gap inside a segment", inputs: [][]byte{raw(t, h.header(0), h.end(0, 4), h.frames[0], h.frames[1], h.frames[3])},
			first: 1, last: 2, bases: []uint64{0}, err: &wantErr{stream.ErrGap, "in0", s1.frame(3), 3}},
		{name: "frames out of order inside a segment", inputs: [][]byte{raw(t, h.header(0), h.end(0, 3), h.frames[0], h.frames[2], h.frames[1])},
			first: 1, last: 1, bases: []uint64{0}, err: &wantErr{stream.ErrGap, "in0", s1.frame(2), 2}},
		{name: "frame edited with its CRC recomputed", inputs: [][]byte{editFrame(seg1, s1, 3, true)},
			first: 1, last: 2, bases: []uint64{0}, err: &wantErr{txframe.ErrChain, "in0", s1.frame(3), 3}},
		{name: "flipped byte in a frame", inputs: [][]byte{editFrame(seg1, s1, 3, false)},
			first: 1, last: 2, bases: []uint64{0}, err: &wantErr{txframe.ErrChecksum, "in0", s1.frame(3), 3}},
		{name: "commit time earlier than the previous frame's", inputs: [][]byte{raw(t, h.header(0), h.end(0, 3), h.block(1, 2), earlier(t, h, 3))},
			first: 1, last: 2, bases: []uint64{0}, err: &wantErr{txframe.ErrMalformed, "in0", s1.frame(3), 3}},
		{name: "frame with an unknown op and its CRC recomputed", inputs: [][]byte{edit(seg1, func(b []byte) {
			f := b[s1.frame(3) : s1.frame(3)+s1.fl]
			f[28] = 3 // the first entry's op
			reseal(f)
		})}, first: 1, last: 2, bases: []uint64{0}, err: &wantErr{txframe.ErrMalformed, "in0", s1.frame(3), 3}},
		{name: "frame length over the maximum", inputs: [][]byte{edit(seg1, func(b []byte) { binary.LittleEndian.PutUint32(b[s1.frame(1)+4:], 0xffffffff) })},
			bases: []uint64{0}, err: &wantErr{txframe.ErrTooLarge, "in0", s1.frame(1), 1}},
		{name: "neither frame nor end record inside a segment", inputs: [][]byte{edit(seg1, func(b []byte) { copy(b[s1.frame(3):], "XXXX") })},
			first: 1, last: 2, bases: []uint64{0}, err: &wantErr{stream.ErrFormat, "in0", s1.frame(3), 3}},
		{name: "flipped byte in the first header", inputs: [][]byte{flip(seg1, 100)},
			err: &wantErr{stream.ErrChecksum, "in0", 0, 0}},
		{name: "flipped byte in a later header", inputs: [][]byte{cat(seg1, flip(h.segment(t, 10, 20), 50))}, first: 1, last: 10, bases: []uint64{0},
			err: &wantErr{stream.ErrChecksum, "in0", s1.next(), 11}},
		{name: "flipped byte in an end record", inputs: [][]byte{flip(seg1, s1.end()+30)}, first: 1, last: 10, bases: []uint64{0},
			err: &wantErr{stream.ErrChecksum, "in0", s1.end(), 11}},
	}
	cases = append(cases, endRecordCases(t, h)...)
	cases = append(cases, cutCases(t, h)...)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { runReaderCase(t, h, c) })
	}
}

// endRecordCases are end records that disagree with their segment.
func endRecordCases(t *testing.T, h *history) []readerCase {
	s := h.at(0, 0, 10)
	withEnd := func(fn func(e *stream.End)) []byte {
		e := h.end(0, 10)
		fn(&e)
		return raw(t, h.header(0), e, h.block(1, 10))
	}
	mismatch := &wantErr{stream.ErrEndMismatch, "in0", s.end(), 11}
	return []readerCase{
		{name: "end record with one frame too few", inputs: [][]byte{withEnd(func(e *stream.End) { e.Frames, e.Last = 9, 9 })},
			first: 1, last: 10, bases: []uint64{0}, err: mismatch},
		{name: "end record whose count disagrees with its LSNs", inputs: [][]byte{withEnd(func(e *stream.End) { e.Frames = 11 })},
			first: 1, last: 10, bases: []uint64{0}, err: mismatch},
		{name: "end record with another last hash", inputs: [][]byte{withEnd(func(e *stream.End) { e.LastHash = h.hash[9] })},
			first: 1, last: 10, bases: []uint64{0}, err: mismatch},
		{name: "end record with another length", inputs: [][]byte{withEnd(func(e *stream.End) { e.Length++ })},
			first: 1, last: 10, bases: []uint64{0}, err: mismatch},
	}
}

// cutCases are inputs that stop short, and inputs that are not streams.
func cutCases(t *testing.T, h *history) []readerCase {
	s := h.at(0, 0, 10)
	seg1, seg2 := h.segment(t, 0, 10), h.segment(t, 10, 20)
	zstdCut := []byte{0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x58, 0x61, 0x00}
	lz4 := []byte{0x04, 0x22, 0x4d, 0x18, 0x64, 0x40, 0xa7}
	return []readerCase{
		{name: "no end record", inputs: [][]byte{h.open(t, 0, 10)}, first: 1, last: 10, bases: []uint64{0},
			err: &wantErr{stream.ErrTruncated, "in0", s.end(), 11}},
		{name: "cut inside the first header", inputs: [][]byte{seg1[:70]}, err: &wantErr{stream.ErrTruncated, "in0", 0, 0}},
		{name: "cut inside a later header", inputs: [][]byte{cat(seg1, seg2[:hdrLen-1])}, first: 1, last: 10, bases: []uint64{0},
			err: &wantErr{stream.ErrTruncated, "in0", s.next(), 11}},
		{name: "cut inside a frame's first 8 bytes", inputs: [][]byte{seg1[:s.frame(5)+6]}, first: 1, last: 4, bases: []uint64{0},
			err: &wantErr{stream.ErrTruncated, "in0", s.frame(5), 5}},
		{name: "cut inside a frame", inputs: [][]byte{seg1[:s.frame(5)+100]}, first: 1, last: 4, bases: []uint64{0},
			err: &wantErr{stream.ErrTruncated, "in0", s.frame(5), 5}},
		{name: "cut inside an end record", inputs: [][]byte{seg1[:s.end()+40]}, first: 1, last: 10, bases: []uint64{0},
			err: &wantErr{stream.ErrTruncated, "in0", s.end(), 11}},
		{name: "cut after an end record's magic", inputs: [][]byte{seg1[:s.end()+4]}, first: 1, last: 10, bases: []uint64{0},
			err: &wantErr{stream.ErrTruncated, "in0", s.end(), 11}},
		{name: "segment cut at the end of one input, continued in the next", inputs: [][]byte{seg1[:s.frame(6)], seg1[s.frame(6):]},
			first: 1, last: 5, bases: []uint64{0}, err: &wantErr{stream.ErrTruncated, "in0", s.frame(6), 6}},
		{name: "no inputs", err: &wantErr{stream.ErrEmpty, "", 0, 0}},
		{name: "empty input", inputs: [][]byte{{}}, err: &wantErr{stream.ErrEmpty, "in0", 0, 0}},
		{name: "empty input after a segment", inputs: [][]byte{seg1, {}}, first: 1, last: 10, bases: []uint64{0},
			err: &wantErr{stream.ErrEmpty, "in1", 0, 0}},
		{name: "short text", inputs: [][]byte{[]byte("these are not the frames you are looking for\n")},
			err: &wantErr{stream.ErrFormat, "in0", 0, 0}},
		{name: "long text", inputs: [][]byte{bytes.Repeat([]byte("not a stream\n"), 100)},
			err: &wantErr{stream.ErrFormat, "in0", 0, 0}},
		{name: "short text after a segment", inputs: [][]byte{cat(seg1, []byte("trailing\n"))}, first: 1, last: 10, bases: []uint64{0},
			err: &wantErr{stream.ErrFormat, "in0", s.next(), 11}},
		{name: "long text after a segment", inputs: [][]byte{cat(seg1, bytes.Repeat([]byte("trailing\n"), 20))}, first: 1, last: 10, bases: []uint64{0},
			err: &wantErr{stream.ErrFormat, "in0", s.next(), 11}},
		{name: "zstd input cut short", inputs: [][]byte{zstdCut}, err: &wantErr{stream.ErrTruncated, "in0", 0, 0}},
		{name: "lz4 input", inputs: [][]byte{lz4}, err: &wantErr{stream.ErrFormat, "in0", 0, 0}},
	}
}

func runReaderCase(t *testing.T, h *history, c readerCase) {
	res := readAll(t, inputs(c.inputs...), stream.Options{})
	checkErr(t, res.err, c.err)
	if c.also != nil && !errors.Is(res.err, c.also) {
		t.Errorf("error %v does not wrap %v", res.err, c.also)
	}
	if ge, ok := errors.AsType[*txframe.GapError](res.err); c.gap != nil && (!ok || *ge != *c.gap) {
		t.Errorf("error %v is not a *txframe.GapError for LSNs %d..%d", res.err, c.gap.From, c.gap.To)
	}
	if res.first != c.first || res.last != c.last {
		t.Errorf("yielded LSNs %d..%d; want %d..%d", res.first, res.last, c.first, c.last)
	}
	if c.first != 0 && !bytes.Equal(res.frames, h.block(c.first, c.last)) {
		t.Errorf("the frames yielded are not the history's frames %d..%d", c.first, c.last)
	}
	if !slices.Equal(res.bases, c.bases) {
		t.Errorf("headers with bases %v; want %v", res.bases, c.bases)
	}
	if c.err == nil && len(res.ends) != len(c.bases) {
		t.Errorf("%d end records for %d headers", len(res.ends), len(c.bases))
	}
}

// editFrame changes one value byte of the frame of LSN lsn, recomputing
// the frame's CRC if resealed.
func editFrame(segment []byte, s seg, lsn uint64, resealed bool) []byte {
	return edit(segment, func(b []byte) {
		f := b[s.frame(lsn) : s.frame(lsn)+s.fl]
		f[len(f)-36-1] ^= 0x01 // the value's last byte, just before h(n)
		if resealed {
			reseal(f)
		}
	})
}

// earlier returns the frame of LSN lsn of h, committed one nanosecond
// before the frame of lsn-1 and chained from it.
func earlier(t *testing.T, h *history, lsn uint64) []byte {
	e := txframe.Entry{Op: txframe.OpPut, Key: fmt.Appendf(nil, "k%08d", lsn), Value: bytes.Repeat([]byte{'a'}, h.valueSize)}
	f, _, err := txframe.Append(nil, h.hash[lsn-1], lsn, t0+int64(lsn)-2, []txframe.Entry{e})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func flip(b []byte, off int64) []byte { return edit(b, func(c []byte) { c[off] ^= 0x40 }) }

// TestReaderEventOffsets checks where each event says it is: the header,
// the first new frame of a block, the end record, in each input.
func TestReaderEventOffsets(t *testing.T) {
	h := newHistory(t, 20, 100)
	s1 := h.at(0, 0, 10)
	s2 := s1.then(5, 20) // overlaps 6..10: its first new frame is 11
	r := stream.NewReader(inputs(cat(h.segment(t, 0, 10), h.segment(t, 5, 20))), stream.Options{})
	want := []struct {
		kind   stream.Kind
		offset int64
	}{
		{stream.KindHeader, s1.at}, {stream.KindFrames, s1.frame(1)}, {stream.KindEnd, s1.end()},
		{stream.KindHeader, s2.at}, {stream.KindFrames, s2.frame(11)}, {stream.KindEnd, s2.end()},
	}
	for i, w := range want {
		ev, err := r.Next()
		if err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		if ev.Kind != w.kind || ev.Offset != w.offset || ev.Source != "in0" {
			t.Errorf("event %d: kind %d at %s offset %d; want kind %d at in0 offset %d", i, ev.Kind, ev.Source, ev.Offset, w.kind, w.offset)
		}
		if ev.Kind == stream.KindEnd && ev.End != h.end(ev.Header.Base, 10+10*uint64(i/3)) {
			t.Errorf("event %d: end record %+v", i, ev.End)
		}
	}
	if _, err := r.Next(); err != io.EOF {
		t.Errorf("after the last segment: %v; want io.EOF", err)
	}
	if last, lh := r.Last(); last != 20 || lh != h.hash[20] {
		t.Errorf("Last() = %d, %s; want 20, %s", last, lh, h.hash[20])
	}
}

// TestReaderDecodesHeader checks that a header event carries every field
// the Writer was given.
func TestReaderDecodesHeader(t *testing.T) {
	h := newHistory(t, 3, 10)
	ev, err := stream.NewReader(inputs(h.segment(t, 1, 3)), stream.Options{}).Next()
	if err != nil {
		t.Fatal(err)
	}
	if ev.Kind != stream.KindHeader || ev.Header != h.header(1) {
		t.Errorf("header event %+v; want %+v", ev.Header, h.header(1))
	}
}

// TestReaderAwkwardSources reads the same stream from sources that return
// few bytes per Read, and with frames larger than the reader's buffer.
func TestReaderAwkwardSources(t *testing.T) {
	small := newHistory(t, 30, 100)
	big := newHistory(t, 3, 3<<20) // 3 MiB frames: larger than the 1 MiB read block
	for _, c := range []struct {
		name string
		h    *history
		wrap func(b []byte) *stream.Input
	}{
		{"one byte per read", small, func(b []byte) *stream.Input {
			return &stream.Input{Name: "in0", R: iotest.OneByteReader(bytes.NewReader(b))}
		}},
		{"half of each read", small, func(b []byte) *stream.Input {
			return &stream.Input{Name: "in0", R: iotest.HalfReader(bytes.NewReader(b))}
		}},
		{"EOF with the last data", small, func(b []byte) *stream.Input {
			return &stream.Input{Name: "in0", R: iotest.DataErrReader(bytes.NewReader(b))}
		}},
		{"frames larger than the read block", big, func(b []byte) *stream.Input { return &stream.Input{Name: "in0", R: bytes.NewReader(b)} }},
		{"large frames, half of each read", big, func(b []byte) *stream.Input {
			return &stream.Input{Name: "in0", R: iotest.HalfReader(bytes.NewReader(b))}
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			n := uint64(len(c.h.frames))
			in := c.wrap(cat(c.h.segment(t, 0, n/3), c.h.segment(t, n/3, n)))
			res := readAll(t, []stream.Input{*in}, stream.Options{})
			checkErr(t, res.err, nil)
			if res.first != 1 || res.last != n || !bytes.Equal(res.frames, c.h.block(1, n)) {
				t.Errorf("yielded LSNs %d..%d; want 1..%d", res.first, res.last, n)
			}
		})
	}
}

// TestReaderClaimedLengthReservesNothing: a frame header that claims the
// largest body, in an input that then ends, must not make the reader
// reserve memory for bytes that never come (DESIGN.md §3: every length is
// bounded by the format's maximum and by the bytes that remain).
func TestReaderClaimedLengthReservesNothing(t *testing.T) {
	h := newHistory(t, 1, 10)
	claim := binary.LittleEndian.AppendUint32(bytes.Clone(txframe.Magic[:]), txframe.MaxBodyLen)
	input := cat(h.open(t, 0, 0), claim, make([]byte, 100))
	before := allocated()
	res := readAll(t, inputs(input), stream.Options{})
	got := allocated() - before
	checkErr(t, res.err, &wantErr{stream.ErrTruncated, "in0", hdrLen, 1})
	if got > 8<<20 {
		t.Errorf("reading %d bytes allocated %d MiB", len(input), got>>20)
	}
}
