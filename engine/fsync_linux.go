//go:build linux

package engine

import (
	"os"
	"syscall"
)

// syncData makes f's data durable. fdatasync skips metadata that reading the
// data back does not need; the file size it does need is included.
func syncData(f *os.File) error {
	for {
		err := syscall.Fdatasync(int(f.Fd()))
		if err != syscall.EINTR {
			if err != nil {
				return &os.PathError{Op: "fdatasync", Path: f.Name(), Err: err}
			}
			return nil
		}
	}
}
