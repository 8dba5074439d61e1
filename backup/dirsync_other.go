//go:build !windows

package backup

import (
	"errors"
	"os"
	"path/filepath"
)

// syncParent fsyncs the directory holding path, so that a file just
// created or removed there is durably so by name.
func syncParent(path string) error {
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	err = d.Sync()
	return errors.Join(err, d.Close())
}
