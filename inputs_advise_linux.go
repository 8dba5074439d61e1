package main

import (
	"os"

	"golang.org/x/sys/unix"
)

// adviseSequential advises the kernel that f is read sequentially, once:
// Linux doubles the file's read-ahead window. It goes through
// SyscallConn, not Fd, which would switch a pollable file (a FIFO given
// as -i) to blocking mode, so that closing it no longer ends a read.
func adviseSequential(f *os.File) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var advErr error
	if err := rc.Control(func(fd uintptr) { advErr = unix.Fadvise(int(fd), 0, 0, unix.FADV_SEQUENTIAL) }); err != nil {
		return err
	}
	return advErr
}
