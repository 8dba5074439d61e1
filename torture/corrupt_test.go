//go:build unix

package torture

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"testing"

	"github.com/hotpipe/hotpipe/stream"
	"github.com/hotpipe/hotpipe/txframe"
)

// campaignFile is a backup of 300 small frames in two segments (LSN 1..150,
// then 151..300 appended), with where each frame and record lies.
type campaignFile struct {
	data   []byte
	frames []span // in file order
	joint  int    // offset where the second segment starts
}

// span is a frame's bytes and LSN.
type span struct {
	off, end int
	lsn      uint64
}

func (h *harness) campaignFile() campaignFile {
	h.t.Helper()
	h.must("db", "create", "src", "-q")
	h.must("load", "src", "-q", "--txs", "300", "--value-size", "40", "--workers", "1")
	file := h.path("clean.backup")
	h.must("hot-backup", "src", "-q", "-o", file, "--end-lsn", "150")
	first, err := os.Stat(file)
	if err != nil {
		h.t.Fatal(err)
	}
	h.must("hot-backup", "src", "-q", "-o", file, "--append")
	data, err := os.ReadFile(file)
	if err != nil {
		h.t.Fatal(err)
	}
	return campaignFile{data: data, frames: frameSpans(h.t, data), joint: int(first.Size())}
}

// frameSpans reads a clean stream and returns where each frame lies.
func frameSpans(t *testing.T, data []byte) []span {
	t.Helper()
	r := stream.NewReader([]stream.Input{{Name: "clean", R: bytes.NewReader(data)}}, stream.Options{})
	var spans []span
	for {
		ev, err := r.Next()
		if err == io.EOF {
			return spans
		}
		if err != nil {
			t.Fatal(err)
		}
		if ev.Kind != stream.KindFrames {
			continue
		}
		off, b := int(ev.Offset), ev.Frames
		for len(b) > 0 {
			fh, err := txframe.Peek(b)
			if err != nil {
				t.Fatal(err)
			}
			spans = append(spans, span{off: off, end: off + fh.Len, lsn: fh.LSN})
			off, b = off+fh.Len, b[fh.Len:]
		}
	}
}

// frameAt returns the frame holding byte pos, if a frame does.
func (c campaignFile) frameAt(pos int) (span, bool) {
	i := sort.Search(len(c.frames), func(i int) bool { return c.frames[i].end > pos })
	if i < len(c.frames) && c.frames[i].off <= pos {
		return c.frames[i], true
	}
	return span{}, false
}

// lastBefore returns the LSN of the last frame that ends at or before pos.
func (c campaignFile) lastBefore(pos int) uint64 {
	var lsn uint64
	for _, f := range c.frames {
		if f.end <= pos {
			lsn = f.lsn
		}
	}
	return lsn
}

// positions returns n distinct random offsets below size, or all of them
// when n is 0 or at least size, in order.
func (h *harness) positions(size, n int) []int {
	if n <= 0 || n >= size {
		n = size
	}
	picked := h.rng.Perm(size)[:n]
	sort.Ints(picked)
	return picked
}

