package stream_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"testing"
	"testing/iotest"

	"github.com/hotpipe/hotpipe/stream"
)

// listed is what a listing of segment base+1..last of h at offset at says.
func (h *history) listed(at int64, base, last uint64, complete bool) stream.SegmentInfo {
	return stream.SegmentInfo{Segment: stream.Segment{Offset: at, Header: h.header(base), End: h.end(base, last)}, Complete: complete}
}

func gzipped(tb testing.TB, b []byte) []byte {
	tb.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		tb.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

func checkListing(tb testing.TB, got, want []stream.SegmentInfo) {
	tb.Helper()
	if len(got) != len(want) {
		tb.Fatalf("%d segments listed, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		if got[i] != want[i] {
			tb.Errorf("segment %d:\n got %+v\nwant %+v", i+1, got[i], want[i])
		}
	}
}

// A file of whole segments is listed from its end records, without a scan:
// the listing is the same when every frame's bytes are garbage.
func TestListFromEndRecords(t *testing.T) {
	h := newHistory(t, 9, 20)
	s1, s2, s3 := h.at(0, 0, 5), h.at(0, 0, 5).then(5, 9), h.at(0, 0, 5).then(5, 9).then(9, 9)
	file := cat(h.segment(t, 0, 5), h.segment(t, 5, 9), h.segment(t, 9, 9))
	for lsn := uint64(1); lsn <= 9; lsn++ { // no frame is read: damage to each goes unseen
		s := s1
		if lsn > 5 {
			s = s2
		}
		file[s.frame(lsn)+20] ^= 0xff
	}
	segs, scanned, err := stream.List(context.Background(), bytes.NewReader(file), int64(len(file)), "f", stream.Options{})
	if err != nil || scanned {
		t.Fatalf("List: scanned %v, err %v; want the end records read, no error", scanned, err)
	}
	checkListing(t, segs, []stream.SegmentInfo{h.listed(s1.at, 0, 5, true), h.listed(s2.at, 5, 9, true), h.listed(s3.at, 9, 9, true)})
}

// Anything the end records cannot list is scanned: compressed, torn, or
// both, and a torn last segment is listed as not complete, up to its last
// whole frame, beside ErrTruncated.
func TestListScans(t *testing.T) {
	h := newHistory(t, 12, 20)
	whole := cat(h.segment(t, 0, 5), h.segment(t, 5, 9))
	s2 := h.at(0, 0, 5).then(5, 9)
	torn := cat(h.segment(t, 0, 5), h.open(t, 5, 9)[:s2.frame(9)-s2.at+10]) // cut inside LSN 9
	tornSeg := h.listed(s2.at, 5, 8, false)
	tests := []struct {
		name    string
		file    []byte
		want    []stream.SegmentInfo
		wantErr error
	}{
		{name: "compressed", file: gzipped(t, whole),
			want: []stream.SegmentInfo{h.listed(0, 0, 5, true), h.listed(s2.at, 5, 9, true)}},
		{name: "torn", file: torn, want: []stream.SegmentInfo{h.listed(0, 0, 5, true), tornSeg}, wantErr: stream.ErrTruncated},
		{name: "compressed and torn", file: gzipped(t, torn),
			want: []stream.SegmentInfo{h.listed(0, 0, 5, true), tornSeg}, wantErr: stream.ErrTruncated},
		{name: "torn right after a header", file: h.open(t, 0, 0),
			want: []stream.SegmentInfo{h.listed(0, 0, 0, false)}, wantErr: stream.ErrTruncated},
		// An overlapping segment lists what its end record says, not only
		// the frames new to the stream.
		{name: "compressed overlap", file: gzipped(t, cat(h.segment(t, 0, 9), h.segment(t, 3, 12))),
			want: []stream.SegmentInfo{h.listed(0, 0, 9, true), h.listed(h.at(0, 0, 9).next(), 3, 12, true)}},
		{name: "empty", file: nil, wantErr: stream.ErrEmpty},
		{name: "not a stream", file: []byte("these are not the frames you are looking for"), wantErr: stream.ErrFormat},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			segs, scanned, err := stream.List(context.Background(), bytes.NewReader(tt.file), int64(len(tt.file)), "f", stream.Options{})
			if !scanned {
				t.Error("List read the end records; want a scan")
			}
			checkScan(t, segs, err, tt.want, tt.wantErr)
			// A reader with no ReadAt (a pipe), read a byte at a time, lists the same.
			segs, err = stream.ListReader(context.Background(), iotest.OneByteReader(bytes.NewReader(tt.file)), "f", stream.Options{})
			checkScan(t, segs, err, tt.want, tt.wantErr)
		})
	}
}

func checkScan(tb testing.TB, segs []stream.SegmentInfo, err error, want []stream.SegmentInfo, wantErr error) {
	tb.Helper()
	if wantErr == nil && err != nil || wantErr != nil && !errors.Is(err, wantErr) {
		tb.Fatalf("error %v; want %v", err, wantErr)
	}
	var se *stream.Error
	if err != nil && (!errors.As(err, &se) || se.Source != "f") {
		tb.Errorf("error %v does not name its input", err)
	}
	checkListing(tb, segs, want)
}

// A listing stops when its context is done, and says why.
func TestListCancelled(t *testing.T) {
	h := newHistory(t, 5, 20)
	file := gzipped(t, h.segment(t, 0, 5))
	ctx, cancel := context.WithCancelCause(context.Background())
	cause := errors.New("operator said stop")
	cancel(cause)
	if _, _, err := stream.List(ctx, bytes.NewReader(file), int64(len(file)), "f", stream.Options{}); !errors.Is(err, cause) {
		t.Errorf("List: %v; want the cause of the cancellation", err)
	}
	if _, err := stream.ListReader(ctx, bytes.NewReader(file), "f", stream.Options{}); !errors.Is(err, cause) {
		t.Errorf("ListReader: %v; want the cause of the cancellation", err)
	}
}
