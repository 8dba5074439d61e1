package verify_test

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/hotpipe/hotpipe/stream"
	"github.com/hotpipe/hotpipe/txframe"
	"github.com/hotpipe/hotpipe/verify"
)

// The stream layout, restated from stream's doc.go so that offsets in the
// tests come from the documented format.
const (
	hdrLen = 140 // segment header
	endLen = 80  // end record
)

const t0 = 1700000000000000000 // commit time of LSN 0; LSN n commits at t0+n

var (
	testOrigin  = txframe.Origin{0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xab, 0xac, 0xad, 0xae, 0xaf}
	otherOrigin = txframe.Origin{0xb0, 0xb1, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xbb, 0xbc, 0xbd, 0xbe, 0xbf}
	testCreated = time.Unix(0, 1700000000123456789).UTC()
)

// history is a database's committed history: the frames of LSNs 1..n,
// chained from h(0), every frame the same size.
type history struct {
	origin txframe.Origin
	frames [][]byte       // frames[n-1] is the frame of LSN n
	hash   []txframe.Hash // hash[n] = h(n)
}

// newHistory returns n frames of one put each, value bytes value.
func newHistory(tb testing.TB, n int, value byte) *history {
	tb.Helper()
	h := &history{origin: testOrigin, hash: make([]txframe.Hash, 1, n+1)}
	for lsn := uint64(1); lsn <= uint64(n); lsn++ {
		f, hn := frameFrom(tb, h.hash[lsn-1], lsn, value)
		h.frames = append(h.frames, f)
		h.hash = append(h.hash, hn)
	}
	return h
}

// frameFrom makes the frame of LSN lsn chained from prev.
func frameFrom(tb testing.TB, prev txframe.Hash, lsn uint64, value byte) ([]byte, txframe.Hash) {
	tb.Helper()
	e := txframe.Entry{Op: txframe.OpPut, Key: fmt.Appendf(nil, "k%08d", lsn), Value: bytes.Repeat([]byte{value}, 40)}
	f, hn, err := txframe.Append(nil, prev, lsn, t0+int64(lsn), []txframe.Entry{e})
	if err != nil {
		tb.Fatalf("Append(LSN %d): %v", lsn, err)
	}
	return f, hn
}

// frameLen is the size of every frame of every test history.
func (h *history) frameLen() int64 { return int64(len(h.frames[0])) }

func (h *history) header(base uint64) stream.Header {
	return stream.Header{Origin: h.origin, Name: "foo", Created: testCreated, Base: base, BaseHash: h.hash[base]}
}

func (h *history) block(first, last uint64) []byte {
	var b []byte
	for lsn := first; lsn <= last; lsn++ {
		b = append(b, h.frames[lsn-1]...)
	}
	return b
}

// segment is the segment of LSNs base+1..last, written by stream.Writer.
func (h *history) segment(tb testing.TB, base, last uint64) []byte {
	tb.Helper()
	var buf bytes.Buffer
	w, err := stream.NewWriter(&buf, h.header(base))
	if err != nil {
		tb.Fatal(err)
	}
	if last > base {
		if err := w.WriteFrames(h.block(base+1, last)); err != nil {
			tb.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// open is the segment of LSNs base+1..last without its end record.
func (h *history) open(tb testing.TB, base, last uint64) []byte {
	s := h.segment(tb, base, last)
	return s[:len(s)-endLen]
}

// end is what the end record of segment base+1..last says.
func (h *history) end(base, last uint64) stream.End {
	return stream.End{Frames: last - base, First: base + 1, Last: last, LastHash: h.hash[last],
		Length: uint64(hdrLen + int64(last-base)*h.frameLen())}
}

// raw assembles a segment by hand, with what stream.Writer refuses to write.
func raw(tb testing.TB, hdr stream.Header, end stream.End, frames ...[]byte) []byte {
	tb.Helper()
	b, err := stream.AppendHeader(nil, &hdr)
	if err != nil {
		tb.Fatal(err)
	}
	return stream.AppendEnd(append(b, bytes.Join(frames, nil)...), &end)
}

// at locates the frame of LSN lsn, in a segment based at base that starts
// at offset segAt of its input.
func (h *history) at(segAt int64, base, lsn uint64) int64 {
	return segAt + hdrLen + int64(lsn-base-1)*h.frameLen()
}

// segLen is the length of segment base+1..last with its end record.
func (h *history) segLen(base, last uint64) int64 {
	return hdrLen + int64(last-base)*h.frameLen() + endLen
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// flip returns a copy of b with the byte at off inverted.
func flip(b []byte, off int64) []byte {
	c := bytes.Clone(b)
	c[off] ^= 0xff
	return c
}

// named makes inputs named a, b, c, ... of parts.
func named(parts ...[]byte) []stream.Input {
	ins := make([]stream.Input, len(parts))
	for i, p := range parts {
		ins[i] = stream.Input{Name: string(rune('a' + i)), R: bytes.NewReader(p)}
	}
	return ins
}

// want is a finding a test expects.
type want struct {
	is     error
	source string
	offset int64
	lsn    uint64
}

// checkFindings checks got against want, in order, by sentinel and place,
// and that each finding is its sentinel to errors.Is.
func checkFindings(tb testing.TB, got []verify.Finding, wants []want) {
	tb.Helper()
	if len(got) != len(wants) {
		tb.Fatalf("%d findings, want %d: %v", len(got), len(wants), got)
	}
	for i, w := range wants {
		f := got[i]
		if !errors.Is(f, w.is) || !errors.Is(f.Err, w.is) {
			tb.Errorf("finding %d (%v) is not %v", i+1, f, w.is)
		}
		if f.Source != w.source || f.Offset != w.offset || f.LSN != w.lsn {
			tb.Errorf("finding %d at %q offset %d LSN %d; want %q offset %d LSN %d (%v)",
				i+1, f.Source, f.Offset, f.LSN, w.source, w.offset, w.lsn, f)
		}
	}
}

// sameFindings reports whether two lists hold the same findings in order.
func sameFindings(a, b []verify.Finding) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
