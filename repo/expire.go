package repo

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// ExpireOptions choose what Expire keeps besides what restores need.
type ExpireOptions struct {
	// KeepWithin keeps every history that has a commit within this span
	// before Now; an older history that is not its database's newest is
	// deleted whole. 0 keeps every history.
	KeepWithin time.Duration
	// KeepFull keeps the newest KeepFull level 0 backups of each history,
	// even when they have expired.
	KeepFull int
	// DryRun decides and reports, and deletes nothing.
	DryRun bool
	// Now is the time expiries are compared with; zero means time.Now().
	Now time.Time
	// Decided, if set, is called with each decision as it is made.
	Decided func(Decision)
	// CleanupAfter, when positive, also removes what failed writes left
	// (temp files, incomplete multipart uploads) started longer ago than
	// this (Store.Cleanup); it must exceed the longest a write can take.
	CleanupAfter time.Duration
	// CleanedUp, if set, is told how many such leftovers were removed.
	CleanedUp func(n int)
}

// Decision is what Expire does with one object, and why.
type Decision struct {
	Entry
	Keep    bool
	Reason  string
	Deleted bool // the object was deleted (not in a dry run, and the delete succeeded)
}

// Expire deletes expired and redundant objects, and says why it keeps
// each one it keeps. The database is append-only and a restore of any
// point needs every frame from LSN 1, so it never deletes an object of a
// history's chain from LSN 1 to the last LSN it can restore (the chain a
// restore of the latest point reads: History.Plan), and so never leaves a
// gap; it deletes:
//
//   - backups whose expiry has passed, unless among the KeepFull newest
//     level 0 backups;
//   - archive objects whose frames that chain holds (redundant copies);
//   - whole histories that are not their database's newest and have no
//     commit within KeepWithin (when it is given), except what KeepFull
//     keeps.
//
// Objects past a gap are kept: they are needed if the gap is ever filled.
func (r *Repository) Expire(ctx context.Context, db string, opts ExpireOptions) ([]Decision, error) {
	if opts.Now.IsZero() {
		opts.Now = time.Now()
	}
	if opts.CleanupAfter > 0 && !opts.DryRun {
		n, err := r.store.Cleanup(ctx, opts.CleanupAfter)
		if err != nil {
			return nil, err
		}
		if opts.CleanedUp != nil {
			opts.CleanedUp(n)
		}
	}
	c, err := r.Catalog(ctx, db)
	if err != nil {
		return nil, err
	}
	var out []Decision
	for _, h := range c.Histories {
		ds := decide(h, newest(c, h), opts)
		for i := range ds {
			d := &ds[i]
			if !d.Keep && !opts.DryRun {
				if err := r.store.Delete(ctx, d.Key); err != nil {
					return out, err
				}
				d.Deleted = true
			}
			if opts.Decided != nil {
				opts.Decided(*d)
			}
			out = append(out, *d)
		}
	}
	return out, nil
}

// newest reports whether h is the newest history of its database: the one
// with the latest commit.
func newest(c *Catalog, h *History) bool {
	last := func(h *History) time.Time {
		var t time.Time
		for _, e := range h.Objects {
			if e.LastTime.After(t) {
				t = e.LastTime
			}
		}
		return t
	}
	for _, o := range c.Databases(h.DB) {
		if o != h && last(o).After(last(h)) {
			return false
		}
	}
	return true
}

// decide says, for each object of h, whether it is kept and why.
func decide(h *History, isNewest bool, opts ExpireOptions) []Decision {
	chain, _ := h.Plan(1, 0)
	inChain := map[string]bool{}
	var chainEnd uint64
	for _, e := range chain {
		inChain[e.Key] = true
		chainEnd = e.Last
	}
	full := keptFull(h, opts)
	var lastCommit time.Time
	for _, e := range h.Objects {
		if e.LastTime.After(lastCommit) {
			lastCommit = e.LastTime
		}
	}
	historyExpired := !isNewest && opts.KeepWithin > 0 && lastCommit.Before(opts.Now.Add(-opts.KeepWithin))
	ds := make([]Decision, 0, len(h.Objects))
	for _, e := range h.Objects {
		d := Decision{Entry: e}
		switch {
		case full[e.Key]:
			d.Keep, d.Reason = true, fmt.Sprintf("one of the %d newest level 0 backups (--keep-full)", opts.KeepFull)
		case historyExpired:
			d.Reason = fmt.Sprintf("an older history of %s with no commit since %s (--keep-within %s)",
				h.DB, lastCommit.UTC().Format(time.RFC3339), opts.KeepWithin)
		case inChain[e.Key]:
			d.Keep, d.Reason = true, fmt.Sprintf("needed to restore LSN 1..%d", chainEnd)
		case e.First > chainEnd+1:
			d.Keep, d.Reason = true, fmt.Sprintf("past the gap after LSN %d: needed if it is filled", chainEnd)
		case e.Kind == Backup && e.Expires.IsZero():
			d.Keep, d.Reason = true, fmt.Sprintf("a level %d backup that never expires", e.Level)
		case e.Kind == Backup && e.Expires.After(opts.Now):
			d.Keep, d.Reason = true, fmt.Sprintf("a level %d backup kept until %s", e.Level, e.Expires.UTC().Format(time.RFC3339))
		case e.Kind == Backup:
			d.Reason = fmt.Sprintf("expired at %s; its frames are in the kept objects", e.Expires.UTC().Format(time.RFC3339))
		default:
			d.Reason = "redundant: its frames are in the kept objects"
		}
		ds = append(ds, d)
	}
	return ds
}

// keptFull returns the KeepFull newest level 0 backups of h.
func keptFull(h *History, opts ExpireOptions) map[string]bool {
	var fulls []Entry
	for _, e := range h.Objects {
		if e.Kind == Backup && e.Level == 0 {
			fulls = append(fulls, e)
		}
	}
	slices.SortFunc(fulls, func(a, b Entry) int { return b.LastTime.Compare(a.LastTime) })
	keep := map[string]bool{}
	for _, e := range fulls[:min(opts.KeepFull, len(fulls))] {
		keep[e.Key] = true
	}
	return keep
}
