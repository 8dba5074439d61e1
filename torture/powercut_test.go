//go:build unix

package torture

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestPowerCut simulates power cuts. A writer (`load --acks`, which prints
// every LSN it acknowledged) is frozen at random moments and its database
// copied whole; from each copy the test makes three power-cut images. Every byte
// up to the end of the last acknowledged frame (or further, where DURABLE
// says so) was fsynced. What lies past it in the last segment was not, and
// writeback may have persisted any subset of its 4 KiB pages, in any
// order: an image drops the file's suffix at a page boundary, zeroes or
// scrambles pages, or leaves a hole with whole frames after it. DURABLE is
// fsynced about once a second, so an image may hold an older copy of it,
// taken at an earlier moment, or one with its newest slot torn.
//
// Each image must open for write with every acknowledged LSN, each with
// the hash the writer gave it, say so when it drops bytes, take a commit
// and pass `db check`. Segments are 64 KiB, so seals and fresh segments
// are cut too.
func TestPowerCut(t *testing.T) {
	h := newHarness(t)
	var st powerCutStats
	var db string
	var olders [][]byte // DURABLE as it was at earlier moments, of db
	for round := 0; round < *powercuts; round++ {
		if round%4 == 0 { // a new database now and then keeps copies small
			db = fmt.Sprintf("pc%d", round/4)
			h.must("db", "create", db, "-q", "--segment-size", "64KiB")
			olders = nil
		}
		live := filepath.Join(h.data, db)
		load := h.startLoad(db, "--workers", strconv.Itoa(1+h.rng.IntN(48)), "--value-size", strconv.Itoa(h.rng.IntN(3000)))
		load.waitAcks(1)
		time.Sleep(h.jitter(30 * time.Millisecond)) // a random moment
		load.freeze()
		olders = append(olders, readFile(t, filepath.Join(live, "DURABLE")))
		if len(olders) > 4 {
			olders = olders[1:]
		}
		load.thaw()
		time.Sleep(h.jitter(30 * time.Millisecond))
		load.freeze()
		frozen := filepath.Join(h.path("frozen"), db)
		os.RemoveAll(h.path("frozen"))
		copyDir(t, live, frozen, nil)
		top, n := load.acks()
		load.thaw()
		load.kill()
		c := h.powerCutCopy(frozen, db, top, olders)
		st.copies++
		st.acked += n
		for i := 0; i < imagesPerCopy; i++ {
			h.checkImage(c, fmt.Sprintf("round %d image %d", round, i), &st)
		}
	}
	t.Logf("%+v", st)
	results.add("power cut, simulated: a writer (`load`, 1–48 workers, 64 KiB segments) frozen at a random moment and its database copied; "+
		"in each image the never-fsynced bytes past the last acknowledged frame are left as writeback may leave them, page by page and out of order "+
		"(suffix cut at a page boundary, pages zeroed or scrambled, a hole with whole frames after it), and DURABLE may be an older copy "+
		"or have its newest slot torn", st.images,
		"images (from %d copies, %d acknowledged LSNs): every one opened for write with every acknowledged LSN and its hash, took a commit and passed `db check`; "+
			"%d dropped an unacknowledged tail and said so (%d with whole frames after a hole), %d had an older DURABLE, %d a torn DURABLE slot, "+
			"%d a last segment holding no acknowledged frame",
		st.copies, st.acked, st.dropped, st.holes, st.older, st.torn, st.fresh)
}

const imagesPerCopy = 3

type powerCutStats struct {
	copies, acked, images                          int
	dropped, holes, tornFrames, older, torn, fresh int
}

// powerCutCopy is a database copied while its writer was frozen.
type powerCutCopy struct {
	dir     string // the copy
	db      string
	top     uint64   // the highest acknowledged LSN
	ack     framePos // where its frame lies
	last    uint64   // the last segment
	durable int64    // in the last segment, bytes before this offset were fsynced
	olders  [][]byte // DURABLE at earlier moments
}

func (h *harness) powerCutCopy(dir, db string, top uint64, olders [][]byte) powerCutCopy {
	h.t.Helper()
	segs := segments(h.t, dir)
	ack, err := findFrame(h.t, dir, segs, top)
	if err != nil {
		h.t.Fatalf("LSN %d was acknowledged, but the copy taken after it does not hold it: %v", top, err)
	}
	c := powerCutCopy{dir: dir, db: db, top: top, ack: ack, last: segs[len(segs)-1], olders: olders}
	// Acknowledgements are printed after DURABLE is updated: it may name
	// a later frame, fsynced too.
	end := ack
	if m, ok := readMark(readFile(h.t, filepath.Join(dir, "DURABLE"))); ok && m.lsn > top {
		end = framePos{seg: m.seg, end: m.end}
	}
	// A segment after the one holding it means that one was sealed and
	// fsynced whole before the next was created: nothing before the last
	// segment can be lost.
	if end.seg == c.last {
		c.durable = end.end
	}
	return c
}

// checkImage makes one power-cut image of c and checks it opens with every
// acknowledged frame.
func (h *harness) checkImage(c powerCutCopy, name string, st *powerCutStats) {
	t := h.t
	t.Helper()
	pristine := filepath.Join(h.path("pristine"), c.db)
	os.RemoveAll(h.path("pristine"))
	sealed := func(name string) bool { return isSegment(name) && name != segName(c.last) }
	copyDir(t, c.dir, pristine, sealed)
	lastPath := filepath.Join(pristine, segName(c.last))
	data := readFile(t, lastPath)
	image, d := h.damage(data, int(c.durable))
	if err := os.WriteFile(lastPath, image, 0o600); err != nil {
		t.Fatal(err)
	}
	desc := []string{fmt.Sprintf("%s: %s copied at acknowledged LSN %d (%s offset %d..%d); last segment %s, %d bytes, fsynced up to %d",
		name, c.db, c.top, segName(c.ack.seg), c.ack.off, c.ack.end, segName(c.last), len(data), c.durable)}
	desc = append(desc, d.desc...)
	durable := filepath.Join(pristine, "DURABLE")
	marks := readFile(t, durable)
	cur, _ := readMark(marks)
	switch r := h.rng.IntN(6); {
	case r < 2 && len(c.olders) > 0:
		old := c.olders[h.rng.IntN(len(c.olders))]
		m, _ := readMark(old)
		if m.lsn < cur.lsn {
			st.older++
		}
		desc = append(desc, fmt.Sprintf("DURABLE from an earlier moment: LSN %d (the copy's says %d)", m.lsn, cur.lsn))
		marks = old
	case r == 2:
		other := marks[(1-cur.slot)*slotSize : (2-cur.slot)*slotSize]
		if _, ok := readMark(append(make([]byte, slotSize), other...)); ok {
			from := h.rng.IntN(slotSize)
			for i := cur.slot*slotSize + from; i < (cur.slot+1)*slotSize; i++ {
				marks[i] = byte(h.rng.IntN(256))
			}
			st.torn++
			desc = append(desc, fmt.Sprintf("DURABLE's newest slot (seq %d, LSN %d) torn from its byte %d", cur.seq, cur.lsn, from))
		}
	}
	if err := os.WriteFile(durable, marks, 0o600); err != nil {
		t.Fatal(err)
	}
	fail := func(format string, args ...any) {
		t.Helper()
		kept := keepForReproduction(t, pristine, "powercut")
		t.Fatalf("%s\nimage kept in %s:\n  %s", fmt.Sprintf(format, args...), kept, strings.Join(desc, "\n  "))
	}

	work := filepath.Join(h.path("img"), c.db)
	os.RemoveAll(h.path("img"))
	copyDir(t, pristine, work, sealed)
	w := h.in(h.path("img"))
	_, errs, code := w.run("db", "replica", c.db, "off", "-q")
	if code != 0 {
		fail("the image refused to open for write (exit %d):\n%s", code, errs)
	}
	after, err := os.Stat(filepath.Join(work, segName(c.last)))
	kept := int64(0)
	if err == nil {
		kept = after.Size()
	}
	dropped := kept < int64(len(image))
	noticed := strings.Contains(errs, "recovered from a crash")
	if dropped != noticed {
		fail("recovery dropped bytes of the last segment: %v (%d of %d kept); said so: %v\n%s", dropped, kept, len(image), noticed, errs)
	}
	// put prints the LSN after the last one recovered.
	out, errs, code := w.run("put", c.db, "after=power-cut")
	lsn, err := strconv.ParseUint(strings.TrimSpace(out), 10, 64)
	if code != 0 || err != nil || lsn <= c.top {
		fail("put after recovery: %q (exit %d); LSN %d was acknowledged\n%s", out, code, c.top, errs)
	}
	// The last frame recovered is the one the writer wrote: its hash, which
	// chains every frame before it, is the writer's.
	recovered, err := findFrame(t, c.dir, segments(t, c.dir), lsn-1)
	if err != nil {
		fail("recovered to LSN %d, which the writer never wrote: %v", lsn-1, err)
	}
	if out, errs, code := w.run("db", "hash", c.db, strconv.FormatUint(lsn-1, 10)); code != 0 || out != fmt.Sprintf("%d %s\n", lsn-1, recovered.hash) {
		fail("recovered to LSN %d with hash %q (exit %d); the writer's is %s\n%s", lsn-1, out, code, recovered.hash, errs)
	}
	if out, errs, code := w.run("db", "check", c.db); code != 0 {
		fail("db check after recovery: exit %d\n%s%s", code, out, errs)
	}
	st.images++
	if dropped {
		st.dropped++
		if d.holeThenWhole {
			st.holes++
		}
		if d.tornFrame {
			st.tornFrames++
		}
	}
	if c.durable == 0 && c.last > 1 {
		st.fresh++
	}
}

// damaged is what damage did to a segment.
type damaged struct {
	desc          []string
	holeThenWhole bool // a whole frame is left after damaged or dropped bytes
	tornFrame     bool // the first damaged or dropped byte is inside a frame
}

// damage returns a segment's bytes as a power cut may leave them when
// bytes before durable were fsynced and the rest were not: each 4 KiB page
// past durable (the bytes of it past durable) either reached the disk or
// did not (zeros), or was being written (garbage), and the file's length
// may stop at any page boundary past durable.
func (h *harness) damage(data []byte, durable int) ([]byte, damaged) {
	out := append([]byte(nil), data...)
	size := len(data)
	if durable >= size {
		return out, damaged{desc: []string{"nothing unsynced in the last segment"}}
	}
	p0, p1 := durable/pageSize, (size-1)/pageSize
	state := make([]byte, p1-p0+1) // per page: keep, zero, garbage
	for i := range state {
		state[i] = 'k'
	}
	boundary := func() int {
		var bs []int
		for b := (p0 + 1) * pageSize; b < size; b += pageSize {
			bs = append(bs, b)
		}
		bs = append(bs, durable, size)
		return bs[h.rng.IntN(len(bs))]
	}
	cut := size
	var mode string
	switch h.rng.IntN(5) {
	case 0:
		mode, cut = "suffix dropped at a page boundary", boundary()
	case 1, 2:
		mark := byte("zg"[h.rng.IntN(2)])
		mode = map[byte]string{'z': "pages zeroed", 'g': "pages scrambled"}[mark]
		q := h.rng.Float64()
		for i := range state {
			if h.rng.Float64() < q {
				state[i] = mark
			}
		}
	case 3:
		mode = "a hole, the pages after it kept"
		start := h.rng.IntN(len(state))
		for i := start; i < min(len(state), start+1+h.rng.IntN(3)); i++ {
			state[i] = "zg"[h.rng.IntN(2)]
		}
	default:
		mode = "pages kept, zeroed or scrambled"
		for i := range state {
			state[i] = "kzg"[h.rng.IntN(3)]
		}
	}
	if mode != "suffix dropped at a page boundary" && h.rng.IntN(3) == 0 {
		cut = boundary()
	}
	firstBad := cut
	var zeroed, scrambled []int
	for i, s := range state {
		p := p0 + i
		lo, hi := max(durable, p*pageSize), min(size, (p+1)*pageSize)
		switch s {
		case 'z':
			clear(out[lo:hi])
			zeroed = append(zeroed, p)
		case 'g':
			for j := lo; j < hi; j++ {
				out[j] = byte(h.rng.IntN(256))
			}
			scrambled = append(scrambled, p)
		}
		if s != 'k' {
			firstBad = min(firstBad, lo)
		}
	}
	out = out[:cut]
	whole := func(f span) bool {
		if f.end > cut {
			return false
		}
		for p := f.off / pageSize; p <= (f.end-1)/pageSize; p++ {
			if state[p-p0] != 'k' {
				return false
			}
		}
		return true
	}
	d := damaged{desc: []string{fmt.Sprintf("%s: pages (of 4 KiB) zeroed %v, scrambled %v; file cut at %d of %d", mode, zeroed, scrambled, cut, size)}}
	spans := frameSpansFrom(data, durable)
	for _, f := range spans {
		if f.off < firstBad && firstBad < f.end {
			d.tornFrame = true
		}
	}
	for _, f := range spans {
		if f.off >= firstBad && whole(f) {
			d.holeThenWhole = true
			d.desc = append(d.desc, fmt.Sprintf("whole frames after the first damaged byte (%d), from LSN %d at %d", firstBad, f.lsn, f.off))
			break
		}
	}
	return out, d
}
