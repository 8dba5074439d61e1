package backup

import (
	"errors"
	"fmt"

	"github.com/hotpipe/hotpipe/engine"
)

// Errors. Each is wrapped with what the backup was doing; test them with
// errors.Is. History mismatches of Append wrap txframe.ErrHistory, and an
// LSN range the database does not hold wraps engine.ErrLSNRange (see
// RangeError).
var (
	// ErrFileLocked means another backup is writing the backup file: it is
	// wrapped in a *FileLockedError naming the holder.
	ErrFileLocked = errors.New("backup file is locked by another backup")
	// ErrConsumerGone means the reader of the backup went away: a write
	// failed with a broken pipe, or a Heartbeat found the pipe closed.
	ErrConsumerGone = errors.New("the reader of the backup went away")
	// ErrOptions means Options that contradict each other or the call
	// (Follow with an End, Append with a Start, a negative MaxRate).
	ErrOptions = errors.New("invalid backup options")
)

// errReplaced means the name of a backup file led, once locked, to another
// file: the holder before us removed the one we opened.
var errReplaced = errors.New("backup file was replaced while it was being opened")

// FileLockedError names a backup file another backup holds, and what is
// known of its holder. It wraps ErrFileLocked.
type FileLockedError struct {
	Path   string
	Holder engine.Holder
}

// Error names the file and its holder, and says the file was not touched.
func (e *FileLockedError) Error() string {
	return fmt.Sprintf("%s: %v (%s); the file is untouched", e.Path, ErrFileLocked, e.Holder)
}

// Unwrap returns ErrFileLocked.
func (e *FileLockedError) Unwrap() error { return ErrFileLocked }

// RangeError means Options.Start or Options.End lies outside what the
// database holds. It wraps engine.ErrLSNRange.
type RangeError struct {
	DB         string
	Start, End uint64 // as asked; an End of 0 is the last durable LSN
	Last       uint64 // the database's last durable LSN when the backup started
}

// Error names the bound that is out of range.
func (e *RangeError) Error() string {
	if e.End > e.Last {
		return fmt.Sprintf("%s: end LSN %d is past the last durable LSN %d", e.DB, e.End, e.Last)
	}
	return fmt.Sprintf("%s: start LSN %d is past the end of the backup (LSN %d)", e.DB, e.Start, e.End)
}

// Unwrap returns engine.ErrLSNRange.
func (e *RangeError) Unwrap() error { return engine.ErrLSNRange }

// FileState is what a failed File or Append left at its path.
type FileState int

// The states a failed backup leaves its file in.
const (
	// Incomplete: the file holds whole frames through Last, fsynced, and
	// no end record after them, so it reads as truncated; Append resumes it.
	Incomplete FileState = iota + 1
	// Removed: a write or fsync failed in a file this run created, so what
	// it wrote may be lost; the file is removed.
	Removed
	// RemoveFailed: as Removed, but removing the file failed (Cleanup): it
	// may look more complete than it durably is, and should be removed.
	RemoveFailed
	// CutBack: a write or fsync failed in a file this run did not create;
	// the file is cut back to Size bytes, through LSN Last, what was
	// durable before the failure. Append resumes it.
	CutBack
	// CutBackFailed: as CutBack, but cutting the file back failed
	// (Cleanup): it is durable only up to byte Size (LSN Last), and should
	// be cut there or removed.
	CutBackFailed
)

// FileError is the error of a File or Append that failed after it took
// the file: the cause, and the state it left the file in.
type FileError struct {
	Path    string
	State   FileState
	Size    int64  // CutBack, CutBackFailed: the durable length
	Last    uint64 // the last LSN durably in the file (Incomplete, CutBack, CutBackFailed)
	Cleanup error  // RemoveFailed, CutBackFailed: why the file could not be taken back
	// Encrypted: the file is an age file (Options.Recipients); when
	// Incomplete, without its last chunk, which Append cannot add.
	Encrypted bool
	Err       error // the cause
}

// Error names the cause, then, on a line of its own, the file's state.
func (e *FileError) Error() string {
	var s string
	switch e.State {
	case Incomplete:
		if e.Encrypted {
			s = fmt.Sprintf("%s is incomplete: encrypted without its last chunk, it reads as truncated; an encrypted file cannot be appended to: remove it and back up again", e.Path)
			break
		}
		s = fmt.Sprintf("%s is incomplete (no end record after LSN %d)", e.Path, e.Last)
	case Removed:
		s = fmt.Sprintf("%s is removed: this backup created it, and what it wrote is not durable", e.Path)
	case RemoveFailed:
		s = fmt.Sprintf("%s is not durable and could not be removed (%v): remove it", e.Path, e.Cleanup)
	case CutBack:
		s = fmt.Sprintf("%s is cut back to what was durable, %d bytes through LSN %d", e.Path, e.Size, e.Last)
	default:
		s = fmt.Sprintf("%s is durable only up to byte %d (LSN %d) and could not be cut back to it (%v): cut it there or remove it",
			e.Path, e.Size, e.Last, e.Cleanup)
	}
	return fmt.Sprintf("%v\n%s", e.Err, s)
}

// Unwrap returns the cause.
func (e *FileError) Unwrap() error { return e.Err }
