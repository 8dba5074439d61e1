package verify_test

import (
	"context"
	"encoding/binary"
	"io"
	"testing"

	"github.com/hotpipe/hotpipe/stream"
	"github.com/hotpipe/hotpipe/txframe"
	"github.com/hotpipe/hotpipe/verify"
)

// rewrite returns a copy of segment seg whose frame at offset off has one
// body byte changed and its CRC recomputed, so that only re-hashing the
// body (the chain) can tell.
func rewrite(tb testing.TB, seg []byte, off, frameLen int64) []byte {
	tb.Helper()
	c := flip(seg, off+frameLen/2)
	copy(c[off:], resealed(tb, c[off:off+frameLen]))
	return c
}

// Quick still finds every problem that CRCs, structure, LSNs, end records
// and the stored hashes' links show, at the same place as a full verify.
func TestQuickFindings(t *testing.T) {
	h := newHistory(t, 12, 'a')
	fl := h.frameLen()
	seg5, seg9 := h.segment(t, 0, 5), h.segment(t, 5, 9)
	s2 := h.segLen(0, 5)
	fork := newHistory(t, 12, 'b')
	badEnd := h.end(0, 5)
	badEnd.LastHash = fork.hash[5] // the end record's link to its last frame, CRC right
	tests := []struct {
		name   string
		inputs []stream.Input
		want   []want
	}{
		{name: "flipped frame CRC", inputs: named(flip(seg5, h.at(0, 0, 3)+fl-1)),
			want: []want{{txframe.ErrChecksum, "a", h.at(0, 0, 3), 3}}},
		{name: "flipped body byte", inputs: named(flip(seg5, h.at(0, 0, 3)+fl/2)),
			want: []want{{txframe.ErrChecksum, "a", h.at(0, 0, 3), 3}}},
		{name: "end record's hash is not its last frame's", inputs: named(raw(t, h.header(0), badEnd, h.block(1, 5))),
			want: []want{{stream.ErrEndMismatch, "a", h.at(0, 0, 6), 6}}},
		{name: "segment's base hash is not the stream's", inputs: named(seg5, fork.segment(t, 5, 9)),
			want: []want{{txframe.ErrHistory, "b", 0, 5}}},
		{name: "overlap with other stored hashes", inputs: named(seg9, fork.segment(t, 0, 12)),
			want: []want{{txframe.ErrHistory, "b", h.at(0, 0, 9), 9}}},
		{name: "cut inside a frame", inputs: named(seg5[:h.at(0, 0, 4)+fl/2]),
			want: []want{{stream.ErrTruncated, "a", h.at(0, 0, 4), 4}}},
		{name: "missing end record", inputs: named(h.open(t, 0, 5)),
			want: []want{{stream.ErrTruncated, "a", h.at(0, 0, 6), 6}}},
		{name: "missing end record before the next segment", inputs: named(cat(h.open(t, 0, 5), seg9)),
			want: []want{{stream.ErrFormat, "a", h.at(0, 0, 6), 6}}},
		{name: "gap within a segment", inputs: named(raw(t, h.header(0), h.end(0, 5), h.block(1, 2), h.block(4, 5))),
			want: []want{{txframe.ErrGap, "a", h.at(0, 0, 3), 3}}},
		{name: "header checksum", inputs: named(cat(seg5, flip(seg9, 50))),
			want: []want{{stream.ErrChecksum, "a", s2, 6}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			quick, err := verify.Stream(context.Background(), tt.inputs, verify.Options{Quick: true})
			if err != nil {
				t.Fatalf("Stream: %v", err)
			}
			if !quick.Quick {
				t.Error("the report does not say the check was quick")
			}
			checkFindings(t, quick.Findings, tt.want)
			for _, in := range tt.inputs {
				if _, err := in.R.(io.Seeker).Seek(0, io.SeekStart); err != nil {
					t.Fatal(err)
				}
			}
			full, err := verify.Stream(context.Background(), tt.inputs, verify.Options{})
			if err != nil {
				t.Fatalf("Stream: %v", err)
			}
			if !sameMessages(quick.Findings, full.Findings) {
				t.Errorf("quick found %v; full verify %v", quick.Findings, full.Findings)
			}
		})
	}
}

// The documented limit of --quick: a body rewritten with its CRC
// recomputed (its stored h(n) left as it was, or rewritten too when it is
// not the segment's last) reads clean, because no body is re-hashed. A full verify
// catches both as chain errors at the frame.
func TestQuickDoesNotProveContent(t *testing.T) {
	h := newHistory(t, 8, 'a')
	fl := h.frameLen()
	seg := h.segment(t, 0, 8)
	fork := newHistory(t, 8, 'b') // its frame 3: another body, and another stored h(3)
	tests := []struct {
		name string
		data []byte
		at   uint64
	}{
		{name: "body rewritten, CRC recomputed", data: rewrite(t, seg, h.at(0, 0, 5), fl), at: 5},
		{name: "body rewritten in the last frame", data: rewrite(t, seg, h.at(0, 0, 8), fl), at: 8},
		{name: "frame and its stored hash replaced", data: raw(t, h.header(0), h.end(0, 8), h.block(1, 2), fork.frames[2], h.block(4, 8)), at: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			quick, err := verify.Stream(context.Background(), named(tt.data), verify.Options{Quick: true})
			if err != nil || !quick.OK() || quick.Last != 8 || quick.FinalHash != h.hash[8] {
				t.Fatalf("quick: %v, findings %v, last %d; want a clean read to LSN 8 (the documented limit)", err, quick.Findings, quick.Last)
			}
			full, err := verify.Stream(context.Background(), named(tt.data), verify.Options{})
			if err != nil {
				t.Fatalf("Stream: %v", err)
			}
			checkFindings(t, full.Findings, []want{{txframe.ErrChain, "a", h.at(0, 0, tt.at), tt.at}})
		})
	}
}

// resealed returns frame f with its CRC recomputed.
func resealed(tb testing.TB, f []byte) []byte {
	tb.Helper()
	c := append([]byte(nil), f...)
	binary.LittleEndian.PutUint32(c[len(c)-4:], txframe.Checksum(c[:len(c)-4]))
	if _, err := txframe.Peek(c); err != nil {
		tb.Fatalf("resealed frame: %v", err)
	}
	return c
}

// sameMessages reports whether two lists hold findings that read the same,
// in order: the same place and the same cause.
func sameMessages(a, b []verify.Finding) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Error() != b[i].Error() {
			return false
		}
	}
	return true
}
