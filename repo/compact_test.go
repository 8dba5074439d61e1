package repo

import (
	"context"
	"testing"
	"time"
)

func TestCompactMergesArchiveRuns(t *testing.T) {
	h := history(obj(1, 10, 10, Archive), obj(11, 20, 10, Archive), obj(21, 30, 10, Archive),
		obj(31, 40, 100, Archive), obj(41, 50, 10, Archive), obj(51, 60, 10, Archive),
		obj(1, 60, 500, Backup), obj(61, 70, 10, Archive), obj(75, 80, 1, Archive), obj(81, 90, 1, Archive))
	var got []string
	for _, run := range h.archiveRuns(30) {
		got = append(got, ranges(run))
	}
	want := []string{"1-10 11-20 21-30", "41-50 51-60 61-70", "75-80 81-90"}
	if len(got) != len(want) {
		t.Fatalf("runs %q, want %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("run %d: %s, want %s", i, got[i], want[i])
		}
	}
}

func TestCompactKeepsEveryFrame(t *testing.T) {
	eachBackend(t, func(t *testing.T, r *Repository) {
		ctx := context.Background()
		d := newTestDB(t, "foo")
		for range 6 { // six small archive objects
			d.commit(t, 5)
			archiveOnce(t, r, d.db)
		}
		ms, err := r.Compact(ctx, "foo", CompactOptions{})
		if err != nil || len(ms) != 1 || len(ms[0].From) != 6 || ms[0].Into.First != 1 || ms[0].Into.Last != 30 {
			t.Fatalf("Compact: %+v, %v", ms, err)
		}
		c, _ := r.Catalog(ctx, "foo")
		h := c.Histories[0]
		if len(h.Objects) != 1 || !h.Objects[0].LastTime.Equal(time.Unix(30, 0)) {
			t.Fatalf("after Compact: %s", ranges(h.Objects))
		}
		if rep, err := r.Verify(ctx, "foo", VerifyOptions{}); err != nil || !rep.OK() {
			t.Fatalf("Verify after Compact: %v %v", rep.Problems, err)
		}
		want, _ := d.db.HashAt(30)
		if _, lsn, hash := restored(t, r, RestoreOptions{Source: "foo"}); lsn != 30 || hash != want {
			t.Errorf("restored to %d %s, want 30 %s", lsn, hash, want)
		}
		// The archive goes on after the merged object.
		d.commit(t, 3)
		archiveOnce(t, r, d.db)
	})
}

func TestCompactFinishesAnInterruptedMerge(t *testing.T) {
	eachBackend(t, func(t *testing.T, r *Repository) {
		ctx := context.Background()
		d := newTestDB(t, "foo")
		for range 3 {
			d.commit(t, 5)
			archiveOnce(t, r, d.db)
		}
		c, _ := r.Catalog(ctx, "foo")
		run := c.Histories[0].archiveRuns(1 << 30)[0]
		m := Merge{From: run, Into: merged(run, false)}
		if _, err := r.write(ctx, &m, CompactOptions{}); err != nil { // crashed before the deletes
			t.Fatal(err)
		}
		ms, err := r.Compact(ctx, "foo", CompactOptions{})
		if err != nil || len(ms) != 1 {
			t.Fatalf("Compact: %+v, %v", ms, err)
		}
		c, _ = r.Catalog(ctx, "foo")
		if got := ranges(c.Histories[0].Objects); got != "1-15" {
			t.Errorf("after Compact: %s", got)
		}
	})
}
