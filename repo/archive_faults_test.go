package repo

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hotpipe/hotpipe/internal/s3test"
)

// faultyS3 opens a repository in a new bucket of srv, reached through a
// fault-injecting proxy, with minio-go's own retries off: every failure
// reaches the archive, whose retries are under test. retries is
// minio-go's attempts per request.
func faultyS3(t *testing.T, srv *s3test.Server, retries int) (*Repository, *s3test.Proxy) {
	t.Helper()
	p := s3test.NewProxy(t, srv)
	_, bucket := openS3(t, srv, nil)
	o := testS3Options(srv)
	o.Endpoint, o.MaxRetries = p.Endpoint, retries
	return New(mustOpen(t, "s3://"+bucket+"/pre", StoreOptions{S3: o})), p
}

func isList(r *http.Request) bool {
	return r.Method == http.MethodGet && r.URL.Query().Has("list-type")
}

// TestArchiveRidesOutStoreFaults: an archive following a database keeps
// going through answers of 500 and 503, a slow server, requests cut
// midway, answers lost after the object was stored, failed listings, and
// the server killed and started again; once the faults end, the
// repository holds every frame once, verified and restorable.
func TestArchiveRidesOutStoreFaults(t *testing.T) {
	srv := s3test.Start(t)
	r, proxy := faultyS3(t, srv, 1)
	d := newTestDB(t, "foo")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var retries atomic.Int64
	retried := make(chan error, 1000)
	got := make(chan Entry, 1000)
	stop := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- r.Archive(ctx, d.db, ArchiveOptions{MaxDelay: 10 * time.Millisecond, Stop: stop, RetryWait: 5 * time.Millisecond, GiveUpAfter: time.Minute,
			Written:  func(e Entry) { got <- e },
			Retrying: func(rt Retry) { retries.Add(1); retried <- rt.Err }})
	}()
	d.commit(t, 10)
	waitArchived(t, got, 10)

	for _, c := range []struct {
		name  string
		fault s3test.Fault
		retry bool // the fault makes an attempt fail
	}{
		{"503", s3test.Fault{Match: isObjectPut, Times: 3, Status: http.StatusServiceUnavailable}, true},
		{"500", s3test.Fault{Match: isObjectPut, Times: 2, Status: http.StatusInternalServerError}, true},
		{"slow", s3test.Fault{Match: isObjectPut, Times: 1, Delay: 300 * time.Millisecond}, false},
		{"request cut", s3test.Fault{Match: isObjectPut, Times: 2, CutAfter: 100}, true},
		{"answer lost", s3test.Fault{Match: isObjectPut, Times: 1, LoseAnswer: true}, true},
		{"listing fails", s3test.Fault{Match: isList, Times: 2, Status: http.StatusServiceUnavailable}, true},
	} {
		before := retries.Load()
		_, hurt := proxy.Counts()
		proxy.Inject(c.fault)
		last := d.commit(t, 5)
		waitArchived(t, got, last)
		proxy.Clear()
		if _, now := proxy.Counts(); now-hurt != c.fault.Times {
			t.Errorf("%s: the fault hit %d requests, want %d", c.name, now-hurt, c.fault.Times)
		}
		if n := retries.Load() - before; c.retry != (n > 0) {
			t.Errorf("%s: %d retries", c.name, n)
		}
	}

	// The server dies while frames wait, and comes back.
	srv.Stop()
	last := d.commit(t, 5)
	if err := <-retried; !errors.Is(err, ErrUnavailable) {
		t.Errorf("retried %v, want ErrUnavailable", err)
	}
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	waitArchived(t, got, last)

	close(stop)
	if err := <-done; err != nil {
		t.Fatalf("Archive: %v", err)
	}
	assertArchivedOnce(t, r, d, last)
}

