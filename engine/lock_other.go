//go:build (!unix && !windows) || aix

package engine

import (
	"errors"
	"os"
)

// lockWriter refuses: this platform has no lock that this package knows
// to hold, and a writer without one could share a database with another.
// Read-only handles still open.
func lockWriter(*os.File) (*os.File, error) { return nil, errors.ErrUnsupported }

// probeLock reports no writer: none can take the lock here.
func probeLock(*os.File) (bool, error) { return false, nil }
