package stream_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/hotpipe/hotpipe/stream"
)

// TestWriterBytes: a segment is the header's encoding, the frames exactly
// as given, and an end record that counts them.
func TestWriterBytes(t *testing.T) {
	h := newHistory(t, 12, 100)
	var buf bytes.Buffer
	w, err := stream.NewWriter(&buf, h.header(2))
	if err != nil {
		t.Fatal(err)
	}
	hdr := h.header(2)
	wantHdr, err := stream.AppendHeader(nil, &hdr)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), wantHdr) || buf.Len() != hdrLen {
		t.Fatalf("NewWriter wrote %d bytes %x; want the %d-byte header %x", buf.Len(), buf.Bytes(), hdrLen, wantHdr)
	}
	if got, want := w.End(), h.end(2, 2); got != want {
		t.Errorf("End() of an empty segment = %+v; want %+v", got, want)
	}
	for _, r := range [][2]uint64{{3, 3}, {4, 9}, {10, 12}} { // blocks of one and several frames
		if err := w.WriteFrames(h.block(r[0], r[1])); err != nil {
			t.Fatalf("WriteFrames(%d..%d): %v", r[0], r[1], err)
		}
		if got, want := w.End(), h.end(2, r[1]); got != want {
			t.Errorf("End() after %d..%d = %+v; want %+v", r[0], r[1], got, want)
		}
	}
	if err := w.WriteFrames(nil); err != nil {
		t.Errorf("WriteFrames(nil): %v", err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	end := h.end(2, 12)
	want := cat(wantHdr, h.block(3, 12), stream.AppendEnd(nil, &end))
	if !bytes.Equal(buf.Bytes(), want) {
		t.Fatalf("segment differs from header + frames + end record")
	}
	got, err := stream.DecodeEnd(buf.Bytes()[buf.Len()-endLen:])
	if err != nil || got != end {
		t.Errorf("DecodeEnd(written end record) = %+v, %v; want %+v", got, err, end)
	}
}

// TestWriterRefuses: what the Writer refuses, it does not write, and its
// end record is unchanged.
func TestWriterRefuses(t *testing.T) {
	h := newHistory(t, 10, 100)
	for _, c := range []struct {
		name  string
		block []byte
		is    error // nil: any error
	}{
		{"a gap", cat(h.block(1, 3), h.block(5, 5)), stream.ErrGap},
		{"a gap before the block", h.block(2, 3), stream.ErrGap},
		{"frames already written", h.block(1, 1), stream.ErrGap},
		{"frames out of order", cat(h.block(1, 1), h.block(3, 3), h.block(2, 2)), stream.ErrGap},
		{"a partial frame", h.block(1, 3)[:2*frameLen(100)+10], nil},
		{"bytes that are not frames", []byte("not a frame at all"), nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			var buf bytes.Buffer
			w, err := stream.NewWriter(&buf, h.header(0))
			if err != nil {
				t.Fatal(err)
			}
			if c.name == "frames already written" {
				if err := w.WriteFrames(h.block(1, 2)); err != nil {
					t.Fatal(err)
				}
			}
			before, n := w.End(), buf.Len()
			err = w.WriteFrames(c.block)
			if err == nil || c.is != nil && !errors.Is(err, c.is) {
				t.Fatalf("WriteFrames: %v; want %v", err, c.is)
			}
			if buf.Len() != n || w.End() != before {
				t.Errorf("after a refused block: wrote %d bytes, End() %+v; want nothing written, %+v", buf.Len()-n, w.End(), before)
			}
		})
	}
}

// TestNewWriterRefusesName: the source name is 1..63 bytes; a header that
// cannot be encoded is not written.
func TestNewWriterRefusesName(t *testing.T) {
	h := newHistory(t, 1, 10)
	for _, name := range []string{"", strings.Repeat("n", 64)} {
		var buf bytes.Buffer
		hdr := h.header(0)
		hdr.Name = name
		if _, err := stream.NewWriter(&buf, hdr); !errors.Is(err, stream.ErrFormat) || buf.Len() != 0 {
			t.Errorf("NewWriter(name of %d bytes): %v, wrote %d bytes; want ErrFormat and nothing", len(name), err, buf.Len())
		}
	}
	hdr := h.header(0)
	hdr.Name = strings.Repeat("n", 63)
	if _, err := stream.NewWriter(new(bytes.Buffer), hdr); err != nil {
		t.Errorf("NewWriter(63-byte name): %v", err)
	}
}

