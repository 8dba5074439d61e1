//go:build unix && !aix

package backup

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// oNoFollow keeps the holder's description from being created through a
// symlink.
const oNoFollow = unix.O_NOFOLLOW

// lockFile takes an exclusive flock on f without waiting; errLockHeld means
// another backup holds it.
func lockFile(f *os.File) error {
	err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
	if errors.Is(err, unix.EWOULDBLOCK) {
		return errLockHeld
	}
	return err
}
