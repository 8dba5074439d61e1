package stream_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/hotpipe/hotpipe/stream"
	"github.com/hotpipe/hotpipe/txframe"
)

// transcript reads ins as verify does (KeepGoing, Resync after each
// error) and writes down everything the reader said: each event (kind,
// source, offset, LSNs, hashes, the frames' bytes) and each error, in
// full, with what Resync skipped after it.
func transcript(tb testing.TB, ins []stream.Input, opts stream.Options) (string, uint64) {
	tb.Helper()
	opts.KeepGoing = true
	r := stream.NewReader(ins, opts)
	defer r.Close()
	var out bytes.Buffer
	for i := 0; ; i++ {
		if i > 1<<16 {
			tb.Fatalf("more than %d events", i)
		}
		ev, err := r.Next()
		if err == io.EOF {
			return out.String(), stream.Hinted(r)
		}
		if err != nil {
			var se *stream.Error
			if !errors.As(err, &se) {
				tb.Fatalf("error %v (%T) is not a *stream.Error", err, err)
			}
			fmt.Fprintf(&out, "error %s@%d LSN %d: %v; skipped %d\n", se.Source, se.Offset, se.LSN, err, r.Resync())
			continue
		}
		if ev.Kind != stream.KindFrames {
			fmt.Fprintf(&out, "event %d %s@%d base %d end %+v\n", ev.Kind, ev.Source, ev.Offset, ev.Header.Base, ev.End)
			continue
		}
		// Frames events are cut where the buffer ends, so frames are
		// written down one by one.
		off, prev := ev.Offset, ev.Prev
		for f := range txframe.Frames(ev.Frames) {
			lsn, tm := txframe.Fields(f)
			fmt.Fprintf(&out, "frame %s@%d LSN %d time %d prev %s h %s body %x\n", ev.Source, off, lsn, tm, prev, txframe.StoredHash(f), txframe.BodySum(f))
			off, prev = off+int64(len(f)), txframe.StoredHash(f)
		}
		if prev != ev.LastHash {
			tb.Fatalf("event's last hash %s; its last frame's %s", ev.LastHash, prev)
		}
	}
}

// damaged returns the copies of clean that a test reads: one byte flipped
// at each offset in offs, and cuts at each offset in cuts.
func damaged(clean []byte, offs, cuts []int64) map[string][]byte {
	out := map[string][]byte{"clean": clean}
	for _, off := range offs {
		out[fmt.Sprintf("flip@%d", off)] = edit(clean, func(c []byte) { c[off] ^= 0x40 })
	}
	for _, off := range cuts {
		out[fmt.Sprintf("cut@%d", off)] = clean[:off]
	}
	return out
}

// Reading ahead (hashing and CRCs on other goroutines, blocks cut where
// the scan finds records) changes nothing the reader says: the same
// events with the same bytes, and the same errors at the same places, as
// the serial reader, for damage at every kind of place (frame starts,
// lengths, bodies, stored hashes, CRCs, headers, end records), cuts, blocks
// smaller than a frame, and inputs that come a byte or a few at a time.
func TestReadAheadSaysWhatTheSerialReaderSays(t *testing.T) {
	defer stream.SetReadAheadBlock(3000)()
	cases := aheadCases(t)
	readers := map[string]func(b []byte) io.Reader{
		"whole":    func(b []byte) io.Reader { return bytes.NewReader(b) },
		"one byte": func(b []byte) io.Reader { return iotest.OneByteReader(bytes.NewReader(b)) },
		"halves":   func(b []byte) io.Reader { return iotest.HalfReader(bytes.NewReader(b)) },
	}
	for name, data := range cases {
		for rname, rd := range readers {
			if rname == "one byte" && len(data) > 0 && name != "clean" && name != "big frames" {
				continue // a byte at a time is slow: the clean and big streams are enough
			}
			t.Run(name+"/"+rname, func(t *testing.T) {
				for _, quick := range []bool{false, true} {
					serial, _ := transcript(t, []stream.Input{{Name: "in", R: rd(data)}}, stream.Options{Quick: quick})
					ahead, hinted := transcript(t, []stream.Input{{Name: "in", R: rd(data)}}, stream.Options{Quick: quick, ReadAhead: true})
					if serial != ahead {
						t.Fatalf("quick %v: read ahead:\n%s\nserially:\n%s", quick, ahead, serial)
					}
					if frames := uint64(strings.Count(serial, "frame ")); (name == "clean" || name == "big frames") && hinted != frames {
						t.Errorf("quick %v: %d of %d frames checked with a hint: the read-ahead did not do the work", quick, hinted, frames)
					}
				}
			})
		}
	}
}

