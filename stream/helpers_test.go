package stream_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"testing"
	"time"

	"github.com/hotpipe/hotpipe/stream"
	"github.com/hotpipe/hotpipe/txframe"
)

// The stream layout restated from doc.go, so that the tests check the
// documented format instead of repeating the implementation's constants.
const (
	hdrLen   = 140 // segment header
	fixedLen = 8   // the header's magic, version and length
	endLen   = 80  // end record
	keyLen   = 9   // test keys are "k" and 8 digits
)

// frameLen is the size of one test frame (one put of keyLen key bytes and
// v value bytes), from the frame layout in txframe's doc.go: 8 bytes of
// magic and body length, a body of LSN 8, time 8, entry count 4 and one
// entry (7 header bytes, key, value), then h(n) 32 and CRC 4.
func frameLen(v int) int64 { return int64(8 + 8 + 8 + 4 + 7 + keyLen + v + 32 + 4) }

var (
	testOrigin  = [16]byte{0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xab, 0xac, 0xad, 0xae, 0xaf}
	testCreated = time.Unix(0, 1700000000123456789).UTC()
	castagnoli  = crc32.MakeTable(crc32.Castagnoli)
)

const t0 = 1700000000000000000 // commit time of LSN 0; LSN n commits at t0+n

// history is a database's committed history: the frames of LSNs 1..n,
// chained from h(0) = 32 zero bytes, every frame the same size.
type history struct {
	valueSize int
	frames    [][]byte       // frames[n-1] is the frame of LSN n
	hash      []txframe.Hash // hash[n] = h(n); hash[0] is all zeros
}

// newHistory returns n frames, each one put of a valueSize-byte value.
func newHistory(tb testing.TB, n, valueSize int) *history {
	return makeHistory(tb, n, valueSize, func(uint64) byte { return 'a' })
}

// fork returns a history that shares LSNs 1..at with h and differs from
// LSN at+1 on: the same LSNs, keys and times, other values.
func (h *history) fork(tb testing.TB, at uint64) *history {
	return makeHistory(tb, len(h.frames), h.valueSize, func(lsn uint64) byte {
		if lsn <= at {
			return 'a'
		}
		return 'b'
	})
}

func makeHistory(tb testing.TB, n, valueSize int, fill func(lsn uint64) byte) *history {
	tb.Helper()
	h := &history{valueSize: valueSize, hash: make([]txframe.Hash, 1, n+1)}
	for lsn := uint64(1); lsn <= uint64(n); lsn++ {
		e := txframe.Entry{Op: txframe.OpPut, Key: fmt.Appendf(nil, "k%08d", lsn), Value: bytes.Repeat([]byte{fill(lsn)}, valueSize)}
		f, hn, err := txframe.Append(nil, h.hash[lsn-1], lsn, t0+int64(lsn), []txframe.Entry{e})
		if err != nil {
			tb.Fatalf("Append(LSN %d): %v", lsn, err)
		}
		if int64(len(f)) != frameLen(valueSize) {
			tb.Fatalf("frame of LSN %d is %d bytes; the layout says %d", lsn, len(f), frameLen(valueSize))
		}
		h.frames = append(h.frames, f)
		h.hash = append(h.hash, hn)
	}
	return h
}

// header is the header of a segment of h after LSN base.
func (h *history) header(base uint64) stream.Header {
	return stream.Header{Origin: testOrigin, Name: "foo", Created: testCreated, Base: base, BaseHash: h.hash[base]}
}

// block returns the frames of LSNs first..last, back to back.
func (h *history) block(first, last uint64) []byte {
	var b []byte
	for lsn := first; lsn <= last; lsn++ {
		b = append(b, h.frames[lsn-1]...)
	}
	return b
}

// segment writes the segment of LSNs base+1..last with the package's Writer.
func (h *history) segment(tb testing.TB, base, last uint64) []byte {
	tb.Helper()
	var buf bytes.Buffer
	w, err := stream.NewWriter(&buf, h.header(base))
	if err != nil {
		tb.Fatalf("NewWriter: %v", err)
	}
	if last > base {
		if err := w.WriteFrames(h.block(base+1, last)); err != nil {
			tb.Fatalf("WriteFrames(%d..%d): %v", base+1, last, err)
		}
	}
	if err := w.Close(); err != nil {
		tb.Fatalf("Close: %v", err)
	}
	return buf.Bytes()
}

// open returns a segment of LSNs base+1..last without its end record, as
// an interrupted backup leaves it.
func (h *history) open(tb testing.TB, base, last uint64) []byte {
	tb.Helper()
	s := h.segment(tb, base, last)
	return s[:len(s)-endLen]
}

// end is what the end record of the segment base+1..last must say.
func (h *history) end(base, last uint64) stream.End {
	return stream.End{Frames: last - base, First: base + 1, Last: last, LastHash: h.hash[last],
		Length: uint64(hdrLen + int64(last-base)*frameLen(h.valueSize))}
}

// raw assembles a segment by hand, so that tests can put in it what the
// Writer refuses to write.
func raw(tb testing.TB, hdr stream.Header, end stream.End, frames ...[]byte) []byte {
	tb.Helper()
	b, err := stream.AppendHeader(nil, &hdr)
	if err != nil {
		tb.Fatalf("AppendHeader: %v", err)
	}
	for _, f := range frames {
		b = append(b, f...)
	}
	return stream.AppendEnd(b, &end)
}

// seg locates a segment of LSNs base+1..last whose frames are fl bytes
// each and which starts at offset at of its input.
type seg struct {
	at         int64
	base, last uint64
	fl         int64
}