// TestResumeWriter: a segment interrupted after some frames and resumed
// ends exactly as if it had been written in one go.
func TestResumeWriter(t *testing.T) {
	h := newHistory(t, 20, 100)
	for _, stop := range []uint64{5, 10, 20} { // frames written before the interruption
		interrupted := h.open(t, 5, stop)
		buf := bytes.NewBuffer(bytes.Clone(interrupted))
		w := stream.ResumeWriter(buf, h.header(5), stop, h.hash[stop], int64(len(interrupted)))
		if got, want := w.End(), h.end(5, stop); got != want {
			t.Errorf("stop %d: End() of the resumed segment = %+v; want %+v", stop, got, want)
		}
		if stop < 20 {
			if err := w.WriteFrames(h.block(stop+1, 20)); err != nil {
				t.Fatalf("stop %d: WriteFrames: %v", stop, err)
			}
		}
		if err := w.WriteFrames(h.block(stop, stop)); !errors.Is(err, stream.ErrGap) {
			t.Errorf("stop %d: WriteFrames of LSN %d again: %v; want ErrGap", stop, stop, err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(buf.Bytes(), h.segment(t, 5, 20)) {
			t.Errorf("stop %d: resumed segment differs from one written in one go", stop)
		}
	}
}

// TestWriterClose: Close writes the end record once; later calls do
// nothing, and frames after it are refused.
func TestWriterClose(t *testing.T) {
	h := newHistory(t, 3, 10)
	var buf bytes.Buffer
	w, err := stream.NewWriter(&buf, h.header(0))
	if err != nil {
		t.Fatal(err)
	}
	if err := w.WriteFrames(h.block(1, 3)); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if err := w.Close(); err != nil {
			t.Fatalf("Close #%d: %v", i+1, err)
		}
	}
	if !bytes.Equal(buf.Bytes(), h.segment(t, 0, 3)) {
		t.Errorf("after three Closes the output is not one segment with one end record")
	}
	n := buf.Len()
	if err := w.WriteFrames(nil); err == nil || buf.Len() != n {
		t.Errorf("WriteFrames after Close: %v, wrote %d bytes; want an error and nothing", err, buf.Len()-n)
	}
}

// failWriter accepts ok bytes, then fails every write.
type failWriter struct {
	ok  int
	buf bytes.Buffer
}

var errDisk = errors.New("disk full")

func (f *failWriter) Write(p []byte) (int, error) {
	if f.buf.Len()+len(p) > f.ok {
		return 0, errDisk
	}
	return f.buf.Write(p)
}

// TestWriterReportsWriteErrors: a failed write is returned, and a block
// that was not written does not count in the end record.
func TestWriterReportsWriteErrors(t *testing.T) {
	h := newHistory(t, 4, 10)
	if _, err := stream.NewWriter(&failWriter{ok: hdrLen - 1}, h.header(0)); !errors.Is(err, errDisk) {
		t.Errorf("NewWriter on a failing writer: %v; want %v", err, errDisk)
	}
	fw := &failWriter{ok: hdrLen + len(h.block(1, 2))}
	w, err := stream.NewWriter(fw, h.header(0))
	if err != nil {
		t.Fatal(err)
	}
	if err := w.WriteFrames(h.block(1, 2)); err != nil {
		t.Fatal(err)
	}
	if err := w.WriteFrames(h.block(3, 4)); !errors.Is(err, errDisk) {
		t.Errorf("WriteFrames on a failing writer: %v; want %v", err, errDisk)
	}
	if got, want := w.End(), h.end(0, 2); got != want {
		t.Errorf("End() after a failed write = %+v; want %+v", got, want)
	}
	if err := w.Close(); !errors.Is(err, errDisk) {
		t.Errorf("Close on a failing writer: %v; want %v", err, errDisk)
	}
}