// A read error ends the input where it happened, after every byte before
// it, as it does when reading serially; and a Reader closed midway stops
// its read-ahead (the goroutines end: no test hangs, the race detector
// sees no use of a released block).
func TestReadAheadErrorsAndClose(t *testing.T) {
	defer stream.SetReadAheadBlock(4000)()
	h := newHistory(t, 30, 900)
	data := h.segment(t, 0, 30)
	boom := errors.New("disk said no")
	for _, at := range []int{0, 100, 5000, len(data) - 10} {
		mk := func() []stream.Input {
			return []stream.Input{{Name: "in", R: io.MultiReader(bytes.NewReader(data[:at]), iotest.ErrReader(boom))}}
		}
		serial, _ := transcript(t, mk(), stream.Options{})
		ahead, _ := transcript(t, mk(), stream.Options{ReadAhead: true})
		if serial != ahead {
			t.Errorf("error after %d bytes: read ahead:\n%s\nserially:\n%s", at, ahead, serial)
		}
	}
	// Closed midway, with the input a pipe that stays open: the read
	// blocked on it is left to Cancelable (here: the pipe's close), and
	// every goroutine of the read-ahead ends.
	base := runtime.NumGoroutine()
	pr, pw := io.Pipe()
	go func() {
		pw.Write(data) // returns once read, or when the pipe is closed
	}()
	r := stream.NewReader([]stream.Input{{Name: "pipe", R: pr}}, stream.Options{ReadAhead: true})
	if _, err := r.Next(); err != nil {
		t.Fatal(err)
	}
	r.Close()
	r.Close() // twice is harmless
	pr.CloseWithError(errors.New("reader gone"))
	stream.WaitReadAhead(r)
	for i := 0; runtime.NumGoroutine() > base; i++ {
		if i == 1_000_000 {
			t.Fatalf("%d goroutines after Close, %d before", runtime.NumGoroutine(), base)
		}
		runtime.Gosched()
	}
}

// FuzzReadAhead reads arbitrary bytes, in one input and split in two,
// serially and read ahead with blocks smaller than most frames: the two
// must say the same, frame by frame and error by error, full and quick.
func FuzzReadAhead(f *testing.F) {
	h := newHistory(f, 6, 300)
	clean := cat(h.segment(f, 0, 4), h.segment(f, 4, 6))
	f.Add(clean, uint16(500))
	f.Add(edit(clean, func(c []byte) { c[hdrLen+frameLen(300)+40] ^= 1 }), uint16(0))
	f.Add(clean[:len(clean)-100], uint16(1000))
	f.Fuzz(func(t *testing.T, data []byte, split uint16) {
		defer stream.SetReadAheadBlock(256)()
		k := int(split) % (len(data) + 1)
		for _, parts := range [][][]byte{{data}, {data[:k], data[k:]}} {
			for _, quick := range []bool{false, true} {
				serial, _ := transcript(t, inputs(parts...), stream.Options{Quick: quick})
				ahead, _ := transcript(t, inputs(parts...), stream.Options{Quick: quick, ReadAhead: true})
				if serial != ahead {
					t.Fatalf("%d input(s), quick %v: read ahead:\n%s\nserially:\n%s", len(parts), quick, ahead, serial)
				}
			}
		}
	})
}
