//go:build linux

package main

import (
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hotpipe/hotpipe/engine"
)

// TestRemoteRestoreClientKilled: a hot-restore --addr killed (SIGKILL)
// mid-upload leaves the server serving and the database a replica at a
// whole frame of the source's history, its lock released; hot-restore
// --append --addr completes it to the source's state.
func TestRemoteRestoreClientKilled(t *testing.T) {
	dir := loadedDB(t, 2000)
	file := filepath.Join(t.TempDir(), "foo.backup")
	mustRun(t, hotpipeCmd(dir, "-q", "hot-backup", "foo", "-o", file))
	full, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	srv, url := startServe(t, dir)
	client := hotpipeCmd(dir, "-q", "hot-restore", "bar", "--addr", url)
	client.Env = append(client.Env, "HOTPIPE_TOKEN=tok")
	stdin, err := client.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := client.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _, _ = stdin.Write(full[:len(full)/2]) }() // and then nothing: the client waits for more
	waitLSN(t, dir, "bar", 500)
	if err := client.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = client.Wait()
	stdin.Close()
	waitUnlocked(t, dir, "bar")

	if resp, err := http.Get(url + "/health"); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("serve after its client was killed: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	if srv.ProcessState != nil {
		t.Fatalf("serve exited: %v", srv.ProcessState)
	}
	bar, err := engine.Open(dir, "bar", engine.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	m, merr := bar.Meta()
	lsn, h, serr := bar.State()
	bar.Close()
	if merr != nil || serr != nil || !m.Replica || !m.Restoring || lsn < 500 {
		t.Fatalf("bar left at LSN %d, meta %+v (%v, %v): want a replica still restoring", lsn, m, merr, serr)
	}
	foo, err := engine.Open(dir, "foo", engine.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer foo.Close()
	if want, err := foo.HashAt(lsn); err != nil || want != h {
		t.Fatalf("bar's h(%d) = %s, foo's %s (%v)", lsn, h, want, err)
	}

	resume := hotpipeCmd(dir, "-q", "hot-restore", "bar", "--append", "--addr", url, "-i", file)
	resume.Env = append(resume.Env, "HOTPIPE_TOKEN=tok")
	mustRun(t, resume)
	mustRun(t, hotpipeCmd(dir, "-q", "db", "check", "bar"))
	fooLSN, fooH, err := foo.State()
	if err != nil {
		t.Fatal(err)
	}
	if got, err := stateHash(dir, "bar"); err != nil || got != fooH.String() || fooLSN != 2000 {
		t.Errorf("bar resumed to h %s (%v); foo at LSN %d h %s", got, err, fooLSN, fooH)
	}
}

// waitLSN waits until database name's durable LSN reaches n.
func waitLSN(t *testing.T, dir, name string, n uint64) {
	t.Helper()
	var lsn uint64
	for deadline := time.Now().Add(waitTimeout); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		db, err := engine.Open(dir, name, engine.Options{ReadOnly: true})
		if err == nil {
			lsn, _, err = db.State()
			db.Close()
		}
		if err == nil && lsn >= n {
			return
		}
		if err != nil && !errors.Is(err, engine.ErrNotFound) {
			t.Fatal(err)
		}
	}
	t.Fatalf("%s reached only LSN %d of %d within %v", name, lsn, n, waitTimeout)
}

// waitUnlocked waits until no process holds database name's writer lock.
func waitUnlocked(t *testing.T, dir, name string) {
	t.Helper()
	for deadline := time.Now().Add(waitTimeout); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		_, held, err := engine.LockHolder(dir, name)
		if err != nil {
			t.Fatal(err)
		}
		if !held {
			return
		}
	}
	t.Fatalf("%s still locked after %v", name, waitTimeout)
}

// stateHash is database name's state hash.
func stateHash(dir, name string) (string, error) {
	db, err := engine.Open(dir, name, engine.Options{ReadOnly: true})
	if err != nil {
		return "", err
	}
	defer db.Close()
	_, h, err := db.State()
	return h.String(), err
}