func (h *history) at(at int64, base, last uint64) seg {
	return seg{at: at, base: base, last: last, fl: frameLen(h.valueSize)}
}

// frame is the offset of the frame of LSN lsn.
func (s seg) frame(lsn uint64) int64 { return s.at + hdrLen + int64(lsn-s.base-1)*s.fl }

// end is the offset of the end record.
func (s seg) end() int64 { return s.frame(s.last + 1) }

// next is the offset just past the end record.
func (s seg) next() int64 { return s.end() + endLen }

// then locates the segment that follows s in the same input.
func (s seg) then(base, last uint64) seg { return seg{at: s.next(), base: base, last: last, fl: s.fl} }

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// inputs names parts in0, in1, ...
func inputs(parts ...[]byte) []stream.Input {
	ins := make([]stream.Input, len(parts))
	for i, p := range parts {
		ins[i] = stream.Input{Name: fmt.Sprintf("in%d", i), R: bytes.NewReader(p)}
	}
	return ins
}

// edit returns a copy of b changed by fn.
func edit(b []byte, fn func(c []byte)) []byte {
	c := bytes.Clone(b)
	fn(c)
	return c
}

// reseal recomputes the CRC32C of whole frame f in place: after an edit
// the frame's checksum is right and only the edit is wrong.
func reseal(f []byte) []byte {
	n := len(f) - 4
	binary.LittleEndian.PutUint32(f[n:], crc32.Checksum(f[:n], castagnoli))
	return f
}

// wantErr is the *stream.Error a case expects.
type wantErr struct {
	is     error // the sentinel, this package's or txframe's
	source string
	offset int64
	lsn    uint64
}

// checkErr checks err against want: nil expects no error.
func checkErr(tb testing.TB, err error, want *wantErr) {
	tb.Helper()
	if want == nil {
		if err != nil {
			tb.Fatalf("unexpected error: %v", err)
		}
		return
	}
	if err == nil {
		tb.Fatalf("no error; want %v at %s offset %d (LSN %d)", want.is, want.source, want.offset, want.lsn)
	}
	if !errors.Is(err, want.is) {
		tb.Errorf("error %q does not wrap %q", err, want.is)
	}
	var se *stream.Error
	if !errors.As(err, &se) {
		tb.Fatalf("error %q (%T) is not a *stream.Error", err, err)
	}
	if se.Source != want.source || se.Offset != want.offset || se.LSN != want.lsn {
		tb.Errorf("error at %q offset %d LSN %d; want %q offset %d LSN %d (%v)",
			se.Source, se.Offset, se.LSN, want.source, want.offset, want.lsn, err)
	}
}

// readResult is what a Reader yielded before it stopped.
type readResult struct {
	bases       []uint64 // Header.Base of each header event
	ends        []stream.End
	frames      []byte // every frame yielded, back to back
	first, last uint64 // their LSNs; 0, 0 when none
	err         error  // nil after io.EOF
}

// readAll reads a stream to its end or first error, checking what every
// event says against the frames it carries.
func readAll(tb testing.TB, ins []stream.Input, opts stream.Options) readResult {
	tb.Helper()
	var res readResult
	r := stream.NewReader(ins, opts)
	for {
		ev, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			res.err = err
			break
		}
		switch ev.Kind {
		case stream.KindHeader:
			res.bases = append(res.bases, ev.Header.Base)
		case stream.KindEnd:
			res.ends = append(res.ends, ev.End)
		case stream.KindFrames:
			if err := checkFramesEvent(ev); err != nil {
				tb.Fatalf("frames event at %s offset %d: %v", ev.Source, ev.Offset, err)
			}
			if res.first != 0 && ev.First != res.last+1 {
				tb.Fatalf("frames %d..%d yielded after %d", ev.First, ev.Last, res.last)
			}
			if res.first == 0 {
				res.first = ev.First
			}
			res.last = ev.Last
			res.frames = append(res.frames, ev.Frames...)
		default:
			tb.Fatalf("event of unknown kind %d", ev.Kind)
		}
	}
	if last, _ := r.Last(); res.first != 0 && last != res.last {
		tb.Errorf("Reader.Last() = %d, but the last frame yielded is %d", last, res.last)
	}
	return res
}

// checkFramesEvent checks that a frames event holds whole frames First..Last
// chained from Prev, and that its LastHash and LastTime are those of the last
// one.
func checkFramesEvent(ev *stream.Event) error {
	lsn, b, prev := ev.First, ev.Frames, ev.Prev
	var last txframe.Header
	for len(b) > 0 {
		h, err := txframe.Peek(b)
		if err != nil {
			return err
		}
		if h.LSN != lsn {
			return fmt.Errorf("frame of LSN %d where %d belongs", h.LSN, lsn)
		}
		if err := txframe.VerifyChain(prev, b[:h.Len]); err != nil {
			return fmt.Errorf("LSN %d from the event's Prev %s: %w", lsn, prev, err)
		}
		last, lsn, b, prev = h, lsn+1, b[h.Len:], h.Hash
	}
	if lsn-1 != ev.Last || lsn == ev.First || last.Hash != ev.LastHash || last.Time != ev.LastTime {
		return fmt.Errorf("event says LSN %d..%d, h %s, time %d; its frames end at %d, h %s, time %d",
			ev.First, ev.Last, ev.LastHash, ev.LastTime, lsn-1, last.Hash, last.Time)
	}
	return nil
}
