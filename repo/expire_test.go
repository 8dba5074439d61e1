package repo

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func expiring(o Entry, at int64, level int) Entry {
	o.Expires, o.Level = time.Unix(at, 0), level
	o.Key = o.Name.String()
	return o
}

func decisions(ds []Decision) string {
	var s []string
	for _, d := range ds {
		verdict := "delete"
		if d.Keep {
			verdict = "keep"
		}
		s = append(s, ranges([]Entry{d.Entry})+" "+verdict)
	}
	return strings.Join(s, ", ")
}

func TestExpireKeepsWhatRestoresNeed(t *testing.T) {
	now := time.Unix(10_000, 0)
	h := history(
		expiring(obj(1, 100, 500, Backup), 9_000, 0),   // level 0, expired, but the chain's first link
		obj(1, 50, 400, Archive),                       // redundant: in level 0
		obj(51, 100, 400, Archive),                     // redundant
		expiring(obj(101, 150, 300, Backup), 9_999, 1), // level 1, expired, and the archive has it cheaper
		obj(101, 150, 200, Archive),                    // the chain
		expiring(obj(151, 160, 50, Backup), 20_000, 1), // not expired: kept, though the archive has it
		obj(151, 160, 40, Archive),                     // the chain
		obj(201, 210, 10, Archive),                     // past a gap: kept
	)
	got := decisions(decide(h, true, ExpireOptions{Now: now}))
	want := "1-50 delete, 1-100 keep, 51-100 delete, 101-150 keep, 101-150 delete, 151-160 keep, 151-160 keep, 201-210 keep"
	// (in catalog order: of two objects of one range, the archive's first)
	if got != want {
		t.Errorf("decisions:\n got %s\nwant %s", got, want)
	}
	for _, d := range decide(h, true, ExpireOptions{Now: now}) {
		if d.Reason == "" {
			t.Errorf("%s: no reason given", d.Key)
		}
	}
	// --keep-full 1 keeps the level 0 whatever; an old history is deleted
	// whole with --keep-within, not without.
	if got := decisions(decide(h, false, ExpireOptions{Now: now, KeepWithin: time.Hour, KeepFull: 1})); !strings.HasPrefix(got, "1-50 delete, 1-100 keep, 51-100 delete, 101-150 delete, 101-150 delete") {
		t.Errorf("an expired older history: %s", got)
	}
	if got := decisions(decide(h, false, ExpireOptions{Now: now})); got != want {
		t.Errorf("an older history without --keep-within: %s", got)
	}
}

func TestExpireDeletesAndRestoresStillWork(t *testing.T) {
	eachBackend(t, func(t *testing.T, r *Repository) {
		ctx := context.Background()
		d := newTestDB(t, "foo")
		d.commit(t, 10)
		archiveOnce(t, r, d.db)
		d.commit(t, 10)
		if _, err := r.Backup(ctx, d.db, BackupOptions{Expires: time.Now().Add(-time.Hour)}); err != nil {
			t.Fatal(err)
		}
		d.commit(t, 5)
		archiveOnce(t, r, d.db)
		dry, err := r.Expire(ctx, "foo", ExpireOptions{DryRun: true})
		if err != nil {
			t.Fatal(err)
		}
		c, _ := r.Catalog(ctx, "foo")
		if n := len(c.Histories[0].Objects); n != 3 { // archive 1..10, backup 1..20, archive 21..25
			t.Fatalf("a dry run left %d objects, want 3: %s", n, decisions(dry))
		}
		ds, err := r.Expire(ctx, "foo", ExpireOptions{})
		if err != nil {
			t.Fatal(err)
		}
		// Kept: the backup 1..20 (expired, but the chain's first link) and
		// the archive's 21..25; deleted: the archive's 1..10.
		c, _ = r.Catalog(ctx, "foo")
		h := c.Histories[0]
		if len(h.Gaps()) != 0 {
			t.Fatalf("expire left a gap: %v (%s)", h.Gaps(), decisions(ds))
		}
		if last, _ := h.Restorable(); last != 25 {
			t.Fatalf("restorable to %d after expire, want 25 (%s)", last, decisions(ds))
		}
		if got := decisions(ds); got != "1-10 delete, 1-20 keep, 21-25 keep" {
			t.Errorf("decisions: %s", got)
		}
		if _, lsn, _ := restored(t, r, RestoreOptions{Source: "foo"}); lsn != 25 {
			t.Errorf("restored to %d, want 25", lsn)
		}
	})
}

// hookStore calls onOpen before each Open.
type hookStore struct {
	Store
	onOpen func(name string)
}

func (h hookStore) Open(ctx context.Context, name string) (Object, error) {
	h.onOpen(name)
	return h.Store.Open(ctx, name)
}

// TestExpireRacingARestore deletes, while a restore runs, the object the
// restore planned to read next: the restore fails cleanly, naming the
// object, and the same restore run again succeeds.
func TestExpireRacingARestore(t *testing.T) {
	eachBackend(t, func(t *testing.T, r *Repository) {
		ctx := context.Background()
		d := newTestDB(t, "foo")
		d.commit(t, 10)
		archiveOnce(t, r, d.db) // 1..10
		d.commit(t, 10)
		if _, err := r.Backup(ctx, d.db, BackupOptions{}); err != nil { // 1..20: the chain
			t.Fatal(err)
		}
		raced := New(hookStore{Store: r.Store(), onOpen: func(name string) {
			if strings.Contains(name, ".a.") { // the restore to LSN 10 reads the archive's 1..10
				if _, err := r.Expire(ctx, "foo", ExpireOptions{}); err != nil {
					t.Error(err)
				}
			}
		}})
		dir := t.TempDir()
		_, err := raced.Restore(ctx, dir, "foo", RestoreOptions{Options: replicaTarget(10)})
		if !errors.Is(err, ErrNotExist) {
			t.Fatalf("a restore whose object expire deleted: %v, want ErrNotExist", err)
		}
		res, err := r.Restore(ctx, dir, "foo", RestoreOptions{Options: replicaTarget(10)})
		if err != nil || res.State == nil || res.State.LSN != 10 {
			t.Fatalf("the restore again: %+v, %v", res.State, err)
		}
	})
}
