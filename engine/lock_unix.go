//go:build unix && !aix

package engine

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// lockWriter takes the exclusive writer lock of the database directory d
// without waiting: an flock on the directory itself, so d holds it. It
// returns errLockHeld when another process holds it, or a status probe's
// shared lock is in the way for an instant.
func lockWriter(d *os.File) (*os.File, error) {
	err := unix.Flock(int(d.Fd()), unix.LOCK_EX|unix.LOCK_NB)
	if errors.Is(err, unix.EWOULDBLOCK) {
		return nil, errLockHeld
	}
	if err != nil {
		return nil, err
	}
	return d, nil
}

// probeLock reports whether a writer holds the lock of the database
// directory d, by taking a shared flock on it for an instant.
func probeLock(d *os.File) (bool, error) {
	err := unix.Flock(int(d.Fd()), unix.LOCK_SH|unix.LOCK_NB)
	if errors.Is(err, unix.EWOULDBLOCK) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	return false, unix.Flock(int(d.Fd()), unix.LOCK_UN)
}
