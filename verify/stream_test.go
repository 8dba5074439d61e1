package verify_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hotpipe/hotpipe/stream"
	"github.com/hotpipe/hotpipe/txframe"
	"github.com/hotpipe/hotpipe/verify"
)

// Each kind of problem is a finding that is its sentinel to errors.Is, at
// the input, offset and LSN where it is; findings are handed to OnFinding
// as they are found, in the order Report.Findings holds them.
func TestStreamFindings(t *testing.T) {
	h := newHistory(t, 12, 'a')
	fl := h.frameLen()
	seg5, seg9 := h.segment(t, 0, 5), h.segment(t, 5, 9)
	s2 := h.segLen(0, 5) // offset of the second segment after seg5
	other := *h
	other.origin = otherOrigin
	fork := newHistory(t, 12, 'b') // another history: other hashes from LSN 1 on
	wrong, _ := frameFrom(t, txframe.Hash{1}, 3, 'a')
	tests := []struct {
		name   string
		inputs []stream.Input
		want   []want
	}{
		{name: "truncated", inputs: named(h.open(t, 0, 5)),
			want: []want{{stream.ErrTruncated, "a", h.at(0, 0, 6), 6}}},
		{name: "frame checksum", inputs: named(flip(seg5, h.at(0, 0, 3)+fl/2)),
			want: []want{{txframe.ErrChecksum, "a", h.at(0, 0, 3), 3}}},
		{name: "end record checksum", inputs: named(flip(seg5, int64(len(seg5))-10)),
			want: []want{{stream.ErrChecksum, "a", h.at(0, 0, 6), 6}}},
		{name: "header checksum", inputs: named(cat(seg5, flip(seg9, 50))),
			want: []want{{stream.ErrChecksum, "a", s2, 6}}},
		{name: "chain", inputs: named(raw(t, h.header(0), h.end(0, 5), h.block(1, 2), wrong, h.block(4, 5))),
			want: []want{{txframe.ErrChain, "a", h.at(0, 0, 3), 3}}},
		{name: "gap within a segment", inputs: named(raw(t, h.header(0), h.end(0, 5), h.block(1, 2), h.block(4, 5))),
			want: []want{{txframe.ErrGap, "a", h.at(0, 0, 3), 3}}},
		{name: "gap between segments", inputs: named(cat(seg5, h.segment(t, 7, 9))),
			want: []want{{txframe.ErrGap, "a", s2, 7}}},
		{name: "gap between inputs", inputs: named(seg5, h.segment(t, 7, 9)),
			want: []want{{txframe.ErrGap, "b", 0, 7}}},
		{name: "other origin", inputs: named(seg5, other.segment(t, 5, 9)),
			want: []want{{txframe.ErrHistory, "b", 0, 5}}},
		{name: "other hash at the base", inputs: named(seg5, fork.segment(t, 5, 9)),
			want: []want{{txframe.ErrHistory, "b", 0, 5}}},
		{name: "overlap with other hashes", inputs: named(seg9, fork.segment(t, 0, 12)),
			want: []want{{txframe.ErrHistory, "b", h.at(0, 0, 9), 9}}}, // h(9) is where the overlap meets the stream
		{name: "end mismatch", inputs: named(raw(t, h.header(0), h.end(0, 4), h.block(1, 5))),
			want: []want{{stream.ErrEndMismatch, "a", h.at(0, 0, 6), 6}}},
		{name: "empty input", inputs: named(nil),
			want: []want{{stream.ErrEmpty, "a", 0, 0}}},
		{name: "empty input between two", inputs: named(seg5, nil, seg9),
			want: []want{{stream.ErrEmpty, "b", 0, 0}}},
		// After bytes that hold no segment, the stream as a whole has none
		// either: the reader says so too.
		{name: "format", inputs: named([]byte("these are not the frames you are looking for")),
			want: []want{{stream.ErrFormat, "a", 0, 0}, {stream.ErrEmpty, "a", 0, 0}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var streamed []verify.Finding
			rep, err := verify.Stream(context.Background(), tt.inputs, verify.Options{
				OnFinding: func(f verify.Finding) { streamed = append(streamed, f) },
			})
			if err != nil {
				t.Fatalf("Stream: %v", err)
			}
			checkFindings(t, rep.Findings, tt.want)
			if !sameFindings(streamed, rep.Findings) {
				t.Errorf("OnFinding got %v; the report holds %v", streamed, rep.Findings)
			}
			checkReportErr(t, rep, tt.want[0].is)
		})
	}
}

// checkReportErr checks that a report with findings is not OK and that its
// error is the first finding's sentinel and unwraps to that finding.
func checkReportErr(tb testing.TB, rep *verify.Report, is error) {
	tb.Helper()
	err := rep.Err()
	if rep.OK() || err == nil {
		tb.Fatalf("OK() = %v, Err() = %v with %d findings", rep.OK(), err, len(rep.Findings))
	}
	var f verify.Finding
	if !errors.Is(err, is) || !errors.As(err, &f) || f != rep.Findings[0] {
		tb.Errorf("Err() = %v: want %v, unwrapping to the first finding %v", err, is, rep.Findings[0])
	}
}

