package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hotpipe/hotpipe/stream"
)

// faultyFile fails its failWrite-th Write (after writing half of it, as a
// filling disk does) and its failSync-th Sync, counting from 1, once: later
// calls succeed, as a real fsync after a writeback error does (the kernel
// has marked the lost pages clean).
type faultyFile struct {
	backupFile
	failWrite, failSync int
	writes, syncs       int
}

func (f *faultyFile) Write(p []byte) (int, error) {
	f.writes++
	if f.writes == f.failWrite {
		n, _ := f.backupFile.Write(p[:len(p)/2])
		return n, syscall.ENOSPC
	}
	return f.backupFile.Write(p)
}

func (f *faultyFile) Sync() error {
	f.syncs++
	if f.syncs == f.failSync {
		return syscall.EIO
	}
	return f.backupFile.Sync()
}

// injectFaults makes the next backups write through a faultyFile.
func injectFaults(t *testing.T, failWrite, failSync int) {
	t.Helper()
	t.Cleanup(func() { faultSeam = func(f *os.File) backupFile { return f } })
	faultSeam = func(f *os.File) backupFile {
		return &faultyFile{backupFile: f, failWrite: failWrite, failSync: failSync}
	}
}

// tailOf reads how a backup file ends.
func tailOf(t *testing.T, path string) stream.Tail {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	tail, err := stream.ReadTail(f, fi.Size(), path)
	if err != nil {
		t.Fatal(err)
	}
	return tail
}

// TestBackupFileFaultsNeverLookComplete injects a failed write or fsync into
// backups to -o FILE: a file the backup created is removed; a file it
// appended to is cut back to what was durable (its end record gone, when
// it was the new one), and the next --append completes it. It used to keep
// the new end record: the file verified, and --append said "up to date".
func TestBackupFileFaultsNeverLookComplete(t *testing.T) {
	tests := []struct {
		name                string
		setup               func(t *testing.T, dir, file string) // an earlier backup, if any
		args                []string
		failWrite, failSync int
		removed             bool
		want                string // on stderr
	}{
		{name: "-o: the final fsync fails", args: []string{"-o"}, failSync: 1, removed: true,
			want: "is removed: this backup created it"},
		{name: "-o: a write fails half-way", args: []string{"-o"}, failWrite: 2, removed: true,
			want: "no space left on device"},
		{name: "--append creating FILE: the final fsync fails", args: []string{"--append", "-o"}, failSync: 1, removed: true,
			want: "is removed"},
		{name: "--append to a complete backup: the final fsync fails", setup: backupTo(20),
			args: []string{"--append", "-o"}, failSync: 1, want: "cut back to what was durable, 7860 bytes through LSN 20"},
		{name: "--append to a complete backup: the end record's write fails", setup: backupTo(20),
			args: []string{"--append", "-o"}, failWrite: 3, want: "through LSN 20; resume with: hotpipe hot-backup foo -o "},
		{name: "--append resuming a torn backup: a write fails", setup: tornBackup,
			args: []string{"--append", "-o"}, failWrite: 1, want: "through LSN 29"},
		{name: "--append resuming a torn backup: the repair's fsync fails", setup: tornBackup,
			args: []string{"--append", "-o"}, failSync: 1, want: "through LSN 29"},
		{name: "--follow -o: the periodic fsync fails", args: []string{"--follow", "-o"}, failSync: 1, removed: true,
			want: "input/output error"},
		{name: "--follow --append: the second periodic fsync fails", setup: backupTo(20),
			args: []string{"--follow", "--append", "-o"}, failSync: 2, want: "through LSN 50"},
	}
	defer func(d time.Duration) { followSyncEvery = d }(followSyncEvery)
	followSyncEvery = time.Millisecond
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			file := filepath.Join(dir, "foo.backup")
			mustHotpipe(t, dir, "-q", "db", "create", "foo")
			mustHotpipe(t, dir, "-q", "load", "foo", "--txs", "50", "--value-size", "300")
			var before stream.Tail
			if tt.setup != nil {
				tt.setup(t, dir, file)
				before = tailOf(t, file)
			}
			injectFaults(t, tt.failWrite, tt.failSync)
			code, stderr := runWithin(t, 20*time.Second, dir, append(append([]string{"hot-backup", "foo"}, tt.args...), file)...)
			if code != exitFailure || !strings.Contains(stderr, tt.want) {
				t.Fatalf("exit %d, want %d with %q on stderr:\n%s", code, exitFailure, tt.want, stderr)
			}
			injectFaults(t, 0, 0)
			if tt.removed {
				if _, err := os.Stat(file); !errors.Is(err, os.ErrNotExist) {
					t.Fatalf("%s is still there after the failed backup that created it (%v)", file, err)
				}
				return
			}
			checkTakenBack(t, dir, file, before, stderr)
		})
	}
}

