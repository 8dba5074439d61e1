package repo

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hotpipe/hotpipe/engine"
	"github.com/hotpipe/hotpipe/internal/s3test"
	"github.com/hotpipe/hotpipe/replica"
	"github.com/hotpipe/hotpipe/txframe"
)

// testDB is a database with a clock a test moves: commit k of the test
// is committed at second k.
type testDB struct {
	dir string
	db  *engine.DB
	sec atomic.Int64
}

func newTestDB(t *testing.T, name string) *testDB {
	t.Helper()
	d := &testDB{dir: t.TempDir()}
	if _, err := engine.Create(d.dir, name, engine.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	db, err := engine.Open(d.dir, name, engine.Options{Now: func() time.Time { return time.Unix(d.sec.Load(), 0) }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	d.db = db
	return d
}

// commit commits n transactions, each a second after the one before.
func (d *testDB) commit(t *testing.T, n int) uint64 {
	t.Helper()
	var lsn uint64
	for range n {
		d.sec.Add(1)
		var err error
		lsn, err = d.db.Commit([]txframe.Entry{{Op: txframe.OpPut, Key: []byte(fmt.Sprint("k", d.sec.Load())), Value: []byte("v")}})
		if err != nil {
			t.Fatal(err)
		}
	}
	return lsn
}

func (d *testDB) origin(t *testing.T) txframe.Origin {
	m, err := d.db.Meta()
	if err != nil {
		t.Fatal(err)
	}
	return m.Origin
}

// restored restores name from r into a new data directory and returns
// its state.
func restored(t *testing.T, r *Repository, opts RestoreOptions) (RestoreResult, uint64, txframe.Hash) {
	t.Helper()
	dir := t.TempDir()
	res, err := r.Restore(context.Background(), dir, "copy", opts)
	if err != nil {
		t.Fatalf("Restore: %v", err)
	}
	db, err := engine.Open(dir, "copy", engine.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	lsn, h, err := db.State()
	if err != nil {
		t.Fatal(err)
	}
	return res, lsn, h
}

func eachBackend(t *testing.T, fn func(t *testing.T, r *Repository)) {
	srv := s3test.Start(t)
	for _, b := range backends(srv) {
		t.Run(b.name, func(t *testing.T) { fn(t, New(b.open(t))) })
	}
}

func TestBackupLevelsAndRestore(t *testing.T) {
	eachBackend(t, func(t *testing.T, r *Repository) {
		ctx := context.Background()
		d := newTestDB(t, "foo")
		d.commit(t, 100)
		full, err := r.Backup(ctx, d.db, BackupOptions{Level: 0, Expires: time.Unix(1e9, 0)})
		if err != nil || full.Entry.First != 1 || full.Entry.Last != 100 || full.Frames != 100 {
			t.Fatalf("level 0: %+v, %v", full, err)
		}
		d.commit(t, 50)
		inc1, err := r.Backup(ctx, d.db, BackupOptions{Level: 1})
		if err != nil || inc1.Entry.First != 101 || inc1.Entry.Last != 150 {
			t.Fatalf("level 1: %+v, %v", inc1, err)
		}
		d.commit(t, 30)
		inc2, err := r.Backup(ctx, d.db, BackupOptions{Level: 2})
		if err != nil || inc2.Entry.First != 151 || inc2.Entry.Last != 180 {
			t.Fatalf("level 2: %+v, %v", inc2, err)
		}
		again, err := r.Backup(ctx, d.db, BackupOptions{Level: 2}) // the same again: made already
		if err != nil || !again.UpToDate || again.Entry.Key != inc2.Entry.Key {
			t.Fatalf("level 2 with nothing new: %+v, %v", again, err)
		}
		inc1b, err := r.Backup(ctx, d.db, BackupOptions{Level: 1}) // a level 1 covers what the level 2 did
		if err != nil || inc1b.Entry.First != 101 || inc1b.Entry.Last != 180 {
			t.Fatalf("second level 1: %+v, %v", inc1b, err)
		}
		c, err := r.Catalog(ctx, "foo")
		if err != nil {
			t.Fatal(err)
		}
		h := c.History("foo", d.origin(t))
		if h == nil || len(h.Objects) != 4 || !h.Objects[0].Expires.Equal(time.Unix(1e9, 0)) {
			t.Fatalf("catalog: %+v", c)
		}
		want, _, _ := d.db.State()
		wantHash, _ := d.db.HashAt(want)
		res, lsn, hash := restored(t, r, RestoreOptions{Source: "foo"})
		if lsn != want || hash != wantHash {
			t.Errorf("restored to LSN %d h %s, want %d h %s", lsn, hash, want, wantHash)
		}
		if got := len(res.Plan); got != 2 { // level 0 and the second level 1: the fewest bytes
			t.Errorf("plan of %d objects: %v", got, res.Plan)
		}
		// A point in time: after commit 120 (second 120).
		res, lsn, _ = restored(t, r, RestoreOptions{Source: "foo", Options: replica.Options{TargetTime: time.Unix(120, 0)}})
		if lsn != 120 || res.Stop == nil || res.Stop.Next != 121 {
			t.Errorf("restore to second 120: LSN %d, stop %+v", lsn, res.Stop)
		}
	})
}

func TestArchiveFollowsAndResumes(t *testing.T) {
	eachBackend(t, func(t *testing.T, r *Repository) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		d := newTestDB(t, "foo")
		d.commit(t, 10)
		stop := make(chan struct{})
		var mu sync.Mutex
		var written []Entry
		got := make(chan Entry, 100)
		done := make(chan error, 1)
		go func() {
			done <- r.Archive(ctx, d.db, ArchiveOptions{MaxDelay: 20 * time.Millisecond, Stop: stop,
				Written: func(e Entry) { mu.Lock(); written = append(written, e); mu.Unlock(); got <- e }})
		}()
		waitArchived(t, got, 10)
		d.commit(t, 5)
		waitArchived(t, got, 15)
		d.commit(t, 3)
		close(stop) // what is durable goes in a last object
		if err := <-done; err != nil {
			t.Fatalf("Archive: %v", err)
		}
		mu.Lock()
		last := written[len(written)-1]
		mu.Unlock()
		if last.Last != 18 {
			t.Fatalf("the last object ends at %d, want 18", last.Last)
		}
		// Restarted, it resumes after LSN 18: no gap, no duplicate.
		d.commit(t, 2)
		stop2 := make(chan struct{})
		close(stop2)
		got2 := make(chan Entry, 10)
		if err := r.Archive(ctx, d.db, ArchiveOptions{Stop: stop2, Written: func(e Entry) { got2 <- e }}); err != nil {
			t.Fatalf("resumed Archive: %v", err)
		}
		if e := <-got2; e.First != 19 || e.Last != 20 {
			t.Fatalf("resumed with %d..%d, want 19..20", e.First, e.Last)
		}
		c, _ := r.Catalog(ctx, "foo")
		h := c.History("foo", d.origin(t))
		if gaps := h.Gaps(); len(gaps) != 0 {
			t.Errorf("gaps %v", gaps)
		}
		for i := 1; i < len(h.Objects); i++ {
			if h.Objects[i].First != h.Objects[i-1].Last+1 {
				t.Errorf("objects %s and %s do not join", h.Objects[i-1].Key, h.Objects[i].Key)
			}
		}
		_, lsn, _ := restored(t, r, RestoreOptions{Source: "foo"})
		if lsn != 20 {
			t.Errorf("restored to %d, want 20", lsn)
		}
	})
}

// waitArchived waits for an object reaching lsn.
func waitArchived(t *testing.T, got <-chan Entry, lsn uint64) {
	t.Helper()
	timeout := time.After(60 * time.Second)
	for {
		select {
		case e := <-got:
			if e.Last >= lsn {
				return
			}
		case <-timeout:
			t.Fatalf("no object reached LSN %d", lsn)
		}
	}
}

// backedUpAndDiverged backs foo's LSNs 1..10 up into r, then returns a
// copy of foo restored from r to LSN 5 that went its own way for n more
// commits: the same name and origin, another history.
func backedUpAndDiverged(t *testing.T, r *Repository, n int) *engine.DB {
	t.Helper()
	d := newTestDB(t, "foo")
	d.commit(t, 10)
	if _, err := r.Backup(context.Background(), d.db, BackupOptions{}); err != nil {
		t.Fatal(err)
	}
	other := t.TempDir()
	if _, err := r.Restore(context.Background(), other, "foo", RestoreOptions{Options: replicaTarget(5)}); err != nil {
		t.Fatal(err)
	}
	db := openWritable(t, other, "foo")
	for range n {
		commitOne(t, db)
	}
	return db
}

func TestArchiveRefusesAnotherHistory(t *testing.T) {
	eachBackend(t, func(t *testing.T, r *Repository) {
		db := backedUpAndDiverged(t, r, 10)
		stop := make(chan struct{})
		close(stop)
		err := r.Archive(context.Background(), db, ArchiveOptions{Stop: stop})
		if !errors.Is(err, txframe.ErrHistory) {
			t.Fatalf("Archive of a diverged copy: %v, want ErrHistory", err)
		}
	})
}

// archiveOnce archives what db holds and stops: one object.
func archiveOnce(t *testing.T, r *Repository, db *engine.DB) {
	t.Helper()
	stop := make(chan struct{})
	close(stop)
	if err := r.Archive(context.Background(), db, ArchiveOptions{Stop: stop}); err != nil {
		t.Fatal(err)
	}
}

func replicaTarget(lsn uint64) replica.Options { return replica.Options{TargetLSN: lsn} }

func openWritable(t *testing.T, dir, name string) *engine.DB {
	t.Helper()
	db, err := engine.Open(dir, name, engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func commitOne(t *testing.T, db *engine.DB) {
	t.Helper()
	if _, err := db.Commit([]txframe.Entry{{Op: txframe.OpPut, Key: []byte("x"), Value: []byte("y")}}); err != nil {
		t.Fatal(err)
	}
}

func TestRestoreNamesMissingLSNs(t *testing.T) {
	eachBackend(t, func(t *testing.T, r *Repository) {
		ctx := context.Background()
		d := newTestDB(t, "foo")
		d.commit(t, 10)
		full, _ := r.Backup(ctx, d.db, BackupOptions{})
		d.commit(t, 10)
		r.Backup(ctx, d.db, BackupOptions{Level: 1})
		d.commit(t, 10)
		r.Backup(ctx, d.db, BackupOptions{Level: 2})
		// The level 1 object goes missing: LSNs 11..20 are lost.
		c, _ := r.Catalog(ctx, "foo")
		for _, e := range c.History("foo", d.origin(t)).Objects {
			if e.Kind == Backup && e.Level == 1 {
				if err := r.Store().Delete(ctx, e.Key); err != nil {
					t.Fatal(err)
				}
			}
		}
		_, err := r.Restore(ctx, t.TempDir(), "foo", RestoreOptions{Options: replica.Options{TargetLSN: 30}})
		var gap *txframe.GapError
		if !errors.As(err, &gap) || gap.From != 11 || gap.To != 20 {
			t.Fatalf("Restore across a missing object: %v, want a gap 11..20", err)
		}
		// Up to LSN 10 is still restorable.
		if _, lsn, _ := restored(t, r, RestoreOptions{Source: "foo"}); lsn != full.Entry.Last {
			t.Errorf("latest restore reached %d, want %d", lsn, full.Entry.Last)
		}
	})
}

// TestTwoArchivesOneStops runs two archives of one database into one
// repository: one of them notices the other's objects and stops, saying
// why; nothing is overwritten and the repository has no gap.
func TestTwoArchivesOneStops(t *testing.T) {
	eachBackend(t, func(t *testing.T, r *Repository) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		d := newTestDB(t, "foo")
		d.commit(t, 5)
		stop := make(chan struct{})
		errs := make(chan error, 2)
		for range 2 {
			go func() { errs <- r.Archive(ctx, d.db, ArchiveOptions{MaxDelay: 5 * time.Millisecond, Stop: stop}) }()
		}
		var first error
		for first == nil { // commit until one of them stops
			d.commit(t, 1)
			select {
			case first = <-errs:
			case <-time.After(time.Millisecond):
			}
		}
		if !errors.Is(first, ErrOtherArchive) {
			t.Fatalf("the first to stop: %v, want ErrOtherArchive", first)
		}
		close(stop)
		if err := <-errs; err != nil && !errors.Is(err, ErrOtherArchive) {
			t.Fatalf("the other: %v", err)
		}
		rep, err := r.Verify(ctx, "foo", VerifyOptions{})
		if err != nil || !rep.OK() {
			t.Fatalf("Verify: %v %v", rep.Problems, err)
		}
	})
}

// TestArchiveCutsABacklogIntoObjectSize: an archive catching up writes
// objects of at most ObjectSize bytes of frames, joined without gap.
func TestArchiveCutsABacklogIntoObjectSize(t *testing.T) {
	r := New(mustOpen(t, filepath.Join(t.TempDir(), "repo"), StoreOptions{}))
	d := newTestDB(t, "foo")
	for range 40 {
		d.sec.Add(1)
		if _, err := d.db.Commit([]txframe.Entry{{Op: txframe.OpPut, Key: []byte("k"), Value: make([]byte, 1000)}}); err != nil {
			t.Fatal(err)
		}
	}
	stop := make(chan struct{})
	close(stop)
	var objects []Entry
	if err := r.Archive(context.Background(), d.db, ArchiveOptions{Stop: stop, ObjectSize: 10 << 10,
		Written: func(e Entry) { objects = append(objects, e) }}); err != nil {
		t.Fatal(err)
	}
	if len(objects) < 4 {
		t.Fatalf("%d objects for 40 KiB of frames at 10 KiB each", len(objects))
	}
	var next uint64 = 1
	for _, o := range objects {
		if o.First != next {
			t.Errorf("%s does not start at LSN %d", o.Key, next)
		}
		next = o.Last + 1
		if o.Size > 10<<10+512 { // frames, and a header and end record
			t.Errorf("%s holds %d bytes", o.Key, o.Size)
		}
	}
	if next != 41 {
		t.Errorf("objects end at LSN %d, want 40", next-1)
	}
}

// TestArchiveSleepsWhileAFrameWaits: while a frame waits for MaxDelay, the
// archive looks at the database about once a poll, not in a busy loop.
func TestArchiveSleepsWhileAFrameWaits(t *testing.T) {
	r := New(mustOpen(t, filepath.Join(t.TempDir(), "repo"), StoreOptions{}))
	d := newTestDB(t, "foo")
	d.sec.Store(time.Now().Unix()) // the frame waits from now
	d.commit(t, 1)
	stop := make(chan struct{})
	looks := 0
	err := r.Archive(context.Background(), d.db, ArchiveOptions{MaxDelay: 500 * time.Millisecond, Stop: stop,
		Progress: func(ArchiveProgress) { looks++ },
		Written:  func(Entry) { close(stop) }})
	if err != nil {
		t.Fatal(err)
	}
	if max := int(500*time.Millisecond/archivePoll) + 10; looks > max { // a busy loop makes thousands
		t.Errorf("%d looks at the database in 500 ms, want at most %d (one a poll)", looks, max)
	}
}
