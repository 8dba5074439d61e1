//go:build linux

package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hotpipe/hotpipe/engine"
	"github.com/hotpipe/hotpipe/internal/s3test"
	"github.com/hotpipe/hotpipe/repo"
)

// TestArchiveKilledMidObject: an archive SIGKILLed while an object's
// upload is half sent leaves no object of it, whole or partial; started
// again, it resumes at the repository's last LSN, and the repository ends
// with every frame once, verified, restoring to the source's state.
func TestArchiveKilledMidObject(t *testing.T) {
	dir := loadedDB(t, 300)
	srv := s3test.Start(t)
	srv.MakeBucket(t, "backups")
	proxy := s3test.NewProxy(t, srv)
	const url = "s3://backups/r"
	archive := func(endpoint string) (*exec.Cmd, *bytes.Buffer) {
		cmd := hotpipeCmd(dir, "archive", "foo", "--repo", url, "--max-delay", "10ms")
		cmd.Env = append(cmd.Env, "HOTPIPE_S3_ENDPOINT="+endpoint, "AWS_REGION="+s3test.Region,
			"AWS_ACCESS_KEY_ID="+s3test.AccessKey, "AWS_SECRET_ACCESS_KEY="+s3test.SecretKey)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd, &stderr
	}
	r := repo.New(s3Store(t, srv, url))

	first, stderr := archive(proxy.Endpoint)
	waitRestorable(t, r, 300, stderr)
	hold := make(chan struct{})
	proxy.Inject(s3test.Fault{Match: func(r *http.Request) bool { return r.Method == http.MethodPut }, Hold: hold})
	mustRun(t, hotpipeCmd(dir, "-q", "load", "foo", "--txs", "100"))
	select {
	case <-proxy.Held: // the object of LSNs 301.. is half sent
	case <-time.After(waitTimeout):
		t.Fatalf("no object upload within %v: %s", waitTimeout, stderr)
	}
	if err := first.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = first.Wait()
	close(hold)
	if last := restorable(t, r); last != 300 {
		t.Fatalf("after the kill the repository holds LSN 1..%d, want 1..300", last)
	}

	mustRun(t, hotpipeCmd(dir, "-q", "load", "foo", "--txs", "50"))
	again, stderr := archive(srv.Endpoint)
	archiveUntil(t, r, again, stderr, 450)
	assertJoined(t, r, 450)
	restore := hotpipeCmd(dir, "-q", "hot-restore", "bar", "--repo", url, "--source", "foo")
	restore.Env = append(restore.Env, "HOTPIPE_S3_ENDPOINT="+srv.Endpoint, "AWS_REGION="+s3test.Region,
		"AWS_ACCESS_KEY_ID="+s3test.AccessKey, "AWS_SECRET_ACCESS_KEY="+s3test.SecretKey)
	mustRun(t, restore)
	if a, b := dbState(t, dir, "foo"), dbState(t, dir, "bar"); a != b {
		t.Errorf("restored state %s, source %s", b, a)
	}
}

// s3Store opens url on srv with its credentials.
func s3Store(t *testing.T, srv *s3test.Server, url string) repo.Store {
	t.Helper()
	st, err := repo.OpenStore(context.Background(), url, repo.StoreOptions{S3: repo.S3Options{Endpoint: srv.Endpoint,
		Region: s3test.Region, AccessKeyID: s3test.AccessKey, SecretAccessKey: s3test.SecretKey}})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// restorable returns the last LSN r can restore of foo's only history.
func restorable(t *testing.T, r *repo.Repository) uint64 {
	t.Helper()
	c, err := r.Catalog(context.Background(), "foo")
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Histories) == 0 {
		return 0
	}
	last, _ := c.Histories[0].Restorable()
	return last
}

// waitRestorable waits until r can restore foo through LSN lsn.
func waitRestorable(t *testing.T, r *repo.Repository, lsn uint64, stderr *bytes.Buffer) {
	t.Helper()
	for deadline := time.Now().Add(waitTimeout); restorable(t, r) < lsn; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the repository did not reach LSN %d within %v: %s", lsn, waitTimeout, stderr)
		}
	}
}

