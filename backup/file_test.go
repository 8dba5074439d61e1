package backup

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
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
	syncWriter
	failWrite, failSync int
	writes, syncs       int
}

func (f *faultyFile) Write(p []byte) (int, error) {
	f.writes++
	if f.writes == f.failWrite {
		n, _ := f.syncWriter.Write(p[:len(p)/2])
		return n, syscall.ENOSPC
	}
	return f.syncWriter.Write(p)
}

func (f *faultyFile) Sync() error {
	f.syncs++
	if f.syncs == f.failSync {
		return syscall.EIO
	}
	return f.syncWriter.Sync()
}

// faults returns the seam that makes a backup file fail as f says.
func faults(failWrite, failSync int) func(*os.File) syncWriter {
	return func(f *os.File) syncWriter {
		return &faultyFile{syncWriter: f, failWrite: failWrite, failSync: failSync}
	}
}

// backupTo makes a complete backup file of db through LSN end.
func backupTo(end uint64) func(t *testing.T, db *testDB, path string) {
	return func(t *testing.T, db *testDB, path string) {
		t.Helper()
		if _, err := File(context.Background(), db.reader, path, Options{End: end}); err != nil {
			t.Fatal(err)
		}
	}
}

// tornBackup makes a backup through LSN 30 and cuts it inside frame 30, as
// an interrupted backup leaves it.
func tornBackup(t *testing.T, db *testDB, path string) {
	t.Helper()
	backupTo(30)(t, db, path)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, fi.Size()-stream.EndSize-100); err != nil {
		t.Fatal(err)
	}
}

// TestBackupFileFaultsNeverLookComplete injects a failed write or fsync into
// backups into a file: a file the backup created is removed; a file it
// appended to is cut back to what was durable (its end record gone, when
// it was the new one), and the next Append completes it. (Once, the new
// end record stayed: the file verified, and --append said "up to date".)
func TestBackupFileFaultsNeverLookComplete(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name                string
		setup               func(t *testing.T, db *testDB, path string) // an earlier backup, if any
		appendTo, follow    bool
		failWrite, failSync int
		cause               error
		state               FileState
		last                uint64 // what is durable after a cut
	}{
		{name: "File: the final fsync fails", failSync: 1, cause: syscall.EIO, state: Removed},
		{name: "File: a write fails half-way", failWrite: 2, cause: syscall.ENOSPC, state: Removed},
		{name: "Append creating the file: the final fsync fails", appendTo: true, failSync: 1, cause: syscall.EIO, state: Removed},
		{name: "Append to a complete backup: the final fsync fails", setup: backupTo(20), appendTo: true,
			failSync: 1, cause: syscall.EIO, state: CutBack, last: 20},
		{name: "Append to a complete backup: the end record's write fails", setup: backupTo(20), appendTo: true,
			failWrite: 3, cause: syscall.ENOSPC, state: CutBack, last: 20},
		{name: "Append resuming a torn backup: a write fails", setup: tornBackup, appendTo: true,
			failWrite: 1, cause: syscall.ENOSPC, state: CutBack, last: 29},
		{name: "Append resuming a torn backup: the repair's fsync fails", setup: tornBackup, appendTo: true,
			failSync: 1, cause: syscall.EIO, state: CutBack, last: 29},
		{name: "File following: the periodic fsync fails", follow: true, failSync: 1, cause: syscall.EIO, state: Removed},
		{name: "Append following: the second periodic fsync fails", setup: backupTo(20), appendTo: true, follow: true,
			failSync: 2, cause: syscall.EIO, state: CutBack, last: 50},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			db := newDB(t, "foo", 50, 300, 0)
			path := filepath.Join(t.TempDir(), "foo.backup")
			var before stream.Tail
			if tt.setup != nil {
				tt.setup(t, db, path)
				before = tailOf(t, path)
			}
			// A following backup that went on after a failed fsync would
			// end, with no error, at this deadline.
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			opts := Options{Follow: tt.follow, SyncEvery: time.Nanosecond, file: faults(tt.failWrite, tt.failSync)}
			do := File
			if tt.appendTo {
				do = Append
			}
			res, err := do(ctx, db.reader, path, opts)
			var fe *FileError
			if !errors.As(err, &fe) || fe.State != tt.state || fe.Path != path || !errors.Is(err, tt.cause) || res.Ended {
				t.Fatalf("backup = %v (Result %+v); want a *FileError of state %d wrapping %v", err, res, tt.state, tt.cause)
			}
			if tt.state == Removed {
				if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
					t.Fatalf("%s is still there after the failed backup that created it (%v)", path, err)
				}
				return
			}
			if fe.Last != tt.last || !tt.follow && fe.Size != before.Keep {
				t.Fatalf("cut back to %d bytes through LSN %d; want %d bytes through LSN %d", fe.Size, fe.Last, before.Keep, tt.last)
			}
			checkTakenBack(t, db, path, before, fe)
		})
	}
}

// checkTakenBack requires a file a failed backup appended to to stand as
// the *FileError says and as durable data left it (the earlier backup's
// tail, or the last synced frames of a following backup), and Append to
// complete it.
func checkTakenBack(t *testing.T, db *testDB, path string, before stream.Tail, fe *FileError) {
	t.Helper()
	after := tailOf(t, path)
	if after.Torn != 0 || after.Keep != fe.Size || after.Last != fe.Last || after.Last < before.Last || after.Last == 50 && after.Complete {
		t.Fatalf("after the failed append: %+v (before it: %+v, the error: %+v)", after, before, fe)
	}
	res, err := Append(context.Background(), db.reader, path, Options{})
	if err != nil || res.UpToDate || !res.Ended {
		t.Fatalf("the next Append = %v, Result %+v", err, res)
	}
	if got := readFile(t, path); got.err != nil || got.first != 1 || got.last != 50 {
		t.Fatalf("after the next Append the file reads as %+v; want LSN 1..50", got)
	}
}

