//go:build linux

package main

import (
	"errors"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// smallFS mounts a tmpfs of size bytes for the test, or skips the test
// when it cannot (not root, no mount permission). A tmpfs fails writes with
// ENOSPC once full, as a full disk does.
func smallFS(t *testing.T, size int) string {
	t.Helper()
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size="+strconv.Itoa(size)); err != nil {
		t.Skipf("a full disk needs a small tmpfs, and mounting one failed (%v): run as root to include this test", err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, syscall.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}

// TestForcedReplicaIsSwitchedBackOffOnAFullDisk: a --force-replica restore
// that runs out of space fails with the cause, keeps every frame it made
// durable, and switches replica mode back off: the writer's failure does not
// stop that, since nothing past the durable watermark is left.
func TestForcedReplicaIsSwitchedBackOffOnAFullDisk(t *testing.T) {
	small := smallFS(t, 4<<20)
	src := t.TempDir()
	mustRun(t, hotpipeCmd(src, "-q", "db", "create", "foo"))
	mustRun(t, hotpipeCmd(src, "-q", "load", "foo", "--txs", "100", "--value-size", "100000"))
	first := filepath.Join(src, "first5.backup")
	all := filepath.Join(src, "all.backup")
	mustRun(t, hotpipeCmd(src, "-q", "hot-backup", "foo", "--end-lsn", "5", "-o", first))
	mustRun(t, hotpipeCmd(src, "-q", "hot-backup", "foo", "-o", all))
	mustRun(t, hotpipeCmd(small, "-q", "hot-restore", "bar", "-i", first))

	out, err := hotpipeCmd(small, "hot-restore", "bar", "-i", all, "--append", "--force-replica").CombinedOutput()
	if code := exitCodeOf(err); code != exitFailure || !strings.Contains(string(out), "no space left on device") {
		t.Fatalf("restore onto a full disk: exit %d, want %d naming ENOSPC:\n%s", code, exitFailure, out)
	}
	if n := strings.Count(string(out), "no space left on device"); n != 1 {
		t.Fatalf("the cause is told %d times, want once:\n%s", n, out)
	}
	if !strings.Contains(string(out), "switched back off replica mode") {
		t.Fatalf("the restore does not say replica mode is off again:\n%s", out)
	}
	st := dbStatus(t, small, "bar")
	if !strings.Contains(st, "replica:     off") || !strings.Contains(st, "writer lock: free") {
		t.Fatalf("after the failed restore:\n%s", st)
	}
	if out, err := hotpipeCmd(small, "db", "check", "bar").CombinedOutput(); err != nil {
		t.Fatalf("db check after the failed restore: %v\n%s", err, out)
	}
}

func exitCodeOf(err error) int {
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return exit.ExitCode()
	}
	if err == nil {
		return 0
	}
	return -1
}