// A clean stream of several inputs, with an empty segment and an overlap,
// is OK, and its summary counts each new frame once.
func TestStreamClean(t *testing.T) {
	h := newHistory(t, 20, 'a')
	ins := named(cat(h.segment(t, 0, 5), h.segment(t, 5, 10)), cat(h.segment(t, 10, 10), h.segment(t, 10, 15)), h.segment(t, 12, 20))
	var last verify.Progress
	calls := 0
	rep, err := verify.Stream(context.Background(), ins, verify.Options{
		OnFinding: func(f verify.Finding) { t.Errorf("finding in a clean stream: %v", f) },
		Progress: func(p verify.Progress) {
			if p.Frames < last.Frames || p.Bytes < last.Bytes || p.LSN < last.LSN {
				t.Errorf("progress went back: %+v after %+v", p, last)
			}
			if p.End != 0 || p.TotalBytes != 0 {
				t.Errorf("progress %+v: a stream's end is not known", p)
			}
			last, calls = p, calls+1
		},
	})
	if err != nil || !rep.OK() || rep.Err() != nil {
		t.Fatalf("Stream: %v; OK() = %v, Err() = %v", err, rep.OK(), rep.Err())
	}
	wantInputs := []verify.InputReport{
		{Source: "a", First: 1, Last: 10, Frames: 10, Segments: 2},
		{Source: "b", First: 11, Last: 15, Frames: 5, Segments: 2},
		{Source: "c", First: 16, Last: 20, Frames: 5, Segments: 1},
	}
	if len(rep.Inputs) != len(wantInputs) {
		t.Fatalf("inputs %+v; want %+v", rep.Inputs, wantInputs)
	}
	for i, w := range wantInputs {
		if rep.Inputs[i] != w {
			t.Errorf("input %d: %+v; want %+v", i, rep.Inputs[i], w)
		}
	}
	wantBytes := 5*(hdrLen+endLen) + 20*h.frameLen()
	if rep.First != 1 || rep.Last != 20 || rep.Frames != 20 || rep.Segments != 5 || rep.Bytes != wantBytes {
		t.Errorf("LSN %d..%d, %d frames, %d segments, %d bytes; want 1..20, 20, 5, %d",
			rep.First, rep.Last, rep.Frames, rep.Segments, rep.Bytes, wantBytes)
	}
	if !rep.FirstTime.Equal(time.Unix(0, t0+1)) || !rep.LastTime.Equal(time.Unix(0, t0+20)) || rep.FinalHash != h.hash[20] {
		t.Errorf("times %v..%v, final hash %s; want LSN 1's and 20's, h(20) %s", rep.FirstTime, rep.LastTime, rep.FinalHash, h.hash[20])
	}
	if calls == 0 || last.LSN != 20 || last.Frames != rep.Frames || last.Bytes != rep.Bytes || last.Source != "c" {
		t.Errorf("%d progress calls, the last %+v; want it to end where the report does", calls, last)
	}
}

// Several problems in one stream are all reported, and the join after a
// damaged region is still checked: a hole the damage leaves is a gap, and
// a segment from another origin after it is a different history.
func TestStreamReportsEveryProblem(t *testing.T) {
	h := newHistory(t, 30, 'a')
	fl := h.frameLen()
	s2 := h.segLen(0, 10)
	s3 := s2 + h.segLen(10, 20)
	three := cat(h.segment(t, 0, 10), h.segment(t, 10, 20), h.segment(t, 20, 30))
	three = flip(flip(three, h.at(0, 0, 5)+fl/2), h.at(s3, 20, 26)+fl/2)
	other := *h
	other.origin = otherOrigin
	tests := []struct {
		name   string
		inputs []stream.Input
		want   []want
		frames uint64 // that verified
		last   uint64
	}{
		{name: "three segments, two damaged", inputs: named(three), frames: 4 + 10 + 5, last: 25, want: []want{
			{txframe.ErrChecksum, "a", h.at(0, 0, 5), 5},
			{txframe.ErrGap, "a", s2, 10}, // LSNs 5..10 are missing
			{txframe.ErrChecksum, "a", h.at(s3, 20, 26), 26},
		}},
		{name: "another origin after damage", frames: 4 + 10 + 10, last: 30,
			inputs: named(flip(h.segment(t, 0, 10), h.at(0, 0, 5)+fl/2), other.segment(t, 10, 20), h.segment(t, 20, 30)),
			want: []want{
				{txframe.ErrChecksum, "a", h.at(0, 0, 5), 5},
				{txframe.ErrHistory, "b", 0, 10},
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var streamed []verify.Finding
			rep, err := verify.Stream(context.Background(), tt.inputs, verify.Options{
				OnFinding: func(f verify.Finding) { streamed = append(streamed, f) },
			})
			if err != nil {
				t.Fatalf("Stream: %v", err)
			}
			checkFindings(t, rep.Findings, tt.want)
			if !sameFindings(streamed, rep.Findings) {
				t.Errorf("OnFinding got %v; the report holds %v", streamed, rep.Findings)
			}
			if rep.Frames != tt.frames || rep.Last != tt.last {
				t.Errorf("%d frames verified, last LSN %d; want %d, %d", rep.Frames, rep.Last, tt.frames, tt.last)
			}
			n := 0
			for _, in := range rep.Inputs {
				n += in.Findings
			}
			if n != len(tt.want) {
				t.Errorf("inputs count %d findings; want %d", n, len(tt.want))
			}
		})
	}
}