// TestBackupFileLock: a second writer of a backup file is refused with
// ErrFileLocked naming the holder, however it opens the file, and the lock
// dies with its holder whatever description it left beside the file.
func TestBackupFileLock(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "foo.backup")
	held, err := createOut(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = openOut(path, nil)
	var locked *FileLockedError
	if !errors.As(err, &locked) || !errors.Is(err, ErrFileLocked) || locked.Path != path || locked.Holder.PID != os.Getpid() {
		t.Fatalf("openOut of a held file = %v, want ErrFileLocked naming pid %d", err, os.Getpid())
	}
	if err := held.f.Close(); err != nil { // as if killed: the description stays
		t.Fatal(err)
	}
	o, err := openOut(path, nil)
	if err != nil {
		t.Fatalf("openOut after the holder died: %v", err)
	}
	if err := o.close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(holderFile(path)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the holder's description outlived its lock: %v", err)
	}
}

// TestFileLockRefusesAppendAndFile: while File holds a backup file (here,
// paced to a crawl), Append of it is refused with a *FileLockedError and
// File of it with fs.ErrExist, and the file is untouched by either.
func TestFileLockRefusesAppendAndFile(t *testing.T) {
	t.Parallel()
	db := newDB(t, "foo", 20, 100, 0)
	path := filepath.Join(t.TempDir(), "foo.backup")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	started := make(chan struct{})
	done := make(chan error, 1)
	seam := func(f *os.File) syncWriter { return &notifyingFile{File: f, first: started} }
	go func() {
		_, err := File(ctx, db.reader, path, Options{MaxRate: 1, file: seam})
		done <- err
	}()
	<-started
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Append(context.Background(), db.reader, path, Options{})
	var locked *FileLockedError
	if !errors.As(err, &locked) || locked.Holder.PID != os.Getpid() {
		t.Fatalf("Append of a held file = %v, want a *FileLockedError naming this process", err)
	}
	if _, err := File(context.Background(), db.reader, path, Options{}); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("File of an existing file = %v, want fs.ErrExist", err)
	}
	if after, err := os.ReadFile(path); err != nil || !bytes.Equal(after, before) {
		t.Fatalf("the held file changed under the refused backups (%v)", err)
	}
	cancel()
	var fe *FileError
	if err := <-done; !errors.As(err, &fe) || fe.State != Incomplete || !errors.Is(err, context.Canceled) {
		t.Fatalf("the cancelled File = %v, want a *FileError leaving it Incomplete", err)
	}
}

// notifyingFile tells of its first write on first.
type notifyingFile struct {
	*os.File
	first chan struct{}
	told  bool
}

func (f *notifyingFile) Write(p []byte) (int, error) {
	n, err := f.File.Write(p)
	if !f.told {
		f.told = true
		close(f.first)
	}
	return n, err
}

// TestOpenOutRetriesAFileRemovedUnderIt: a backup that opened the file
// just as the backup holding it removed it (a file it created and could
// not make durable) must not write into the removed file.
func TestOpenOutRetriesAFileRemovedUnderIt(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "foo.backup")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if _, err := lockOut(f, path, false, nil); !errors.Is(err, errReplaced) {
		t.Fatalf("lockOut of a removed file = %v, want errReplaced", err)
	}
}

// TestFileCancelledIsResumed: a File cancelled between blocks leaves its
// file Incomplete, fsynced at a frame boundary without an end record, and
// Append completes it.
func TestFileCancelledIsResumed(t *testing.T) {
	t.Parallel()
	db := newDB(t, "foo", 100, 200, 4<<10)
	path := filepath.Join(t.TempDir(), "foo.backup")
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	res, err := File(ctx, db.reader, path, Options{Progress: func(p Progress) {
		if p.Last >= 40 {
			cancel(errStop)
		}
	}})
	var fe *FileError
	if !errors.As(err, &fe) || fe.State != Incomplete || !errors.Is(err, errStop) || !errors.Is(err, context.Canceled) || fe.Last != res.Last || res.Last < 40 || res.Last >= 100 {
		t.Fatalf("the cancelled File = %v, Result %+v; want Incomplete after LSN 40..99", err, res)
	}
	if tail := tailOf(t, path); tail.Complete || tail.Torn != 0 || tail.Last != res.Last {
		t.Fatalf("the cancelled file ends as %+v; want whole frames through LSN %d and no end record", tail, res.Last)
	}
	res2, err := Append(context.Background(), db.reader, path, Options{})
	if err != nil || res2.First != res.Last+1 || res2.Last != 100 || res2.Frames != 100-res.Last || res2.Repaired != nil {
		t.Fatalf("Append = %v, Result %+v; want LSN %d..100 appended", err, res2, res.Last+1)
	}
	if got := readFile(t, path); got.err != nil || got.ends != 1 || got.first != 1 || got.last != 100 {
		t.Fatalf("the resumed file reads as %+v; want one segment of LSN 1..100", got)
	}
}
