package engine

import (
	"errors"
	"fmt"

	"github.com/hotpipe/hotpipe/txframe"
)

// Sentinel errors. Callers test them with errors.Is; the wrapped messages
// name the database, file, offset or LSN involved.
var (
	// ErrInvalidName means a database name breaks ^[a-z0-9][a-z0-9_-]{0,62}$.
	ErrInvalidName = errors.New("invalid database name")
	// ErrNotFound means the database does not exist.
	ErrNotFound = errors.New("database does not exist")
	// ErrExists means a database of that name already exists.
	ErrExists = errors.New("database already exists")
	// ErrLocked means another process holds the database's writer lock.
	ErrLocked = errors.New("database is locked by another writer")
	// ErrReplica means an ordinary commit was sent to a replica, which
	// accepts only frames applied by restore.
	ErrReplica = errors.New("database is a replica: it accepts only restored frames")
	// ErrNotReplica means Apply was called on a database not in replica mode.
	ErrNotReplica = errors.New("database is not a replica: switch replica mode on to apply frames")
	// ErrReadOnly means a write was attempted through a read-only handle.
	ErrReadOnly = errors.New("database is open read-only")
	// ErrClosed means the handle was closed, or an earlier write or fsync
	// failed and the handle refuses further writes.
	ErrClosed = errors.New("database is closed")
	// ErrCorrupt means durable data is damaged; it is wrapped in a
	// *CorruptionError naming the place.
	ErrCorrupt = errors.New("database is corrupt")
	// ErrGap means a frame to apply does not carry the next LSN.
	ErrGap = txframe.ErrGap
	// ErrHistory means a frame to apply does not continue this database's
	// hash chain: it comes from a different history.
	ErrHistory = txframe.ErrHistory
	// ErrLSNRange means an LSN outside 0..last was asked for.
	ErrLSNRange = errors.New("LSN out of range")
	// ErrKeyNotFound means Get found no live value for the key.
	ErrKeyNotFound = errors.New("key not found")
)

// CorruptionError locates damage in a database file. It unwraps to both
// ErrCorrupt and the underlying cause (for example txframe.ErrChecksum).
type CorruptionError struct {
	Path   string // file
	Offset int64  // byte offset of the damaged frame
	LSN    uint64 // LSN expected at Offset
	Err    error  // what is wrong
}

// Error names the file, offset and LSN, then the cause.
func (e *CorruptionError) Error() string {
	if e.Offset == 0 && e.LSN == 0 { // not about a frame: a file or directory
		return fmt.Sprintf("%s: %s: %v", ErrCorrupt, e.Path, e.Err)
	}
	return fmt.Sprintf("%s: %s at offset %d (LSN %d): %v", ErrCorrupt, e.Path, e.Offset, e.LSN, e.Err)
}

// Unwrap returns ErrCorrupt and the cause.
func (e *CorruptionError) Unwrap() []error { return []error{ErrCorrupt, e.Err} }

// LockedError names the process that holds a database's writer lock.
type LockedError struct {
	DB     string
	Holder Holder
}

// Error names the database and the lock's holder.
func (e *LockedError) Error() string {
	return fmt.Sprintf("%s: %v (%s)", e.DB, ErrLocked, e.Holder)
}

// Unwrap returns ErrLocked.
func (e *LockedError) Unwrap() error { return ErrLocked }
