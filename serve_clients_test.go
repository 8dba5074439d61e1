//go:build linux

package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/hotpipe/hotpipe/engine"
	"github.com/hotpipe/hotpipe/stream"
	"github.com/hotpipe/hotpipe/verify"
)

// TestFiftyClientsBackUpWhileAWriterCommits runs 50 hot-backup --addr
// processes at once against one server while a writer process commits:
// every one exits 0 with a stream that verifies whole and is a prefix of
// the database's history (its final hash is the database's at its last
// LSN), and the writer commits every transaction.
func TestFiftyClientsBackUpWhileAWriterCommits(t *testing.T) {
	const clients = 50
	dir := loadedDB(t, 200)
	_, url := startServe(t, dir)
	writer := hotpipeCmd(dir, "-q", "load", "foo", "--txs", "2000", "--workers", "1")
	var werr bytes.Buffer
	writer.Stderr = &werr
	if err := writer.Start(); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	cmds := make([]*exec.Cmd, clients)
	errs := make([]*bytes.Buffer, clients)
	for i := range cmds {
		f, err := os.Create(filepath.Join(out, fmt.Sprintf("%d.backup", i)))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		cmds[i] = hotpipeCmd(dir, "hot-backup", "foo", "--addr", url)
		cmds[i].Env = append(cmds[i].Env, "HOTPIPE_TOKEN=tok")
		errs[i] = &bytes.Buffer{}
		cmds[i].Stdout, cmds[i].Stderr = f, errs[i]
		if err := cmds[i].Start(); err != nil {
			t.Fatal(err)
		}
	}
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Errorf("client %d: %v: %s", i, err, errs[i])
		}
	}
	if err := writer.Wait(); err != nil {
		t.Fatalf("writer: %v: %s", err, werr.String())
	}
	db, err := engine.Open(dir, "foo", engine.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if last, _, _ := db.State(); last != 2200 {
		t.Fatalf("foo is at LSN %d after the writer, want 2200", last)
	}
	lo, hi := uint64(2200), uint64(0)
	for i := range cmds {
		last := assertPrefix(t, db, filepath.Join(out, fmt.Sprintf("%d.backup", i)))
		lo, hi = min(lo, last), max(hi, last)
	}
	t.Logf("the %d backups end between LSN %d and %d", clients, lo, hi)
}

// assertPrefix checks that the backup file verifies whole, from LSN 1,
// and ends on db's history; it returns its last LSN.
func assertPrefix(t *testing.T, db *engine.DB, path string) uint64 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rep, err := verify.Stream(context.Background(), []stream.Input{{Name: path, R: f}}, verify.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := rep.Err(); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if rep.First != 1 || rep.Last < 200 {
		t.Fatalf("%s: LSN %d..%d, want 1..200 or more", path, rep.First, rep.Last)
	}
	h, err := db.HashAt(rep.Last)
	if err != nil {
		t.Fatal(err)
	}
	if h != rep.FinalHash {
		t.Fatalf("%s: h(%d) %s, foo's %s", path, rep.Last, rep.FinalHash, h)
	}
	return rep.Last
}
