//go:build linux && !arm

package engine

import (
	"os"
	"syscall"
)

// startWriteback starts writing a range of f back to the device and returns
// without waiting (sync_file_range with SYNC_FILE_RANGE_WRITE): a later
// fdatasync then waits only for what is still in flight.
func startWriteback(f *os.File, off, n int64) error {
	if n <= 0 {
		return nil
	}
	const syncFileRangeWrite = 2
	for {
		err := syscall.SyncFileRange(int(f.Fd()), off, n, syncFileRangeWrite)
		if err != syscall.EINTR {
			if err != nil {
				return &os.PathError{Op: "sync_file_range", Path: f.Name(), Err: err}
			}
			return nil
		}
	}
}
