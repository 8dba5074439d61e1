package repo

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hotpipe/hotpipe/txframe"
)

// obj is an object of foo's test history covering first..last, size bytes;
// its commit times are its LSNs in seconds.
func obj(first, last uint64, size int64, kind Kind) Entry {
	n := Name{DB: "foo", Origin: testOrigin, First: first, Last: last, Kind: kind,
		FirstTime: time.Unix(int64(first), 0), LastTime: time.Unix(int64(last), 0)}
	return Entry{Name: n, Key: n.String(), Size: size}
}

func history(objs ...Entry) *History {
	var c Catalog
	for _, o := range objs {
		c.Add(o.Key, o.Size)
	}
	c.Add("notes.txt", 3)
	c.Sort()
	if len(c.Histories) != 1 || len(c.Foreign) != 1 {
		panic(fmt.Sprint("history: ", c.Histories, c.Foreign))
	}
	return c.Histories[0]
}

func ranges(plan []Entry) string {
	var s []string
	for _, o := range plan {
		s = append(s, fmt.Sprintf("%d-%d", o.First, o.Last))
	}
	return strings.Join(s, " ")
}

func TestPlanTakesTheFewestBytes(t *testing.T) {
	h := history(
		obj(1, 100, 1000, Backup),  // level 0
		obj(1, 50, 400, Archive),   // the archive, object by object
		obj(51, 100, 500, Archive), //
		obj(101, 150, 500, Archive),
		obj(101, 200, 900, Backup), // level 1
		obj(151, 200, 500, Archive),
		obj(201, 201, 10, Archive),
	)
	for _, tc := range []struct {
		from, target uint64
		want         string
	}{
		{1, 0, "1-50 51-100 101-200 201-201"},
		{1, 100, "1-50 51-100"},
		{1, 120, "1-50 51-100 101-150"},
		{1, 160, "1-50 51-100 101-200"},
		{60, 0, "51-100 101-200 201-201"}, // a standby at 59: the object holding 60 first
		{101, 150, "101-150"},             // one right after another
		{201, 201, "201-201"},
		{30, 40, "1-50"},
	} {
		plan, err := h.Plan(tc.from, tc.target)
		if err != nil {
			t.Errorf("Plan(%d, %d): %v", tc.from, tc.target, err)
			continue
		}
		if got := ranges(plan); got != tc.want {
			t.Errorf("Plan(%d, %d) = %s, want %s", tc.from, tc.target, got, tc.want)
		}
	}
}

func TestPlanNamesTheMissingLSNs(t *testing.T) {
	h := history(obj(1, 100, 1, Archive), obj(151, 200, 1, Archive), obj(301, 400, 1, Archive))
	for _, tc := range []struct {
		from, target   uint64
		gapFrom, gapTo uint64
	}{
		{1, 200, 101, 150},
		{1, 120, 101, 120},
		{151, 400, 201, 300},
		{401, 500, 401, 500},
	} {
		_, err := h.Plan(tc.from, tc.target)
		var gap *txframe.GapError
		if !errors.As(err, &gap) || !errors.Is(err, txframe.ErrGap) || gap.From != tc.gapFrom || gap.To != tc.gapTo {
			t.Errorf("Plan(%d, %d): %v, want a gap %d..%d", tc.from, tc.target, err, tc.gapFrom, tc.gapTo)
		}
	}
	// Latest stops before the first gap: the rest cannot be reached.
	if plan, err := h.Plan(1, 0); err != nil || ranges(plan) != "1-100" {
		t.Errorf("Plan(1, latest) = %s, %v; want 1-100", ranges(plan), err)
	}
	if _, err := history(obj(5, 9, 1, Archive)).Plan(1, 0); !errors.Is(err, ErrEmpty) {
		t.Errorf("Plan of a history without LSN 1: %v, want ErrEmpty", err)
	}
}