// assertArchivedOnce checks that r holds d's frames 1..last in archive
// objects that join without gap or overlap, that verify finds nothing
// wrong, and that a restore reaches d's state at last.
func assertArchivedOnce(t *testing.T, r *Repository, d *testDB, last uint64) {
	t.Helper()
	ctx := context.Background()
	c, err := r.Catalog(ctx, "foo")
	if err != nil {
		t.Fatal(err)
	}
	h := c.History("foo", d.origin(t))
	if h == nil || len(c.Histories) != 1 {
		t.Fatalf("catalog %+v, want one history of foo", c)
	}
	var next uint64 = 1
	for _, o := range h.Objects {
		if o.Kind != Archive || o.First != next {
			t.Errorf("object %s: want an archive object from LSN %d", o.Key, next)
		}
		next = o.Last + 1
	}
	if next != last+1 {
		t.Errorf("the archive ends at LSN %d, want %d", next-1, last)
	}
	rep, err := r.Verify(ctx, "foo", VerifyOptions{})
	if err != nil || len(rep.Problems) != 0 {
		t.Errorf("Verify = %v, problems %v", err, rep.Problems)
	}
	want, err := d.db.HashAt(last)
	if err != nil {
		t.Fatal(err)
	}
	if _, lsn, hash := restored(t, r, RestoreOptions{Source: "foo", Options: replicaTarget(last)}); lsn != last || hash != want {
		t.Errorf("restored to LSN %d hash %x, want %d %x", lsn, hash, last, want)
	}
}

// TestArchiveGivesUp: a store that fails every write makes the archive
// retry, then return an error that says it gave up, how often and for how
// long, and what the store answered; nothing is stored.
func TestArchiveGivesUp(t *testing.T) {
	srv := s3test.Start(t)
	r, proxy := faultyS3(t, srv, 1)
	proxy.Inject(s3test.Fault{Match: isObjectPut, Status: http.StatusServiceUnavailable})
	d := newTestDB(t, "foo")
	d.commit(t, 3)
	var retries int
	stop := make(chan struct{})
	close(stop)
	err := r.Archive(context.Background(), d.db, ArchiveOptions{Stop: stop, RetryWait: 5 * time.Millisecond, GiveUpAfter: 100 * time.Millisecond,
		Retrying: func(Retry) { retries++ }})
	t.Log(err)
	if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "gave up after") || !strings.Contains(err.Error(), "503") {
		t.Errorf("Archive against a failing store = %v, want ErrUnavailable, gave up after, 503", err)
	}
	if retries == 0 {
		t.Error("no retry before giving up")
	}
	proxy.Clear()
	if c, err := r.Catalog(context.Background(), "foo"); err != nil || len(c.Histories) != 0 {
		t.Errorf("catalog after giving up: %+v, %v", c, err)
	}
}

// TestRestoreRidesOutStoreFaults: a restore from S3 reads through 503s, a
// GET cut midway and a failed listing; against a store that keeps failing
// it fails with ErrUnavailable, keeping what it restored, and once the
// store is back, Append restores the rest.
func TestRestoreRidesOutStoreFaults(t *testing.T) {
	srv := s3test.Start(t)
	r, proxy := faultyS3(t, srv, 3)
	d := newTestDB(t, "foo")
	d.commit(t, 50)
	archiveOnce(t, r, d.db)
	d.commit(t, 50)
	archiveOnce(t, r, d.db)
	_, want, err := d.db.State()
	if err != nil {
		t.Fatal(err)
	}
	isGet := func(r *http.Request) bool { return r.Method == http.MethodGet && !isList(r) }
	proxy.Inject(s3test.Fault{Match: isGet, Times: 2, Status: http.StatusServiceUnavailable})
	proxy.Inject(s3test.Fault{Match: isGet, Times: 1, CutAfter: 200})
	proxy.Inject(s3test.Fault{Match: isList, Times: 1, Status: http.StatusInternalServerError})
	if _, lsn, hash := restored(t, r, RestoreOptions{Source: "foo"}); lsn != 100 || hash != want {
		t.Errorf("restored LSN %d hash %x, want 100 %x", lsn, hash, want)
	}
	if _, hurt := proxy.Counts(); hurt != 4 {
		t.Errorf("the faults hit %d requests, want 4", hurt)
	}

	// The second object's GETs keep failing.
	proxy.Inject(s3test.Fault{Match: func(r *http.Request) bool {
		return isGet(r) && strings.Contains(r.URL.Path, "-00000000000000000100.a.")
	},
		Status: http.StatusServiceUnavailable})
	dir := t.TempDir()
	_, err = r.Restore(context.Background(), dir, "copy", RestoreOptions{Source: "foo"})
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Restore from a failing store = %v, want ErrUnavailable", err)
	}
	proxy.Clear()
	opts := RestoreOptions{Source: "foo"}
	opts.Append = true
	res, err := r.Restore(context.Background(), dir, "copy", opts)
	if err != nil || res.First != 51 || res.Last != 100 {
		t.Fatalf("Restore --append once the store is back = %+v, %v; want LSN 51..100", res.Result, err)
	}
}