// TestFlippedBytes damages one byte of a backup at a time: verify must
// report it (naming the LSN when the byte is in a frame) and hot-restore
// must fail without committing the damaged frame or anything after it.
func TestFlippedBytes(t *testing.T) {
	h := newHarness(t)
	c := h.campaignFile()
	bad := h.path("bad.backup")
	byCode := map[int]int{}
	for _, pos := range h.positions(len(c.data), *flips) {
		data := bytes.Clone(c.data)
		data[pos] ^= byte(1 + h.rng.IntN(255))
		if err := os.WriteFile(bad, data, 0o600); err != nil {
			t.Fatal(err)
		}
		out, errs, code := h.run("verify", "-i", bad)
		if code == 0 {
			t.Fatalf("byte %d flipped: verify passed it\n%s", pos, out)
		}
		byCode[code]++
		f, inFrame := c.frameAt(pos)
		if inFrame && !regexp.MustCompile(fmt.Sprintf(`\bLSN %d\b`, f.lsn)).MatchString(out+errs) {
			t.Fatalf("byte %d flipped, in the frame of LSN %d: the report does not name it:\n%s%s", pos, f.lsn, out, errs)
		}
		db := "d" + strconv.Itoa(pos)
		if _, errs, code := h.run("hot-restore", db, "-q", "-i", bad); code == 0 {
			t.Fatalf("byte %d flipped: hot-restore succeeded\n%s", pos, errs)
		}
		if h.exists(db) {
			st := h.healthy(db)
			if limit := c.lastBefore(pos); st.LastLSN > limit && pos < c.frames[len(c.frames)-1].end {
				t.Fatalf("byte %d flipped: restore committed LSN %d, past the last good frame %d", pos, st.LastLSN, limit)
			}
			os.RemoveAll(filepath.Join(h.data, db))
		}
	}
	n := len(h.positions(len(c.data), *flips))
	results.add(fmt.Sprintf("one byte changed (random mask) in a backup of 300 frames, two segments, %d bytes: `verify` and `hot-restore`", len(c.data)), n,
		"every change detected (verify exit 3: %d, exit 4: %d, other: %d), the frame's LSN named; restore failed and committed nothing from the damaged frame on",
		byCode[3], byCode[4], n-byCode[3]-byCode[4])
}

// TestTruncatedEverywhere cuts the backup at every byte offset (-reads 0) or
// a sample of them and reads it in-process, then checks a sample through the
// CLI: a cut is reported as
// truncation (exit 3), except at the segment boundary, where what remains
// is a shorter valid stream.
func TestTruncatedEverywhere(t *testing.T) {
	h := newHarness(t)
	c := h.campaignFile()
	offsets := append(h.positions(len(c.data), *reads), c.joint)
	for _, cut := range offsets {
		last, err := readAll(c.data[:cut])
		switch {
		case cut == c.joint:
			if err != nil || last != 150 {
				t.Fatalf("cut at the segment boundary %d: last LSN %d, %v; want a valid stream to 150", cut, last, err)
			}
		case cut == 0 && errors.Is(err, stream.ErrEmpty):
		case !errors.Is(err, stream.ErrTruncated):
			t.Fatalf("cut at %d of %d: %v, want truncation", cut, len(c.data), err)
		}
	}
	cut := h.path("cut.backup")
	sample := append(h.positions(len(c.data), *cuts), c.joint)
	for i, at := range sample {
		if err := os.WriteFile(cut, c.data[:at], 0o600); err != nil {
			t.Fatal(err)
		}
		want := 3
		if at == c.joint {
			want = 0
		}
		if _, errs, code := h.run("verify", "-i", cut); code != want && !(at == 0 && code == 3) {
			t.Fatalf("cut at %d: verify exit %d, want %d\n%s", at, code, want, errs)
		}
		db := "t" + strconv.Itoa(i)
		_, _, code := h.run("hot-restore", db, "-q", "-i", cut)
		if code != want {
			t.Fatalf("cut at %d: hot-restore exit %d, want %d", at, code, want)
		}
		if h.exists(db) {
			if st := h.healthy(db); st.LastLSN > c.lastBefore(at) {
				t.Fatalf("cut at %d: restored LSN %d of a stream cut after %d", at, st.LastLSN, c.lastBefore(at))
			}
		}
	}
	results.add(fmt.Sprintf("backup of %d bytes truncated at a byte offset (all of them when the count is the size), read in-process", len(c.data)), len(offsets),
		"every cut reported as truncated (an empty file as empty), except the one at the segment boundary: a valid stream to LSN 150; no panic")
	results.add("backup truncated at a random offset: `verify` and `hot-restore`", len(sample),
		"exit 3 (0 at the segment boundary); restore committed only whole frames before the cut")
}

// readAll reads a stream to its end and returns its last LSN.
func readAll(data []byte) (uint64, error) {
	r := stream.NewReader([]stream.Input{{Name: "cut", R: bytes.NewReader(data)}}, stream.Options{})
	for {
		if _, err := r.Next(); err == io.EOF {
			last, _ := r.Last()
			return last, nil
		} else if err != nil {
			return 0, err
		}
	}
}