func TestCatalogSumsUpAHistory(t *testing.T) {
	h := history(obj(1, 100, 10, Archive), obj(1, 120, 30, Backup), obj(151, 200, 5, Archive))
	if got := fmt.Sprint(h.Covered()); got != "[{1 120} {151 200}]" {
		t.Errorf("Covered = %s", got)
	}
	if got := fmt.Sprint(h.Gaps()); got != "[{121 150}]" {
		t.Errorf("Gaps = %s", got)
	}
	if last, lt := h.Restorable(); last != 120 || !lt.Equal(time.Unix(120, 0)) {
		t.Errorf("Restorable = %d %s", last, lt)
	}
	if h.Bytes() != 45 {
		t.Errorf("Bytes = %d", h.Bytes())
	}
}

func TestLastBeforeATime(t *testing.T) {
	h := history(obj(1, 100, 1, Archive), obj(101, 200, 1, Archive), obj(201, 300, 1, Archive))
	for _, tc := range []struct {
		t    int64
		want uint64
	}{{50, 100}, {100, 200}, {150, 200}, {299, 300}, {300, 0}, {1000, 0}} {
		if got := h.LastBefore(time.Unix(tc.t, 0)); got != tc.want {
			t.Errorf("LastBefore(%d) = %d, want %d", tc.t, got, tc.want)
		}
	}
}

// FuzzPlan checks plans of random histories against every chain there is:
// a plan starts at the object holding from, joins each object right after
// the one before, reaches the target, and no chain has fewer bytes.
func FuzzPlan(f *testing.F) {
	f.Add([]byte{1, 10, 5, 11, 20, 5, 1, 20, 12}, uint8(1), uint8(0))
	f.Fuzz(func(t *testing.T, spec []byte, from8, target8 uint8) {
		var objs []Entry
		for i := 0; i+2 < len(spec) && len(objs) < 8; i += 3 {
			first := uint64(spec[i]%40) + 1
			objs = append(objs, obj(first, first+uint64(spec[i+1]%20), int64(spec[i+2]%50)+1, Archive))
		}
		if len(objs) == 0 {
			return
		}
		h := history(objs...)
		from, target := uint64(from8%60)+1, uint64(target8%70)
		plan, err := h.Plan(from, target)
		best, ok := cheapestChain(h.Objects, from, target)
		if err != nil {
			if ok && target != 0 {
				t.Fatalf("Plan(%d, %d): %v, but %v reaches it", from, target, err, ranges(best))
			}
			return
		}
		if target != 0 && target < from {
			if len(plan) != 0 {
				t.Fatalf("Plan(%d, %d) = %s: want nothing to read", from, target, ranges(plan))
			}
			return
		}
		if plan[0].First > from || plan[0].Last < from {
			t.Fatalf("plan %s does not start at %d", ranges(plan), from)
		}
		for i := 1; i < len(plan); i++ {
			if plan[i].First != plan[i-1].Last+1 {
				t.Fatalf("plan %s does not join at %d", ranges(plan), i)
			}
		}
		if target != 0 && plan[len(plan)-1].Last < target {
			t.Fatalf("plan %s stops before %d", ranges(plan), target)
		}
		if target != 0 && ok && bytesOf(best) < bytesOf(plan) {
			t.Fatalf("plan %s (%d bytes) costs more than %s (%d)", ranges(plan), bytesOf(plan), ranges(best), bytesOf(best))
		}
	})
}

// cheapestChain tries every chain of objects by brute force.
func cheapestChain(objs []Entry, from, target uint64) ([]Entry, bool) {
	var best []Entry
	var walk func(chain []Entry, next uint64)
	walk = func(chain []Entry, next uint64) {
		if target != 0 && next > target {
			if best == nil || bytesOf(chain) < bytesOf(best) {
				best = append([]Entry(nil), chain...)
			}
			return
		}
		for _, o := range objs {
			if len(chain) == 0 && o.First <= from && from <= o.Last || len(chain) > 0 && o.First == next {
				walk(append(chain, o), o.Last+1)
			}
		}
	}
	walk(nil, from)
	return best, best != nil
}

func bytesOf(objs []Entry) (n int64) {
	for _, o := range objs {
		n += o.Size
	}
	return n
}
