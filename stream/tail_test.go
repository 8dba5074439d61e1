package stream_test

import (
	"bytes"
	"encoding/binary"
	"io"
	"slices"
	"sync"
	"testing"

	"github.com/hotpipe/hotpipe/stream"
	"github.com/hotpipe/hotpipe/txframe"
)

// readLog is an io.ReaderAt that records every range read from it.
type readLog struct {
	r     io.ReaderAt
	mu    sync.Mutex
	reads [][2]int64 // offset, length
}

func (l *readLog) ReadAt(p []byte, off int64) (int, error) {
	l.mu.Lock()
	l.reads = append(l.reads, [2]int64{off, int64(len(p))})
	l.mu.Unlock()
	return l.r.ReadAt(p, off)
}

func readTail(file []byte) (stream.Tail, error) {
	return stream.ReadTail(bytes.NewReader(file), int64(len(file)), "f.backup")
}

// TestReadTailCompleteReadsNoFrame: a file of whole segments is answered
// from its headers and end records alone, walking back from the last to
// offset 0: two small reads a segment, whatever the file's size. (It was
// O(1), from the last end record alone; but an end record inside a stored
// value looks the same from there, issue 10 item 6.)
func TestReadTailCompleteReadsNoFrame(t *testing.T) {
	h := newHistory(t, 400, 1000)
	file := cat(h.segment(t, 0, 10), h.segment(t, 10, 20), h.segment(t, 20, 400))
	s1 := h.at(0, 0, 10)
	s2 := s1.then(10, 20)
	s3 := s2.then(20, 400)
	log := &readLog{r: bytes.NewReader(file)}
	tail, err := stream.ReadTail(log, int64(len(file)), "f.backup")
	if err != nil {
		t.Fatal(err)
	}
	want := stream.Tail{Header: h.header(20), SegStart: s3.at, Complete: true, Last: 400, LastHash: h.hash[400], Keep: int64(len(file))}
	if tail != want {
		t.Errorf("ReadTail = %+v\nwant %+v", tail, want)
	}
	slices.SortFunc(log.reads, func(a, b [2]int64) int { return int(a[0] - b[0]) })
	var wantReads [][2]int64
	for _, s := range []seg{s1, s2, s3} {
		wantReads = append(wantReads, [2]int64{s.at, hdrLen}, [2]int64{s.end(), endLen})
	}
	if !slices.Equal(log.reads, wantReads) {
		t.Errorf("ReadTail read %v (offset, length) of a %d-byte file; want only %v", log.reads, len(file), wantReads)
	}
}

type tailCase struct {
	name string
	file []byte
	want stream.Tail
	err  *wantErr
}