// dbState returns "LSN hash" of a database at rest.
func dbState(t *testing.T, dir, name string) string {
	t.Helper()
	db, err := engine.Open(dir, name, engine.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	lsn, h, err := db.State()
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%d %x", lsn, h)
}

// TestArchiveKilledWhileWriting: an archive into a directory repository,
// SIGKILLed again and again while a writer commits, each time as soon as
// an object's temp file appears (mid-object), leaves objects that join
// without gap or overlap, and temp files nothing lists; the last run
// brings the repository to the database's last LSN, verified, restoring
// to its state, and Cleanup removes what the kills left.
func TestArchiveKilledWhileWriting(t *testing.T) {
	dir := loadedDB(t, 100)
	url := filepath.Join(dir, "repo")
	st, err := repo.OpenStore(context.Background(), url, repo.StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r := repo.New(st)
	const rounds = 5
	left := 0 // temp files the kills left
	for range rounds {
		writer := hotpipeCmd(dir, "-q", "load", "foo", "--txs", "200", "--value-size", "16384", "--workers", "1")
		if err := writer.Start(); err != nil {
			t.Fatal(err)
		}
		cmd := hotpipeCmd(dir, "archive", "foo", "--repo", url, "--max-delay", "10ms")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		waitTempFile(t, url, left, &stderr)
		if err := cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		_ = cmd.Wait()
		if err := writer.Wait(); err != nil {
			t.Fatal(err)
		}
		assertJoined(t, r, 0)
		left = tempFiles(t, url)
	}
	t.Logf("%d of %d kills came while an object was being written", left, rounds)
	cmd := hotpipeCmd(dir, "archive", "foo", "--repo", url)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	archiveUntil(t, r, cmd, &stderr, 100+rounds*200)
	assertJoined(t, r, 100+rounds*200)
	if n, err := st.Cleanup(context.Background(), 0); err != nil || n != left {
		t.Errorf("Cleanup removed %d temp files, %v; want the %d the kills left", n, err, left)
	}
	mustRun(t, hotpipeCmd(dir, "-q", "hot-restore", "bar", "--repo", url, "--source", "foo"))
	if a, b := dbState(t, dir, "foo"), dbState(t, dir, "bar"); a != b {
		t.Errorf("restored state %s, source %s", b, a)
	}
}

// waitTempFile waits until the directory repository at url holds more
// than n temp files: an object is being written.
func waitTempFile(t *testing.T, url string, n int, stderr *bytes.Buffer) {
	t.Helper()
	for deadline := time.Now().Add(waitTimeout); tempFiles(t, url) <= n; time.Sleep(100 * time.Microsecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no object was being written within %v: %s", waitTimeout, stderr)
		}
	}
}

// tempFiles counts the temp files in the directory repository at url.
func tempFiles(t *testing.T, url string) int {
	t.Helper()
	n := 0
	err := filepath.WalkDir(url, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if strings.HasPrefix(d.Name(), ".tmp-") {
			n++
		}
		return nil
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	return n
}

// archiveUntil waits until the running archive cmd has brought r to LSN
// lsn, then ends it with SIGTERM, which must exit 0.
func archiveUntil(t *testing.T, r *repo.Repository, cmd *exec.Cmd, stderr *bytes.Buffer, lsn uint64) {
	t.Helper()
	waitRestorable(t, r, lsn, stderr)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("archive after SIGTERM: %v\n%s", err, stderr)
	}
}

// assertJoined checks that foo's objects in r join from LSN 1 without gap
// or overlap, through LSN last if it is not 0 (then it may hold none);
// then, that verify reads
// every frame and finds nothing wrong.
func assertJoined(t *testing.T, r *repo.Repository, last uint64) {
	t.Helper()
	c, err := r.Catalog(context.Background(), "foo")
	if err != nil || len(c.Histories) > 1 || len(c.Histories) == 0 && last != 0 {
		t.Fatalf("catalog %+v, %v; want one history of foo", c, err)
	}
	if len(c.Histories) == 0 {
		return // killed before its first object
	}
	var next uint64 = 1
	for _, o := range c.Histories[0].Objects {
		if o.First != next {
			t.Errorf("object %s does not start at LSN %d", o.Key, next)
		}
		next = o.Last + 1
	}
	if last != 0 && next != last+1 {
		t.Errorf("the objects end at LSN %d, want %d", next-1, last)
	}
	rep, err := r.Verify(context.Background(), "foo", repo.VerifyOptions{})
	if err != nil || len(rep.Problems) != 0 || rep.Frames != next-1 {
		t.Errorf("Verify = %+v, %v; want %d frames, no problem", rep, err, next-1)
	}
}
