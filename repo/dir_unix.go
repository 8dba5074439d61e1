//go:build !windows

package repo

import (
	"errors"
	"os"
	"syscall"
)

// syncDir fsyncs a directory, making the names just linked or made in it
// durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	return errors.Join(err, d.Close())
}

// isNotDir reports whether err is ENOTDIR: a path through a file.
func isNotDir(err error) bool { return errors.Is(err, syscall.ENOTDIR) }
