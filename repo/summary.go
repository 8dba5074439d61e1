package repo

import (
	"cmp"
	"context"
	"iter"
	"slices"
	"time"

	"github.com/hotpipe/hotpipe/txframe"
)

// Summary is what a listing says of a repository, gathered in one pass
// without holding its objects: what `repo list` shows, in memory flat in
// the number of objects (a history's backups are held: retention keeps
// them few).
type Summary struct {
	Histories []*HistorySummary // by database name, then origin
	Foreign   []string          // names that are not a repository's
}

// HistorySummary sums up one history's objects.
type HistorySummary struct {
	DB     string
	Origin txframe.Origin
	// Objects and Bytes count every object of the history; Encrypted
	// those of them that are encrypted. Superseded counts objects repo
	// rekey re-encrypted but has not deleted yet, counted nowhere else.
	Objects    int
	Bytes      int64
	Encrypted  int
	Superseded int
	// Restorable is the last LSN a restore from LSN 1 reaches (0 when LSN
	// 1 is missing), RestorableTime its commit time; FirstTime is the
	// commit time of LSN 1.
	Restorable                uint64
	FirstTime, RestorableTime time.Time
	// Gaps are the LSNs missing between 1 and the last LSN held.
	Gaps []Range
	// Archive sums up the archive objects; nil when there are none.
	Archive *ArchiveSummary
	// Backups are the backup objects, in LSN order.
	Backups []Entry
}

// ArchiveSummary sums up a history's archive objects.
type ArchiveSummary struct {
	First, Last uint64
	LastTime    time.Time // commit time of Last
	Objects     int
	Bytes       int64
	Encrypted   int // objects
}

// Summary lists the repository once and sums it up: every history, or
// db's only when db is not empty.
func (r *Repository) Summary(ctx context.Context, db string) (*Summary, error) {
	prefix, err := dbPrefix(db)
	if err != nil {
		return nil, err
	}
	return Summarize(r.store.List(ctx, prefix, ""))
}

// Summarize sums up a listing in name order, as Store.List yields it: a
// history's names share a prefix, so its objects come together, ordered
// by first LSN, then last.
func Summarize(list iter.Seq2[Info, error]) (*Summary, error) {
	var s Summary
	var h *HistorySummary
	var reach uint64  // the last LSN h's objects so far cover from 1, gaps aside
	var pending Entry // the newest of a group of twins (they list together), not added yet
	flush := func() {
		if pending.Key != "" {
			h.add(pending, &reach)
			pending = Entry{}
		}
	}
	for info, err := range list {
		if err != nil {
			return nil, err
		}
		n, err := ParseName(info.Name)
		if err != nil {
			s.Foreign = append(s.Foreign, info.Name)
			continue
		}
		e := Entry{Name: n, Key: info.Name, Size: info.Size}
		if pending.Key != "" && pending.twinKey() == e.twinKey() {
			h.Superseded++
			pending = maxGen(pending, e)
			continue
		}
		flush()
		if h == nil || h.DB != n.DB || h.Origin != n.Origin {
			h = &HistorySummary{DB: n.DB, Origin: n.Origin}
			s.Histories = append(s.Histories, h)
			reach = 0
		}
		pending = e
	}
	flush()
	slices.SortFunc(s.Histories, func(a, b *HistorySummary) int {
		return cmp.Or(cmp.Compare(a.DB, b.DB), cmp.Compare(a.Origin.String(), b.Origin.String()))
	})
	return &s, nil
}

// add counts e, the next object of h in LSN order; reach is the last LSN
// of h's objects so far.
func (h *HistorySummary) add(e Entry, reach *uint64) {
	if h.Objects == 0 && e.First == 1 {
		h.FirstTime = e.FirstTime
	}
	h.Objects++
	h.Bytes += e.Size
	if e.Encrypted {
		h.Encrypted++
	}
	if e.First > *reach+1 {
		h.Gaps = append(h.Gaps, Range{*reach + 1, e.First - 1})
	}
	if e.Last > *reach {
		*reach = e.Last
		if len(h.Gaps) == 0 {
			h.Restorable, h.RestorableTime = e.Last, e.LastTime
		}
	}
	switch e.Kind {
	case Archive:
		if h.Archive == nil {
			h.Archive = &ArchiveSummary{First: e.First}
		}
		a := h.Archive
		a.Objects++
		a.Bytes += e.Size
		if e.Encrypted {
			a.Encrypted++
		}
		if e.Last > a.Last {
			a.Last, a.LastTime = e.Last, e.LastTime
		}
	case Backup:
		h.Backups = append(h.Backups, e)
	}
}

// maxGen returns the twin of the higher generation.
func maxGen(a, b Entry) Entry {
	if b.Gen > a.Gen {
		return b
	}
	return a
}
