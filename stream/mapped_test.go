package stream_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/hotpipe/hotpipe/stream"
)

// fileOf writes data to a new file and opens it at offset at.
func fileOf(tb testing.TB, data []byte, at int64) *os.File {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "in.backup")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		tb.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { f.Close() })
	if _, err := f.Seek(at, io.SeekStart); err != nil {
		tb.Fatal(err)
	}
	return f
}

// mapsIt reports whether a Reader with MapFiles maps the file f holds from
// its offset, which it leaves where it was.
func mapsIt(tb testing.TB, f *os.File) bool {
	tb.Helper()
	at, _ := f.Seek(0, io.SeekCurrent)
	defer f.Seek(at, io.SeekStart)
	r := stream.NewReader([]stream.Input{{Name: "in", R: f}}, stream.Options{ReadAhead: true, MapFiles: true})
	defer r.Close()
	r.Next()
	return stream.Mapped(r) == 1
}

// aheadCases are the streams the read-ahead's tests read, serially and
// ahead: clean, damaged at every kind of place, cut, with frames larger
// than a block of 3000 bytes, and with junk between segments.
func aheadCases(t testing.TB) map[string][]byte {
	h := newHistory(t, 40, 900)                             // frames of about 1 KiB
	big := newHistory(t, 3, 7000)                           // frames larger than a block
	clean := cat(h.segment(t, 0, 25), h.segment(t, 25, 40)) // two segments
	s1 := h.at(0, 0, 25)
	s2 := s1.then(25, 40)
	var offs []int64
	for _, lsn := range []uint64{1, 2, 7, 13, 25} {
		f := s1.frame(lsn)
		offs = append(offs, f, f+1, f+5, f+9, f+100, f+s1.fl-40, f+s1.fl-1)
	}
	offs = append(offs, 3, 60, s1.end(), s1.end()+20, s1.end()+79, s2.at, s2.at+100, s2.frame(26)+7, s2.frame(40)+500, s2.end()+10)
	cuts := []int64{1, 4, hdrLen, s1.frame(3) + 3, s1.frame(3) + 8, s1.frame(9) + 500, s1.end() + 40, s2.at + 70, s2.end(), s2.next() - 1}
	cases := damaged(clean, offs, cuts)
	cases["big frames"] = big.segment(t, 0, 3)
	cases["big frames, one flipped"] = edit(cases["big frames"], func(c []byte) { c[hdrLen+frameLen(7000)+3000] ^= 1 })
	cases["big frames, cut"] = cases["big frames"][:hdrLen+frameLen(7000)+5000]
	cases["junk between segments"] = cat(h.segment(t, 0, 25), bytes.Repeat([]byte("HPF1junk"), 700), h.segment(t, 25, 40))
	return cases
}

// A mapped file (the CRCs and hashes read its pages in place, no copy)
// says what the serial reader says of the same bytes (and a Quick read of
// it, not mapped, too): the same events and the same errors at the same
// places, for damage at every kind of place, cuts, frames larger than a
// block, a file read from an offset, a mapping that ends before the file
// does (the rest read as it comes), and two files in a row.
func TestMappedSaysWhatTheSerialReaderSays(t *testing.T) {
	defer stream.SetReadAheadBlock(3000)()
	cases := aheadCases(t)
	h := newHistory(t, 40, 900)
	bounds := map[string]int64{"whole file": 1 << 40, "first 10000 bytes": 10000, "first 7 bytes": 7}
	for name, data := range cases {
		for bname, most := range bounds {
			t.Run(name+"/"+bname, func(t *testing.T) {
				defer stream.SetMapBounds(0, most)()
				for _, quick := range []bool{false, true} {
					serial, _ := transcript(t, []stream.Input{{Name: "in", R: bytes.NewReader(data)}}, stream.Options{Quick: quick})
					f := fileOf(t, data, 0)
					if (name == "clean" || name == "big frames") && !mapsIt(t, f) {
						t.Fatal("the file was not mapped")
					}
					mapped, hinted := transcript(t, []stream.Input{{Name: "in", R: f}}, stream.Options{Quick: quick, ReadAhead: true, MapFiles: true})
					if serial != mapped {
						t.Fatalf("quick %v: mapped:\n%s\nserially:\n%s", quick, mapped, serial)
					}
					if name == "clean" || name == "big frames" {
						if hinted == 0 {
							t.Errorf("quick %v: no frame checked with a hint", quick)
						}
					}
				}
			})
		}
	}
	t.Run("from an offset, two files", func(t *testing.T) {
		defer stream.SetMapBounds(0, 1<<40)()
		junk := bytes.Repeat([]byte{7}, 5000)
		a, b := fileOf(t, cat(junk, h.segment(t, 0, 25)), int64(len(junk))), fileOf(t, h.segment(t, 25, 40), 0)
		if !mapsIt(t, a) || !mapsIt(t, b) {
			t.Fatal("not mapped")
		}
		serial, _ := transcript(t, inputs(h.segment(t, 0, 25), h.segment(t, 25, 40)), stream.Options{})
		mapped, _ := transcript(t, []stream.Input{{Name: "in0", R: a}, {Name: "in1", R: b}}, stream.Options{ReadAhead: true, MapFiles: true})
		if serial != mapped {
			t.Fatalf("mapped:\n%s\nserially:\n%s", mapped, serial)
		}
	})
}

