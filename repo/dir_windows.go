//go:build windows

package repo

import (
	"errors"
	"syscall"
)

// syncDir does nothing on Windows, which has no call that makes a
// directory's entries durable (FlushFileBuffers refuses a directory): an
// object's name is as durable as NTFS's journal has made it.
func syncDir(string) error { return nil }

// isNotDir reports whether err means a path through a file, which Windows
// reports as ERROR_PATH_NOT_FOUND (already fs.ErrNotExist) or
// ERROR_DIRECTORY.
func isNotDir(err error) bool {
	const errorDirectory syscall.Errno = 267 // ERROR_DIRECTORY
	return errors.Is(err, errorDirectory)
}
