// Package exitcode maps errors to hotpipe's exit codes (DESIGN §6): one
// place for the CLI, which exits with them, and the admin server, which
// reports them to remote clients so that a remote command ends as the
// local one would.
package exitcode

import (
	"context"
	"errors"

	"github.com/hotpipe/hotpipe/backup"
	"github.com/hotpipe/hotpipe/engine"
	"github.com/hotpipe/hotpipe/repo"
	"github.com/hotpipe/hotpipe/stream"
	"github.com/hotpipe/hotpipe/txframe"
)

// The exit codes.
const (
	OK          = 0
	Failure     = 1
	Usage       = 2
	Integrity   = 3 // checksum, hash chain, truncated or corrupt data
	History     = 4 // LSN gap, different history, origin mismatch
	Locked      = 5 // a database or backup file locked by another writer
	Interrupted = 130
	BrokenPipe  = 141 // as if killed by SIGPIPE, which is what the shell would show
)

// ErrUsage marks errors in how a command was called.
var ErrUsage = errors.New("usage")

// ErrBrokenPipe means the reader of the output went away.
var ErrBrokenPipe = errors.New("broken pipe")

// Of maps an error to its exit code.
func Of(err error) int {
	var re *RemoteError
	switch {
	case err == nil:
		return OK
	case errors.As(err, &re):
		return re.Code
	case errors.Is(err, context.Canceled):
		return Interrupted
	case errors.Is(err, ErrBrokenPipe):
		return BrokenPipe
	case errors.Is(err, ErrUsage), errors.Is(err, engine.ErrInvalidName), errors.Is(err, repo.ErrDecryptedCopy):
		return Usage
	case errors.Is(err, engine.ErrLocked), errors.Is(err, backup.ErrFileLocked):
		return Locked
	case errors.Is(err, engine.ErrCorrupt): // damage, whatever it looks like (a gap in a segment, say)
		return Integrity
	case errors.Is(err, txframe.ErrGap), errors.Is(err, txframe.ErrHistory):
		return History
	case IsIntegrity(err):
		return Integrity
	}
	return Failure
}

// IsIntegrity reports whether err is damage to data: a checksum, a hash
// chain, a truncated or malformed stream, an object unlike its name.
func IsIntegrity(err error) bool {
	for _, target := range []error{engine.ErrCorrupt, txframe.ErrChecksum, txframe.ErrChain,
		txframe.ErrIncomplete, txframe.ErrMagic, txframe.ErrMalformed, txframe.ErrTooLarge,
		stream.ErrTruncated, stream.ErrEmpty, stream.ErrFormat, stream.ErrChecksum, stream.ErrEndMismatch, repo.ErrNameMismatch,
		stream.ErrDecrypt, stream.ErrNoIdentity, stream.ErrNoEndTag} {
		if errors.Is(err, target) {
			return true
		}
	}
	return false
}

var kinds = map[int]string{OK: "ok", Failure: "failure", Usage: "usage", Integrity: "integrity",
	History: "history", Locked: "locked", Interrupted: "interrupted", BrokenPipe: "broken_pipe"}

// Kind names an exit code in JSON reports: "integrity" for 3, and so on;
// "" for a code that is not one of hotpipe's.
func Kind(code int) string { return kinds[code] }

// RemoteError is an error a server reported for a remote command: its
// message, and the exit code it maps to there, which Of returns for it.
// Err, when the server described the error well enough to make it again
// (a *backup.RangeError, say), is that error, so that the client words it
// as it words its own.
type RemoteError struct {
	Message string
	Code    int
	Err     error
}

func (e *RemoteError) Error() string { return e.Message }
func (e *RemoteError) Unwrap() error { return e.Err }
