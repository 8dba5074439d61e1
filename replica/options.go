package replica

import (
	"fmt"
	"math"
	"time"

	"github.com/hotpipe/hotpipe/txframe"
)

// Options choose how Restore treats the database and where it stops.
type Options struct {
	// Append restores into a database that has data (DESIGN.md §6): the
	// stream must continue its history. Into an absent or empty database
	// it changes nothing: that is a full restore either way.
	Append bool
	// Force is accepted and changes nothing. A stream that starts right
	// after the database's last LSN T is applied without it, once its
	// header's h(T) matches the database's. It is kept for immudb's
	// --force, which such streams needed there: immudb's carry no base hash.
	Force bool
	// ForceReplica switches a database that is not a replica to replica
	// mode for the restore, and off again after it, whether it succeeds or
	// fails.
	ForceReplica bool

	// TargetLSN stops the restore after this LSN; 0 means no target LSN.
	TargetLSN uint64
	// TargetTime stops the restore after the last frame committed at or
	// before it; the zero time means no target time. It must lie between
	// MinTargetTime and MaxTargetTime.
	TargetTime time.Time
	// Latest restores the whole stream, asked for explicitly: it is no
	// target at all, but it conflicts with TargetLSN and TargetTime, so a
	// caller that takes "latest" from a user has the combination checked
	// here, with the others.
	Latest bool

	// IfNotExists makes a restore idempotent, for boot scripts: a database
	// that exists with data is left untouched and Restore returns at once,
	// reading nothing, with Result.Skipped. A database an interrupted full
	// restore left (a replica still marked restoring) is resumed instead,
	// as with Append; an absent or empty one is restored.
	IfNotExists bool

	// Notify receives the engine's notices for the operator (a torn tail
	// truncated when the database is opened, say); nil discards them.
	Notify func(msg string)
	// Drain, when set, tells Restore when its input has no more bytes
	// ready: a standby then syncs what it has staged at once. The input
	// must be read through Drain.Reader.
	Drain *Drain
	// Progress is called after each block of frames is queued for the
	// database, in Restore's goroutine, with the totals so far. Frames
	// queued are durable once Restore returns without an error; after an
	// error, Result.State says what is.
	Progress func(Progress)

	// beforeCreate, when set, runs just before a full restore creates its
	// database: tests play there the restore that wins the race to create
	// it.
	beforeCreate func()
	// prepared, when set, runs once the first header has passed the
	// checks, before any frame is read: tests cancel there.
	prepared func()
}

// Commit times are int64 nanoseconds since the Unix epoch: a target time
// can be compared with them between MinTargetTime and MaxTargetTime.
// Outside that range UnixNano wraps around (1600 would become 2184, and
// every frame would be applied), so Validate refuses it.
var (
	MinTargetTime = time.Unix(0, math.MinInt64).UTC()
	MaxTargetTime = time.Unix(0, math.MaxInt64).UTC()
)

// Validate checks the combination of targets: at most one of TargetLSN,
// TargetTime and Latest, and a TargetTime commits can be compared with.
// Restore calls it first; callers that take options from a user call it
// before they open any input, and say what is wrong in their own terms.
func (o Options) Validate() error {
	n := 0
	for _, set := range []bool{o.TargetLSN > 0, !o.TargetTime.IsZero(), o.Latest} {
		if set {
			n++
		}
	}
	if n > 1 {
		return ErrTargetConflict
	}
	if !o.TargetTime.IsZero() && (o.TargetTime.Before(MinTargetTime) || o.TargetTime.After(MaxTargetTime)) {
		return fmt.Errorf("%w: %s is not within %s..%s", ErrTargetTime, o.TargetTime.Format(time.RFC3339Nano),
			MinTargetTime.Format(time.RFC3339Nano), MaxTargetTime.Format(time.RFC3339Nano))
	}
	return nil
}

// Progress is how far a restore has got: the frames it has handed to the
// database so far.
type Progress struct {
	First, Last uint64    // the first and last LSN handed over; First is 0 while none is
	Frames      uint64    // how many frames
	Bytes       int64     // their bytes
	LastTime    time.Time // commit time of Last: the recovery point once it is durable
}

// Result is what a restore did, returned even with an error: how far it
// got, and how it left the database.
type Result struct {
	// Progress is what was handed to the database. With a nil error all of
	// it is durable; after an error State says what is.
	Progress
	// Started: the stream's first header passed the checks of the restore
	// table, and its frames were read.
	Started bool
	// Full: a full restore (the database was absent or empty).
	Full bool
	// StreamLast is the last LSN read from the stream.
	StreamLast uint64
	// UpToDate: the database already held the whole stream, at or past
	// its end, with the same hash at the stream's last LSN; nothing was
	// applied.
	UpToDate bool
	// Skipped: IfNotExists found the database with data and left it
	// untouched; nothing was read.
	Skipped bool
	// Stop is where a point-in-time restore stopped; nil when it did not.
	Stop *StopPoint
	// SwitchedOff: replica mode was switched off at the end: by a restore
	// that completed a full restore (its own, or one it resumed), or by
	// one that switched it on (ForceReplica), whatever its outcome.
	SwitchedOff bool
	// State is the database as the restore left it; nil when the restore
	// never opened it (it was absent and not created, or locked).
	State *State
}

// State is a database's state when a restore left it.
type State struct {
	LSN     uint64       // the last durable LSN
	Hash    txframe.Hash // h(LSN)
	Replica bool
	// Restoring: a full restore into it has not completed, so it stays a
	// replica until a restore with Append completes it.
	Restoring bool
}

// StopPoint is where a point-in-time restore stopped, and what came next.
type StopPoint struct {
	Last     uint64    // the last LSN kept: the last applied, or the database's own
	LastTime time.Time // its commit time
	Next     uint64    // the stream's next frame; 0 when the stream has none after Last
	NextTime time.Time // its commit time
}
