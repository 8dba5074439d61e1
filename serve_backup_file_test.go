//go:build linux

package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hotpipe/hotpipe/stream"
)

// remoteFileBackup starts hot-backup foo --addr url -o file with args.
func remoteFileBackup(t *testing.T, dir, url, file string, args ...string) (*exec.Cmd, *bytes.Buffer) {
	t.Helper()
	cmd := hotpipeCmd(dir, append([]string{"hot-backup", "foo", "--addr", url, "-o", file}, args...)...)
	cmd.Env = append(cmd.Env, "HOTPIPE_TOKEN=tok")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return cmd, &stderr
}

// waitSize waits until the file at path holds at least n bytes.
func waitSize(t *testing.T, path string, n int64) {
	t.Helper()
	for deadline := time.Now().Add(waitTimeout); ; time.Sleep(5 * time.Millisecond) {
		if fi, err := os.Stat(path); err == nil && fi.Size() >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not reach %d bytes within %v", path, n, waitTimeout)
		}
	}
}

// TestRemoteFileServerKilled: a server SIGKILLed while hot-backup --addr
// -o FILE receives leaves the client exit 3 and FILE whole frames with no
// end record (nothing torn: no repair is needed); --append against the
// restarted server completes it, and its restore equals the source.
func TestRemoteFileServerKilled(t *testing.T) {
	dir := t.TempDir()
	mustRun(t, hotpipeCmd(dir, "-q", "db", "create", "foo"))
	mustRun(t, hotpipeCmd(dir, "-q", "load", "foo", "--txs", "200", "--value-size", "65536"))
	srv, url := startServe(t, dir)
	file := filepath.Join(t.TempDir(), "foo.backup")
	cmd, stderr := remoteFileBackup(t, dir, url, file, "--max-rate", "1MB")
	waitSize(t, file, 4<<16) // a few frames are in
	if err := srv.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != exitIntegrity {
		t.Fatalf("hot-backup --addr -o with its server killed: %v, want exit %d: %s", err, exitIntegrity, stderr)
	}
	if !strings.Contains(stderr.String(), "stream is truncated") || !strings.Contains(stderr.String(), "is incomplete (no end record after LSN") {
		t.Errorf("stderr: %s", stderr)
	}
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	tail, err := stream.ReadTail(f, fi.Size(), file)
	f.Close()
	if err != nil || tail.Torn != 0 || tail.Complete || tail.Last == 0 || tail.Last >= 200 {
		t.Fatalf("the file after the kill: %+v (%v); want whole frames and no end record", tail, err)
	}

	_, url = startServe(t, dir)
	cmd, stderr = remoteFileBackup(t, dir, url, file, "--append")
	if err := cmd.Wait(); err != nil {
		t.Fatalf("hot-backup --addr --append after the kill: %v: %s", err, stderr)
	}
	if strings.Contains(stderr.String(), "repaired") {
		t.Errorf("the append had to repair the file: %s", stderr)
	}
	mustRun(t, hotpipeCmd(dir, "-q", "verify", "-i", file))
	mustRun(t, hotpipeCmd(dir, "-q", "hot-restore", "bar", "-i", file))
	if a, b := dbState(t, dir, "foo"), dbState(t, dir, "bar"); a != b {
		t.Fatalf("foo is at %s, its restore bar at %s", a, b)
	}
}

// TestRemoteFileFollowSIGINT: hot-backup --addr -o FILE --append --follow
// writes commits as they come; SIGINT ends it with its end record, exit 0,
// and the file restores to the source's state.
func TestRemoteFileFollowSIGINT(t *testing.T) {
	dir := loadedDB(t, 100)
	local := filepath.Join(t.TempDir(), "local.backup")
	mustRun(t, hotpipeCmd(dir, "-q", "hot-backup", "foo", "-o", local))
	_, url := startServe(t, dir)
	file := filepath.Join(t.TempDir(), "foo.backup")
	cmd, stderr := remoteFileBackup(t, dir, url, file, "--append", "--follow")
	mustRun(t, hotpipeCmd(dir, "-q", "load", "foo", "--txs", "50", "--seed", "2"))
	mustRun(t, hotpipeCmd(dir, "-q", "hot-backup", "foo", "-o", local+"2"))
	fi, err := os.Stat(local + "2")
	if err != nil {
		t.Fatal(err)
	}
	waitSize(t, file, fi.Size()-stream.EndSize) // all 150 frames are in
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("hot-backup --addr -o --follow after SIGINT: %v: %s", err, stderr)
	}
	mustRun(t, hotpipeCmd(dir, "-q", "verify", "-i", file))
	mustRun(t, hotpipeCmd(dir, "-q", "hot-restore", "bar", "-i", file))
	if a, b := dbState(t, dir, "foo"), dbState(t, dir, "bar"); a != b {
		t.Fatalf("foo is at %s, its restore bar at %s", a, b)
	}
}
