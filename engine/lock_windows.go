//go:build windows

package engine

import (
	"errors"
	"os"
	"path/filepath"

	"golang.org/x/sys/windows"
)

// lockOffset is where the lock's one byte lies in LOCK: far past the holder
// description, since a Windows lock is mandatory and a locked byte cannot
// be read through another handle, and past any length the file has.
const lockOffset = 1 << 62

// lockWriter takes the exclusive writer lock of the database directory d
// without waiting. Windows cannot lock a directory, so the lock is on a
// byte of the LOCK file in it (LockFileEx), held by the returned handle.
// LOCK and the directory stay open while the lock is held, and Go opens
// files without FILE_SHARE_DELETE, so Windows refuses to remove, replace or
// rename either under the holder. It returns errLockHeld when another
// handle holds the lock, or a status probe's shared lock is in the way for
// an instant.
func lockWriter(d *os.File) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(d.Name(), lockFile), os.O_RDWR|os.O_CREATE, fileMode)
	if err != nil {
		return nil, err
	}
	if err := lockByte(f, windows.LOCKFILE_EXCLUSIVE_LOCK); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// probeLock reports whether a writer holds the lock of the database
// directory d, by taking a shared lock on LOCK's lock byte for an instant.
// No LOCK file means no writer has ever held it.
func probeLock(d *os.File) (bool, error) {
	f, err := os.Open(filepath.Join(d.Name(), lockFile))
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer f.Close()
	err = lockByte(f, 0)
	if errors.Is(err, errLockHeld) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	ol := windows.Overlapped{Offset: lockOffset & 0xffffffff, OffsetHigh: lockOffset >> 32}
	return false, windows.UnlockFileEx(windows.Handle(f.Fd()), 0, 1, 0, &ol)
}

// lockByte locks f's lock byte without waiting (shared unless flags say
// exclusive); errLockHeld means another handle holds a lock that conflicts.
func lockByte(f *os.File, flags uint32) error {
	ol := windows.Overlapped{Offset: lockOffset & 0xffffffff, OffsetHigh: lockOffset >> 32}
	err := windows.LockFileEx(windows.Handle(f.Fd()), flags|windows.LOCKFILE_FAIL_IMMEDIATELY, 0, 1, 0, &ol)
	if errors.Is(err, windows.ERROR_LOCK_VIOLATION) {
		return errLockHeld
	}
	return err
}
