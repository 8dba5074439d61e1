package repo

import (
	"cmp"
	"slices"
	"time"

	"github.com/hotpipe/hotpipe/txframe"
)

// Entry is one object of a repository, as its listing gives it: what its
// name says, and its size.
type Entry struct {
	Name
	Key  string // the object's name in the store
	Size int64
}

// History is the objects of one database history (one database name and
// origin), in LSN order: by first LSN, then last LSN, then name.
type History struct {
	DB      string
	Origin  txframe.Origin
	Objects []Entry
	// Superseded holds objects repo rekey re-encrypted, whose twin of a
	// higher generation (Name.Gen) is in Objects: the same frames, to be
	// deleted once the twin is verified.
	Superseded []Entry
}

// Catalog is a repository's content as its listing gives it.
type Catalog struct {
	Histories []*History // by database name, then origin
	// Foreign holds the names of objects that are not a repository's (see
	// ParseName); they are left alone.
	Foreign []string
}

// Add enters an object of the listing into the catalog. Call Sort once
// every object is in.
func (c *Catalog) Add(key string, size int64) {
	n, err := ParseName(key)
	if err != nil {
		c.Foreign = append(c.Foreign, key)
		return
	}
	h := c.History(n.DB, n.Origin)
	if h == nil {
		h = &History{DB: n.DB, Origin: n.Origin}
		c.Histories = append(c.Histories, h)
	}
	h.Objects = append(h.Objects, Entry{Name: n, Key: key, Size: size})
}

// Sort puts histories and their objects in order.
func (c *Catalog) Sort() {
	slices.SortFunc(c.Histories, func(a, b *History) int {
		return cmp.Or(cmp.Compare(a.DB, b.DB), cmp.Compare(a.Origin.String(), b.Origin.String()))
	})
	for _, h := range c.Histories {
		slices.SortFunc(h.Objects, func(a, b Entry) int {
			return cmp.Or(cmp.Compare(a.First, b.First), cmp.Compare(a.Last, b.Last), cmp.Compare(a.Key, b.Key))
		})
		h.setAsideSuperseded()
	}
}

// setAsideSuperseded moves each object that has a twin of a higher
// generation from Objects to Superseded.
func (h *History) setAsideSuperseded() {
	newest := map[string]int{} // the name without its generation → the highest
	for _, e := range h.Objects {
		k := e.twinKey()
		newest[k] = max(newest[k], e.Gen)
	}
	h.Superseded = nil
	h.Objects = slices.DeleteFunc(h.Objects, func(e Entry) bool {
		old := e.Gen < newest[e.twinKey()]
		if old {
			h.Superseded = append(h.Superseded, e)
		}
		return old
	})
}

// twinKey is what twins of different generations share: the name but for
// its generation.
func (n Name) twinKey() string {
	n.Gen = 0
	return n.String()
}

// History returns db's history of that origin, nil if the catalog has none.
func (c *Catalog) History(db string, origin txframe.Origin) *History {
	for _, h := range c.Histories {
		if h.DB == db && h.Origin == origin {
			return h
		}
	}
	return nil
}

// Databases returns db's histories, nil if it has none.
func (c *Catalog) Databases(db string) []*History {
	var hs []*History
	for _, h := range c.Histories {
		if h.DB == db {
			hs = append(hs, h)
		}
	}
	return hs
}

// Range is an inclusive range of LSNs.
type Range struct{ First, Last uint64 }

// Covered returns the LSN ranges the history's objects cover, merged, in
// order.
func (h *History) Covered() []Range {
	var rs []Range
	for _, o := range h.Objects {
		if n := len(rs); n > 0 && o.First <= rs[n-1].Last+1 {
			rs[n-1].Last = max(rs[n-1].Last, o.Last)
			continue
		}
		rs = append(rs, Range{o.First, o.Last})
	}
	return rs
}

// Gaps returns the LSN ranges missing between LSN 1 and the last LSN the
// history's objects hold: a restore cannot pass a gap.
func (h *History) Gaps() []Range {
	var gaps []Range
	next := uint64(1)
	for _, r := range h.Covered() {
		if r.First > next {
			gaps = append(gaps, Range{next, r.First - 1})
		}
		next = r.Last + 1
	}
	return gaps
}

// Restorable is the last LSN a restore from LSN 1 can reach: the end of
// the range covered from 1 without a gap; 0 when LSN 1 is missing.
func (h *History) Restorable() (last uint64, lastTime time.Time) {
	rs := h.Covered()
	if len(rs) == 0 || rs[0].First != 1 {
		return 0, time.Time{}
	}
	for _, o := range h.Objects {
		if o.Last == rs[0].Last {
			return o.Last, o.LastTime
		}
	}
	return rs[0].Last, time.Time{} // not reached: some object ends there
}

// Bytes is the size of all the history's objects.
func (h *History) Bytes() int64 {
	var n int64
	for _, o := range h.Objects {
		n += o.Size
	}
	return n
}