func TestReadTail(t *testing.T) {
	h := newHistory(t, 30, 100)
	s1 := h.at(0, 0, 10)
	s2 := s1.then(10, 20)
	seg1, seg2 := h.segment(t, 0, 10), h.segment(t, 10, 20)
	open2 := h.open(t, 10, 20)
	zeros := make([]byte, 500)
	// A complete first segment, then the second as far as an interrupted backup got.
	after1 := func(tail []byte) []byte { return cat(seg1, tail) }
	size := func(b []byte) int64 { return int64(len(b)) }
	cases := []tailCase{
		{name: "complete", file: after1(seg2),
			want: stream.Tail{Header: h.header(10), SegStart: s2.at, Complete: true, Last: 20, LastHash: h.hash[20], Keep: s2.next()}},
		{name: "one segment without frames", file: h.segment(t, 7, 7),
			want: stream.Tail{Header: h.header(7), SegStart: 0, Complete: true, Last: 7, LastHash: h.hash[7], Keep: hdrLen + endLen}},
		{name: "open segment ending with a whole frame", file: after1(open2),
			want: stream.Tail{Header: h.header(10), SegStart: s2.at, Last: 20, LastHash: h.hash[20], Keep: s2.end()}},
		{name: "open segment with no frame yet", file: after1(seg2[:hdrLen]),
			want: stream.Tail{Header: h.header(10), SegStart: s2.at, Last: 10, LastHash: h.hash[10], Keep: s2.frame(11)}},
		{name: "torn in the middle of a frame", file: after1(open2[:s2.frame(16)+100-s2.at]),
			want: stream.Tail{Header: h.header(10), SegStart: s2.at, Last: 15, LastHash: h.hash[15], Keep: s2.frame(16), Torn: 100}},
		{name: "torn inside a frame's first 8 bytes", file: after1(open2[:s2.frame(16)+5-s2.at]),
			want: stream.Tail{Header: h.header(10), SegStart: s2.at, Last: 15, LastHash: h.hash[15], Keep: s2.frame(16), Torn: 5}},
		{name: "torn inside an end record", file: after1(seg2[:s2.end()+40-s2.at]),
			want: stream.Tail{Header: h.header(10), SegStart: s2.at, Last: 20, LastHash: h.hash[20], Keep: s2.end(), Torn: 40}},
		{name: "torn inside the second segment's header", file: after1(seg2[:70]),
			want: stream.Tail{Header: h.header(0), SegStart: 0, Complete: true, Last: 10, LastHash: h.hash[10], Keep: s1.next(), Torn: 70}},
		{name: "torn after the second header's magic", file: after1(seg2[:4]),
			want: stream.Tail{Header: h.header(0), SegStart: 0, Complete: true, Last: 10, LastHash: h.hash[10], Keep: s1.next(), Torn: 4}},
		{name: "zeros after the last frame", file: after1(cat(open2, zeros)),
			want: stream.Tail{Header: h.header(10), SegStart: s2.at, Last: 20, LastHash: h.hash[20], Keep: s2.end(), Torn: 500}},
		{name: "three zero bytes after the last frame", file: after1(cat(open2, zeros[:3])),
			want: stream.Tail{Header: h.header(10), SegStart: s2.at, Last: 20, LastHash: h.hash[20], Keep: s2.end(), Torn: 3}},
		{name: "zeros after a complete segment", file: after1(cat(seg2, zeros)),
			want: stream.Tail{Header: h.header(10), SegStart: s2.at, Complete: true, Last: 20, LastHash: h.hash[20], Keep: s2.next(), Torn: 500}},
		// The offset of these is where the header should be (it was the
		// end of the file, where a search back for a header began).
		{name: "no valid header", file: bytes.Repeat([]byte("not a backup\n"), 100),
			err: &wantErr{stream.ErrFormat, "f.backup", 0, 0}},
		{name: "only a damaged header", file: flip(h.open(t, 0, 0), 60),
			err: &wantErr{stream.ErrFormat, "f.backup", 0, 0}},
		{name: "empty file", file: nil, err: &wantErr{stream.ErrFormat, "f.backup", 0, 0}},
		{name: "only the start of the first header", file: seg1[:60], want: stream.Tail{Torn: 60}},
		{name: "a short file that is not a header", file: []byte("HPSX not one"), err: &wantErr{stream.ErrFormat, "f.backup", 0, 0}},
	}
	cases = append(cases, damageCases(t, h)...)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tail, err := readTail(c.file)
			checkErr(t, err, c.err)
			if c.err != nil {
				if tail != (stream.Tail{}) {
					t.Errorf("ReadTail returned %+v with its error", tail)
				}
				return
			}
			if tail != c.want {
				t.Errorf("ReadTail = %+v\nwant %+v", tail, c.want)
			}
			if tail.Keep+tail.Torn != size(c.file) {
				t.Errorf("Keep %d + Torn %d != size %d", tail.Keep, tail.Torn, len(c.file))
			}
			if tail.Keep > 0 { // else nothing is kept: the file starts again
				checkResumable(t, c.file, tail)
			}
		})
	}
}

// damageCases are files whose last segment is damaged before its end: a
// frame in the middle of it, with whole frames after it, then a torn
// frame (so that the walk from the end does not apply). Damage is reported
// where it is, never repaired by cutting the file there. A frame whose
// length was damaged to run past the end of the file is no longer among
// them: it cannot be told from a frame cut short whose value holds whole
// frames without reading structure into payload, so it is a torn tail (see
// TestReadTailPayloadStreams); the frames cut are copied again from the
// database.
func damageCases(t *testing.T, h *history) []tailCase {
	s2 := h.at(0, 0, 10).then(10, 30)
	file := cat(h.segment(t, 0, 10), h.open(t, 10, 30))
	file = file[:s2.frame(30)+50] // frame 30 is torn
	at := func(field int64) int64 { return s2.frame(15) + field }
	return []tailCase{
		{name: "flipped byte in a frame's value", file: flip(file, at(100)),
			err: &wantErr{txframe.ErrChecksum, "f.backup", s2.frame(15), 15}},
		{name: "flipped byte in a frame's magic", file: flip(file, at(1)),
			err: &wantErr{stream.ErrFormat, "f.backup", s2.frame(15), 15}},
		{name: "flipped byte in a frame's LSN", file: flip(file, at(8)),
			err: &wantErr{txframe.ErrChecksum, "f.backup", s2.frame(15), 15}},
		{name: "flipped byte in a frame's CRC", file: flip(file, at(s2.fl-1)),
			err: &wantErr{txframe.ErrChecksum, "f.backup", s2.frame(15), 15}},
		{name: "frame length over the maximum", file: edit(file, func(b []byte) { binary.LittleEndian.PutUint32(b[at(4):], 0xffffffff) }),
			err: &wantErr{txframe.ErrTooLarge, "f.backup", s2.frame(15), 15}},
		{name: "zeros in the middle of the segment", file: edit(file, func(b []byte) { clear(b[at(0):at(s2.fl)]) }),
			err: &wantErr{stream.ErrFormat, "f.backup", s2.frame(15), 15}},
		{name: "a frame from another history", file: edit(file, func(b []byte) { copy(b[at(0):], h.fork(t, 14).frames[14]) }),
			err: &wantErr{txframe.ErrChain, "f.backup", s2.frame(16), 16}},
	}
}

