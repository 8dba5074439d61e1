//go:build (!unix && !windows) || aix

package backup

import (
	"errors"
	"os"
)

// oNoFollow is not known here: the holder's description relies on O_EXCL
// alone, which does not follow a symlink that names nothing.
const oNoFollow = 0

// lockFile refuses: this platform has no lock that this package knows to
// hold, and two backups could write one file.
func lockFile(*os.File) error { return errors.ErrUnsupported }
