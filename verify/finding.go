package verify

import (
	"errors"
	"fmt"

	"github.com/hotpipe/hotpipe/engine"
	"github.com/hotpipe/hotpipe/stream"
)

// Finding is one problem found: where it is and what is wrong. It is an
// error, so errors.Is and errors.As see through a Finding, or an error
// wrapping one (Report.Err, DBReport.Err), to its cause's sentinels:
// stream.ErrTruncated, stream.ErrChecksum, txframe.ErrChecksum,
// txframe.ErrChain, txframe.ErrGap, txframe.ErrHistory, and, for a
// database's findings, engine.ErrCorrupt.
type Finding struct {
	// Source is the stream input's name (a file path or "stdin"), or the
	// path of the database file the damage is in.
	Source string
	// Offset is the byte offset of the damaged record or frame, in the
	// decompressed input or in the database file.
	Offset int64
	// LSN is the LSN expected or concerned at Offset; 0 when none applies.
	LSN uint64
	// Err is what is wrong, without the place: it wraps the sentinel.
	Err error
}

// Error names the source, offset and (when known) LSN, then the cause, as
// stream.Error does.
func (f Finding) Error() string {
	if f.LSN == 0 {
		return fmt.Sprintf("%s: offset %d: %v", f.Source, f.Offset, f.Err)
	}
	return fmt.Sprintf("%s: offset %d (LSN %d): %v", f.Source, f.Offset, f.LSN, f.Err)
}

// Unwrap returns the cause.
func (f Finding) Unwrap() error { return f.Err }

// streamFinding turns an error of a stream.Reader into a Finding. Every
// problem a Reader reports is a *stream.Error; anything else is kept whole,
// with no place.
func streamFinding(err error) Finding {
	var se *stream.Error
	if errors.As(err, &se) {
		return Finding{Source: se.Source, Offset: se.Offset, LSN: se.LSN, Err: se.Err}
	}
	return Finding{Err: err}
}

// dbFinding turns the engine's report of damage into a Finding whose Err is
// the cause, and is engine.ErrCorrupt to errors.Is too.
func dbFinding(p *engine.CorruptionError) Finding {
	return Finding{Source: p.Path, Offset: p.Offset, LSN: p.LSN, Err: corruption{p.Err}}
}

// corruption is the cause of a database finding: it reads as the cause and
// unwraps to engine.ErrCorrupt and the cause, so that damage the engine
// names without a sentinel (a watermark that disagrees with the log) is
// still corruption to errors.Is.
type corruption struct{ err error }

func (c corruption) Error() string   { return c.err.Error() }
func (c corruption) Unwrap() []error { return []error{engine.ErrCorrupt, c.err} }

// problems is the error of a report with findings: a message of its own,
// unwrapping to the sentinels it names and to the first finding.
type problems struct {
	msg   string
	is    error // a sentinel the message names, or nil
	first Finding
}

func (p *problems) Error() string { return p.msg }

func (p *problems) Unwrap() []error {
	if p.is == nil {
		return []error{p.first}
	}
	return []error{p.is, p.first}
}
