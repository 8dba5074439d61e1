package backup

import (
	"errors"
	"fmt"
	"os"

	"github.com/hotpipe/hotpipe/engine"
)

// outFile is the backup file of File or Append. It holds an exclusive
// lock on the file itself (lockFile; a lock file beside it could be removed
// from under its holder) from before anything is read or written until it
// is closed. It counts what is durable, because after a failed write or fsync
// the kernel may have dropped pages it still reports as written (and a
// later fsync may succeed without them): from then on nothing is synced
// again, and takeBack undoes what may be lost.
type outFile struct {
	f          *os.File
	w          syncWriter
	path       string
	created    bool        // by this run: a failure removes it
	size       int64       // the file's length as written
	durable    int64       // its length at the last successful fsync
	durableLSN uint64      // the last LSN in those bytes
	fault      error       // the first failed write or fsync
	holder     os.FileInfo // the description of this holder beside the file, if it made one
}

// createOut creates path for File; an existing path is refused with an
// error that is fs.ErrExist. seam, when set, wraps what is written.
func createOut(path string, seam func(*os.File) syncWriter) (*outFile, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, err
	}
	return lockOut(f, path, true, seam)
}

// openOut opens path for Append, creating it when it is missing (and then
// noting that this run created it). It tries again when the file it opened
// was removed before it got the lock (by a backup that created it and
// failed).
func openOut(path string, seam func(*os.File) syncWriter) (*outFile, error) {
	for attempt := 1; ; attempt++ {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
		created := err == nil
		if errors.Is(err, os.ErrExist) { // or a dangling symlink, which this creates
			f, err = os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
		}
		if err != nil {
			return nil, err
		}
		o, err := lockOut(f, path, created, seam)
		if errors.Is(err, errReplaced) && attempt < 3 {
			continue
		}
		return o, err
	}
}

// errLockHeld is what lockFile returns when another holds the lock.
var errLockHeld = errors.New("lock held elsewhere")

// lockOut takes the file's lock without waiting, checks that path still
// names the file locked, and records the holder beside it.
func lockOut(f *os.File, path string, created bool, seam func(*os.File) syncWriter) (*outFile, error) {
	err := lockFile(f)
	if errors.Is(err, errLockHeld) {
		f.Close()
		return nil, &FileLockedError{Path: path, Holder: readFileHolder(path)}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if err := sameFile(f, path); err != nil {
		f.Close()
		return nil, err
	}
	var w syncWriter = f
	if seam != nil {
		w = seam(f)
	}
	return &outFile{f: f, w: w, path: path, created: created, holder: writeFileHolder(path)}, nil
}

// sameFile returns errReplaced unless path names the open file f.
func sameFile(f *os.File, path string) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	pi, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) || err == nil && !os.SameFile(fi, pi) {
		return fmt.Errorf("%s: %w", path, errReplaced)
	}
	return err
}

// holderFile is where the holder of a backup file's lock describes
// itself: beside the file, since the file's bytes are the backup. It only
// describes; the lock is the file's own (lockFile), so a stale or removed
// description changes nothing.
func holderFile(path string) string { return path + ".lock" }

// writeFileHolder describes this process as the lock's holder, best
// effort, in a file it creates beside the backup file: never through a
// symlink, never over a file that is not a stale description (one a
// killed backup left). It returns that file, so that close removes it and
// nothing else.
func writeFileHolder(path string) os.FileInfo {
	hp := holderFile(path)
	for try := 0; try < 2; try++ {
		f, err := os.OpenFile(hp, os.O_WRONLY|os.O_CREATE|os.O_EXCL|oNoFollow, 0o600)
		if errors.Is(err, os.ErrExist) && try == 0 && staleHolder(hp) {
			_ = os.Remove(hp)
			continue
		}
		if err != nil {
			return nil
		}
		_, werr := f.Write(engine.EncodeHolder())
		fi, serr := f.Stat()
		if errors.Join(werr, serr, f.Close()) != nil {
			return nil
		}
		return fi
	}
	return nil
}

// staleHolder reports whether hp is a regular file holding a holder's
// description: its holder is gone, since this process holds the lock.
func staleHolder(hp string) bool {
	fi, err := os.Lstat(hp)
	return err == nil && fi.Mode().IsRegular() && fi.Size() <= engine.HolderSize && engine.ReadHolder(hp).PID != 0
}

// readFileHolder returns the recorded holder, or "holder unknown".
func readFileHolder(path string) engine.Holder { return engine.ReadHolder(holderFile(path)) }

// Write writes through the seam and counts the bytes; after a fault it
// writes nothing more.
func (o *outFile) Write(p []byte) (int, error) {
	if o.fault != nil {
		return 0, o.fault
	}
	n, err := o.w.Write(p)
	o.size += int64(n)
	if err != nil {
		o.fault = err
	}
	return n, err
}

// sync makes the file durable through LSN last. After a fault it fails
// again without asking the kernel, whose next fsync could report success
// for pages it has lost (PostgreSQL's "fsyncgate").
func (o *outFile) sync(last uint64) error {
	if o.fault != nil {
		return o.fault
	}
	if err := o.w.Sync(); err != nil {
		o.fault = err
		return err
	}
	o.durable, o.durableLSN = o.size, last
	return nil
}

// kept sets where the file stands when a run starts from what an earlier
// one made durable: size bytes, through LSN last.
func (o *outFile) kept(size int64, last uint64) {
	o.size, o.durable, o.durableLSN = size, size, last
}

// takeBack, after a fault, makes sure the file does not look more complete
// than it durably is: a file this run created is removed; any other is cut
// back to its length at the last successful fsync (what the run found, or
// what a following run last synced), which Append resumes. The returned
// error says what it did, and wraps err.
func (o *outFile) takeBack(err error) *FileError {
	fe := &FileError{Path: o.path, Size: o.durable, Last: o.durableLSN, Err: err}
	if o.created {
		fe.State, fe.Cleanup = Removed, os.Remove(o.path)
		if fe.Cleanup == nil {
			fe.Cleanup = syncParent(o.path)
		}
		if fe.Cleanup != nil {
			fe.State = RemoveFailed
		}
		return fe
	}
	fe.State, fe.Cleanup = CutBack, o.f.Truncate(o.durable)
	if fe.Cleanup == nil {
		fe.Cleanup = o.f.Sync() // the new length: a metadata change of its own
	}
	if fe.Cleanup != nil {
		fe.State = CutBackFailed
	}
	return fe
}

// close removes the holder's description, then closes the file, which
// releases the lock (in that order, so the next holder's description
// stays).
func (o *outFile) close() error {
	if fi, err := os.Lstat(holderFile(o.path)); err == nil && o.holder != nil && os.SameFile(fi, o.holder) {
		_ = os.Remove(holderFile(o.path))
	}
	return o.f.Close()
}