// checkTakenBack requires a file a failed backup appended to to stand as
// durable data left it (the earlier backup's tail, or the last synced
// frames of a --follow), and --append to complete it.
func checkTakenBack(t *testing.T, dir, file string, before stream.Tail, stderr string) {
	t.Helper()
	after := tailOf(t, file)
	if after.Torn != 0 || after.Last < before.Last || after.Last == 50 && after.Complete {
		t.Fatalf("after the failed append: %+v (before it: %+v); stderr:\n%s", after, before, stderr)
	}
	if code, msg := hotpipe(t, dir, "hot-backup", "foo", "-o", file, "--append"); code != 0 || strings.Contains(msg, "up to date") {
		t.Fatalf("the next --append: exit %d\n%s", code, msg)
	}
	if code, msg := hotpipe(t, dir, "verify", "-i", file); code != 0 {
		t.Fatalf("verify after the next --append: exit %d\n%s", code, msg)
	}
	if got := tailOf(t, file); !got.Complete || got.Last != 50 {
		t.Fatalf("after the next --append: %+v, want complete through LSN 50", got)
	}
}

// backupTo makes a complete backup of foo through LSN end.
func backupTo(end int) func(t *testing.T, dir, file string) {
	return func(t *testing.T, dir, file string) {
		mustHotpipe(t, dir, "-q", "hot-backup", "foo", "--end-lsn", strconv.Itoa(end), "-o", file)
	}
}

// tornBackup makes a backup through LSN 30 and cuts it inside frame 30, as
// an interrupted backup leaves it.
func tornBackup(t *testing.T, dir, file string) {
	backupTo(30)(t, dir, file)
	fi, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(file, fi.Size()-stream.EndSize-100); err != nil {
		t.Fatal(err)
	}
}

// runWithin runs hotpipe in-process, failing the test if it has not ended
// within d (a --follow that goes on after a failed fsync).
func runWithin(t *testing.T, d time.Duration, dir string, args ...string) (int, string) {
	t.Helper()
	type result struct {
		code   int
		stderr string
	}
	done := make(chan result, 1)
	go func() {
		var stdout, stderr bytes.Buffer
		code := run(append([]string{"hotpipe", "--data-dir", dir}, args...), strings.NewReader(""), &stdout, &stderr)
		done <- result{code, stderr.String()}
	}()
	select {
	case r := <-done:
		return r.code, r.stderr
	case <-time.After(d):
		t.Fatalf("hotpipe %v still running after %v", args, d)
		return 0, ""
	}
}

// TestBackupFileLock: a second writer of a backup file is refused with
// errFileLocked naming the holder, however it opens the file, and the lock
// dies with its holder whatever description it left beside the file.
func TestBackupFileLock(t *testing.T) {
	file := filepath.Join(t.TempDir(), "foo.backup")
	held, err := createOut(file)
	if err != nil {
		t.Fatal(err)
	}
	_, err = openOut(file)
	var locked *fileLockedError
	if !errors.As(err, &locked) || !errors.Is(err, errFileLocked) || locked.Holder.PID != os.Getpid() {
		t.Fatalf("openOut of a held file = %v, want errFileLocked naming pid %d", err, os.Getpid())
	}
	if got := exitCode(err); got != exitLocked {
		t.Fatalf("exit code %d, want %d", got, exitLocked)
	}
	if err := held.f.Close(); err != nil { // as if killed: the description stays
		t.Fatal(err)
	}
	o, err := openOut(file)
	if err != nil {
		t.Fatalf("openOut after the holder died: %v", err)
	}
	if err := o.close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(holderFile(file)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the holder's description outlived its lock: %v", err)
	}
}

// TestOpenOutRetriesAFileRemovedUnderIt: a backup that opened FILE just as
// the backup holding it removed it (a file it created and could not make
// durable) must not write into the removed file.
func TestOpenOutRetriesAFileRemovedUnderIt(t *testing.T) {
	file := filepath.Join(t.TempDir(), "foo.backup")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(file, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(file); err != nil {
		t.Fatal(err)
	}
	if _, err := lockOut(f, file, false); !errors.Is(err, errReplaced) {
		t.Fatalf("lockOut of a removed file = %v, want errReplaced", err)
	}
}
