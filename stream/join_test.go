package stream_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/hotpipe/hotpipe/stream"
	"github.com/hotpipe/hotpipe/txframe"
)

// readErr reads inputs to the end and returns the first error.
func readErr(ins []stream.Input) error {
	r := stream.NewReader(ins, stream.Options{})
	for {
		if _, err := r.Next(); err != nil {
			return err
		}
	}
}

// TestJoinsCheckOriginBaseAndTime covers what a join checks beyond LSNs and
// hashes: one origin for the whole stream, h(0) of zeros, and commit times
// that do not go back where one segment continues another.
func TestJoinsCheckOriginBaseAndTime(t *testing.T) {
	h := newHistory(t, 10, 8)
	other := h.header(5)
	other.Origin[0] ^= 1
	otherOrigin := raw(t, other, h.end(5, 10), h.block(6, 10))
	badZero := h.header(0)
	badZero.BaseHash[0] = 1
	// LSNs 6..10 chained from h(5), but committed before LSN 5.
	early := makeEarlyFrames(t, h, 5, 10)

	for _, tt := range []struct {
		name  string
		input []byte
		want  error
	}{
		{name: "a segment of another origin", input: bytes.Join([][]byte{h.segment(t, 0, 5), otherOrigin}, nil), want: stream.ErrHistory},
		{name: "a base at LSN 0 with a non-zero hash", input: raw(t, badZero, h.end(0, 0)), want: stream.ErrFormat},
		{name: "commit time going back across a join", input: bytes.Join([][]byte{h.segment(t, 0, 5), early}, nil), want: txframe.ErrMalformed},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := readErr(inputs(tt.input))
			var se *stream.Error
			if !errors.Is(err, tt.want) || !errors.As(err, &se) {
				t.Fatalf("read = %v, want %v", err, tt.want)
			}
		})
	}
}

// makeEarlyFrames returns a segment of LSNs base+1..last that chains from
// h(base) but whose commit times are before h's frame at base.
func makeEarlyFrames(t *testing.T, h *history, base, last uint64) []byte {
	t.Helper()
	var b []byte
	prev := h.hash[base]
	for lsn := base + 1; lsn <= last; lsn++ {
		f, hn, err := txframe.Append(nil, prev, lsn, 1, []txframe.Entry{{Op: txframe.OpPut, Key: []byte("k"), Value: []byte("v")}})
		if err != nil {
			t.Fatal(err)
		}
		b, prev = append(b, f...), hn
	}
	end := stream.End{Frames: last - base, First: base + 1, Last: last, LastHash: prev, Length: uint64(stream.HeaderSize + len(b))}
	return raw(t, h.header(base), end, b)
}