// checkResumable checks what hot-backup --append does with a tail: keep
// Keep bytes and, if the last segment is open, resume it with ResumeWriter
// and close it. The result must read as a whole stream ending at Last.
func checkResumable(t *testing.T, file []byte, tail stream.Tail) {
	t.Helper()
	buf := bytes.NewBuffer(bytes.Clone(file[:tail.Keep]))
	if !tail.Complete {
		w := stream.ResumeWriter(buf, tail.Header, tail.Last, tail.LastHash, tail.Keep-tail.SegStart)
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	res := readAll(t, inputs(buf.Bytes()), stream.Options{})
	if res.err != nil {
		t.Fatalf("the kept bytes, closed, do not read as a stream: %v", res.err)
	}
	if last := res.ends[len(res.ends)-1]; last.Last != tail.Last || last.LastHash != tail.LastHash {
		t.Errorf("the repaired file ends at LSN %d, %s; the tail said %d, %s", last.Last, last.LastHash, tail.Last, tail.LastHash)
	}
}

func TestSegments(t *testing.T) {
	h := newHistory(t, 40, 100)
	s1 := h.at(0, 0, 10)
	s2 := s1.then(10, 10) // no frames
	s3 := s2.then(10, 20)
	s4 := s3.then(15, 40) // overlaps 16..20
	file := cat(h.segment(t, 0, 10), h.segment(t, 10, 10), h.segment(t, 10, 20), h.segment(t, 15, 40))
	log := &readLog{r: bytes.NewReader(file)}
	segs, ok := stream.Segments(log, int64(len(file)))
	if !ok {
		t.Fatal("Segments: not ok for a file of whole segments")
	}
	var want []stream.Segment
	var wantReads [][2]int64
	for _, s := range []seg{s1, s2, s3, s4} {
		want = append(want, stream.Segment{Offset: s.at, Header: h.header(s.base), End: h.end(s.base, s.last)})
		wantReads = append(wantReads, [2]int64{s.at, hdrLen}, [2]int64{s.end(), endLen})
	}
	if !slices.Equal(segs, want) {
		t.Errorf("Segments =\n%+v\nwant\n%+v", segs, want)
	}
	// Each end record is read twice (to find the segment, then to list it).
	reads := slices.Compact(slices.SortedFunc(slices.Values(log.reads), func(a, b [2]int64) int { return int(a[0] - b[0]) }))
	if !slices.Equal(reads, wantReads) {
		t.Errorf("Segments read %v; want only headers and end records %v", reads, wantReads)
	}

	for _, c := range []struct {
		name string
		file []byte
	}{
		{"torn inside a frame", file[:s4.frame(30)+7]},
		{"open last segment", file[:s4.end()]},
		{"torn inside an end record", file[:s4.end()+79]},
		{"torn inside a header", file[:s4.at+100]},
		{"zeros after the last segment", cat(file, make([]byte, endLen))},
		{"bytes before the first segment", cat([]byte("junk"), file)},
		{"damaged end record in the middle", flip(file, s3.end()+10)},
		{"damaged header in the middle", flip(file, s2.at+10)},
	} {
		t.Run(c.name, func(t *testing.T) {
			if segs, ok := stream.Segments(bytes.NewReader(c.file), int64(len(c.file))); ok {
				t.Errorf("Segments = %d segments, ok; want not ok", len(segs))
			}
		})
	}
}

func TestReadTailRefusesArbitraryBytesAfterACompleteFile(t *testing.T) {
	h := newHistory(t, 5, 8)
	file := append(h.segment(t, 0, 5), 'x', 'y')
	if _, err := stream.ReadTail(bytes.NewReader(file), int64(len(file)), "f"); err == nil {
		t.Fatal("two bytes that begin no record were repaired as a torn tail")
	}
	torn := append(h.segment(t, 0, 5), 'H', 'P')
	tail, err := stream.ReadTail(bytes.NewReader(torn), int64(len(torn)), "f")
	if err != nil || tail.Torn != 2 || !tail.Complete {
		t.Fatalf("the start of a header after a complete file: %+v, %v; want 2 torn bytes", tail, err)
	}
}
