//go:build windows

package backup

import (
	"errors"
	"os"

	"golang.org/x/sys/windows"
)

// oNoFollow keeps the holder's description from being created through a
// symlink: Windows has no O_NOFOLLOW, but a create that opens a reparse
// point itself instead of its target does the same (and os.OpenFile adds
// it to every O_CREATE|O_EXCL open anyway).
const oNoFollow = windows.O_FILE_FLAG_OPEN_REPARSE_POINT

// lockOffset is where the lock's one byte lies: far past any length a
// backup file reaches, since a Windows lock is mandatory and the bytes it
// covers cannot be read through another handle (a restore or verify of
// the file while a follower writes it).
const lockOffset = 1 << 62

// lockFile takes an exclusive lock on f without waiting (LockFileEx on one
// byte); errLockHeld means another backup holds it.
func lockFile(f *os.File) error {
	ol := windows.Overlapped{Offset: lockOffset & 0xffffffff, OffsetHigh: lockOffset >> 32}
	err := windows.LockFileEx(windows.Handle(f.Fd()), windows.LOCKFILE_EXCLUSIVE_LOCK|windows.LOCKFILE_FAIL_IMMEDIATELY, 0, 1, 0, &ol)
	if errors.Is(err, windows.ERROR_LOCK_VIOLATION) {
		return errLockHeld
	}
	return err
}