// Files that are not mapped: too small, compressed, or not starting with
// a segment header where they are read from; and by a Reader without
// MapFiles, or a Quick one.
func TestMappedOnlyPlainFiles(t *testing.T) {
	h := newHistory(t, 10, 900)
	data := h.segment(t, 0, 10)
	func() {
		defer stream.SetMapBounds(int64(len(data))+1, 1<<40)()
		if mapsIt(t, fileOf(t, data, 0)) {
			t.Error("a file smaller than the least mapped was mapped")
		}
	}()
	defer stream.SetMapBounds(0, 1<<40)()
	if mapsIt(t, fileOf(t, data, 1)) {
		t.Error("a file read from inside its header was mapped")
	}
	if mapsIt(t, fileOf(t, gzipGo(t, data), 0)) {
		t.Error("a gzip file was mapped")
	}
	for name, opts := range map[string]stream.Options{"without MapFiles": {ReadAhead: true}, "quick": {ReadAhead: true, MapFiles: true, Quick: true}} {
		r := stream.NewReader([]stream.Input{{Name: "in", R: fileOf(t, data, 0)}}, opts)
		r.Next()
		if stream.Mapped(r) != 0 {
			t.Errorf("mapped %s", name)
		}
		r.Close()
	}
}

// A mapped file that shrinks while it is read ends there, never with a
// crash: the frames before are given, then an error, and the reader goes
// on with the next input (here the whole stream again: its frames after
// the error are new). Cut to nothing, every byte after the first event
// faults, so the error is ErrTruncated caused by ErrShrank, at the offset
// after the header. Cut inside (a page cache of large folios may keep
// the pages past the end a while, or zero them), the frames given stay
// contiguous: none checked before the fault in a block that was not given
// is counted as given.
func TestMappedFileShrinks(t *testing.T) {
	defer stream.SetMapBounds(0, 1<<40)()
	defer stream.SetReadAheadBlock(3000)()
	h := newHistory(t, 60, 900)
	data := h.segment(t, 0, 60)
	page := int64(os.Getpagesize())
	for _, keep := range []int64{0, page, 3 * page, 5*page + 100} {
		f := fileOf(t, data, 0)
		r := stream.NewReader([]stream.Input{{Name: "in", R: f}, {Name: "next", R: bytes.NewReader(data)}},
			stream.Options{ReadAhead: true, MapFiles: true, KeepGoing: true})
		if _, err := r.Next(); err != nil || stream.Mapped(r) != 1 {
			t.Fatalf("first event: %v, mapped %d", err, stream.Mapped(r))
		}
		if err := os.Truncate(f.Name(), keep); err != nil {
			t.Fatal(err)
		}
		var last, atErr uint64
		var errs []error
		headers := 0
		for {
			ev, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				errs, atErr = append(errs, err), last
				r.Resync()
				continue
			}
			switch ev.Kind {
			case stream.KindFrames:
				if ev.First != last+1 {
					t.Fatalf("keep %d: frames %d..%d after %d", keep, ev.First, ev.Last, last)
				}
				last = ev.Last
			case stream.KindHeader:
				headers++
			}
		}
		r.Close()
		if headers != 1 || last != 60 {
			t.Errorf("keep %d: %d headers after the first, frames up to LSN %d: the next input was not read", keep, headers, last)
		}
		if len(errs) == 0 {
			t.Fatalf("keep %d: no error", keep)
		}
		if keep > 0 {
			continue
		}
		var se *stream.Error
		if len(errs) != 1 || !errors.Is(errs[0], stream.ErrTruncated) || !errors.Is(errs[0], stream.ErrShrank) || !errors.As(errs[0], &se) {
			t.Fatalf("keep %d: errors %v, want one ErrTruncated caused by ErrShrank", keep, errs)
		}
		if se.Source != "in" || se.Offset != hdrLen || se.LSN != 1 || atErr != 0 {
			t.Errorf("keep %d: error at %s@%d LSN %d after LSN %d; want in@%d LSN 1 after none", keep, se.Source, se.Offset, se.LSN, atErr, hdrLen)
		}
	}
}
