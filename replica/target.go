package replica

import (
	"fmt"
	"time"

	"github.com/hotpipe/hotpipe/engine"
	"github.com/hotpipe/hotpipe/txframe"
)

// target is where a point-in-time restore stops: after LSN lsn, or after
// the last frame committed at or before time (unix nanoseconds, as frames
// carry it).
type target struct {
	lsn    uint64
	time   int64
	byTime bool
	last   uint64 // the last frame kept, or the database's last; 0: none yet
	lastAt int64  // commit time of that frame
}

// newTarget is the target of valid options.
func newTarget(o Options) target {
	t := target{lsn: o.TargetLSN}
	if !o.TargetTime.IsZero() {
		t.time, t.byTime = o.TargetTime.UnixNano(), true
	}
	return t
}

func (t *target) active() bool { return t.lsn > 0 || t.byTime }

// notBehind refuses a target the database db (described by d) has already
// passed, and otherwise starts counting from its last frame.
func (t *target) notBehind(db *engine.DB, d Target) error {
	if !t.active() || d.Last == 0 {
		return nil
	}
	t.last = d.Last
	if t.lsn > 0 && t.lsn < d.Last {
		return fmt.Errorf("%s is at LSN %d, past the target LSN %d: %w", d.Name, d.Last, t.lsn, ErrTargetPassed)
	}
	at, err := db.LastTime()
	if err != nil {
		return err
	}
	t.lastAt = at.UnixNano()
	if t.byTime && t.lastAt > t.time {
		return fmt.Errorf("%s's last commit (LSN %d, %s) is after the target time %s: %w",
			d.Name, d.Last, commitTime(t.lastAt), commitTime(t.time), ErrTargetPassed)
	}
	return nil
}

// cut returns the frames of block, whose last frame is LSN last committed
// at lastAt, up to the target and, when the target falls inside it, where
// the restore stops. A target before the stream's first frame, with
// nothing in the database, is an error. LSNs and commit times only grow,
// so only the block that crosses the target is walked frame by frame.
func (t *target) cut(block []byte, last uint64, lastAt int64) ([]byte, *StopPoint, error) {
	if !t.active() {
		return block, nil, nil
	}
	if !t.beyond(last, lastAt) {
		t.last, t.lastAt = last, lastAt
		return block, nil, nil
	}
	p := 0
	for f := range txframe.Frames(block) {
		lsn, at := txframe.Fields(f)
		if t.beyond(lsn, at) {
			if t.last == 0 {
				return nil, nil, also(fmt.Errorf("the target %s is before the stream's first frame (LSN %d, committed %s)",
					t, lsn, commitTime(at)), ErrTargetBefore)
			}
			return block[:p], &StopPoint{Last: t.last, LastTime: unixTime(t.lastAt), Next: lsn, NextTime: unixTime(at)}, nil
		}
		t.last, t.lastAt = lsn, at
		p += len(f)
	}
	return block, nil, nil
}

// beyond reports whether the frame of lsn, committed at, is past the target.
func (t *target) beyond(lsn uint64, at int64) bool {
	return t.lsn > 0 && lsn > t.lsn || t.byTime && at > t.time
}

// reached checks, at the end of a stream whose last LSN is last, that the
// target was reached, and returns where the restore stopped when the
// stream ended right at a target LSN.
func (t *target) reached(last uint64) (*StopPoint, error) {
	switch {
	case !t.active():
		return nil, nil
	case t.lsn > 0 && last == t.lsn:
		return &StopPoint{Last: t.last, LastTime: unixTime(t.lastAt)}, nil
	case t.lsn > 0:
		return nil, fmt.Errorf("%w: the stream ends at LSN %d, before the target LSN %d", ErrTargetMissed, last, t.lsn)
	}
	return nil, fmt.Errorf("%w: the stream ends at LSN %d (committed %s), before the target time %s; commits up to it may be missing",
		ErrTargetMissed, last, commitTime(t.lastAt), commitTime(t.time))
}

func (t *target) String() string {
	if t.lsn > 0 {
		return fmt.Sprintf("LSN %d", t.lsn)
	}
	return "time " + commitTime(t.time)
}

// commitTime formats a frame's commit time, in unix nanoseconds, as the
// messages of hotpipe name times.
func commitTime(ns int64) string { return unixTime(ns).Format(time.RFC3339Nano) }

// unixTime is a frame's commit time as a time.Time, in UTC.
func unixTime(ns int64) time.Time { return time.Unix(0, ns).UTC() }
