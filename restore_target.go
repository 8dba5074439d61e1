package main

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/hotpipe/hotpipe/replica"
	"github.com/hotpipe/hotpipe/stream"
	"github.com/hotpipe/hotpipe/txframe"
)

// errTargetMissed means the stream ended before the point-in-time target.
var errTargetMissed = errors.New("the stream ends before the target")

// target is where a point-in-time restore stops: after LSN lsn, or after the
// last frame committed at or before time.
type target struct {
	lsn    uint64
	time   int64
	byTime bool
	latest bool   // --target-time latest: the whole stream, explicitly
	last   uint64 // the last frame kept, or the database's last; 0: none yet
	lastAt int64  // commit time of that frame
}

func parseTarget(c *cli.Context) (target, error) {
	var t target
	switch {
	case c.IsSet("target-lsn") && c.IsSet("target-time"):
		return t, usagef("hot-restore: give --target-lsn or --target-time, not both")
	case c.IsSet("target-lsn"):
		if t.lsn = c.Uint64("target-lsn"); t.lsn == 0 {
			return t, usagef("hot-restore: --target-lsn counts from 1")
		}
	case c.String("target-time") == "latest":
		t.latest = true
	case c.IsSet("target-time"):
		at, err := parseTargetTime(c.String("target-time"))
		if err != nil {
			return t, err
		}
		t.time, t.byTime = at, true
	}
	return t, nil
}

// Commit times are int64 nanoseconds since the Unix epoch: this is the range
// a target time can be compared with them in. Outside it, UnixNano wraps
// around (1600 would become 2184, and every frame would be applied).
var (
	minTargetTime = time.Unix(0, math.MinInt64).UTC()
	maxTargetTime = time.Unix(0, math.MaxInt64).UTC()
)

// parseTargetTime reads an RFC 3339 --target-time as unix nanoseconds; a
// time outside what they can hold is a usage error.
func parseTargetTime(s string) (int64, error) {
	at, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return 0, usagef("hot-restore: --target-time %q is not an RFC 3339 time (like 2026-11-20T14:30:00Z) or \"latest\"", s)
	}
	if at.Before(minTargetTime) || at.After(maxTargetTime) {
		return 0, usagef("hot-restore: --target-time %s is outside the times commits can carry, %s to %s",
			s, minTargetTime.Format(time.RFC3339Nano), maxTargetTime.Format(time.RFC3339Nano))
	}
	return at.UnixNano(), nil
}

func (t *target) active() bool { return t.lsn > 0 || t.byTime }

// notBehind refuses a target the database has already passed.
func (t *target) notBehind(j *restoreJob, db replica.Target) error {
	if !t.active() || db.Last == 0 {
		return nil
	}
	t.last = db.Last
	if t.lsn > 0 && t.lsn < db.Last {
		return fmt.Errorf("%s is at LSN %d, past the target LSN %d: a restore only moves forward", j.name, db.Last, t.lsn)
	}
	at, err := j.db.LastTime()
	if err != nil {
		return err
	}
	t.lastAt = at.UnixNano()
	if t.byTime && t.lastAt > t.time {
		return fmt.Errorf("%s's last commit (LSN %d, %s) is after the target time %s: a restore only moves forward",
			j.name, db.Last, commitTime(t.lastAt), commitTime(t.time))
	}
	return nil
}

// cut returns the frames of block, whose last frame is LSN last committed
// at lastAt, up to the target and, when the target falls inside it, where
// the restore stops. A target before the stream's first frame, with nothing
// in the database, is an error. LSNs and commit times only grow, so only
// the block that crosses the target is walked frame by frame.
func (t *target) cut(block []byte, last uint64, lastAt int64) ([]byte, *stopPoint, error) {
	if !t.active() {
		return block, nil, nil
	}
	if !t.beyond(last, lastAt) {
		t.last, t.lastAt = last, lastAt
		return block, nil, nil
	}
	for p := 0; p < len(block); {
		n, _ := txframe.FrameLen(block[p:])
		lsn, at := txframe.Fields(block[p : p+n])
		if t.beyond(lsn, at) {
			if t.last == 0 {
				return nil, nil, fmt.Errorf("the target %s is before the stream's first frame (LSN %d, committed %s)", t, lsn, commitTime(at))
			}
			return block[:p], &stopPoint{last: t.last, lastAt: t.lastAt, next: lsn, nextAt: at}, nil
		}
		t.last, t.lastAt = lsn, at
		p += n
	}
	return block, nil, nil
}

// beyond reports whether the frame of lsn, committed at, is past the target.
func (t *target) beyond(lsn uint64, at int64) bool {
	return t.lsn > 0 && lsn > t.lsn || t.byTime && at > t.time
}

// reached checks, at the end of the stream, that a target was reached.
func (t *target) reached(j *restoreJob, last uint64) error {
	switch {
	case !t.active() || j.stopped != nil:
		return nil
	case t.lsn > 0 && last == t.lsn:
		j.stopped = &stopPoint{last: t.last, lastAt: t.lastAt}
		return nil
	case t.lsn > 0:
		return fmt.Errorf("%w: the stream ends at LSN %d, before the target LSN %d", errTargetMissed, last, t.lsn)
	}
	return fmt.Errorf("%w: the stream ends at LSN %d (committed %s), before the target time %s; commits up to it may be missing (--target-time latest restores the whole stream)",
		errTargetMissed, last, commitTime(t.lastAt), commitTime(t.time))
}

func (t *target) String() string {
	if t.lsn > 0 {
		return fmt.Sprintf("LSN %d", t.lsn)
	}
	return "time " + commitTime(t.time)
}

// stopPoint is where a point-in-time restore stopped, and what came next
// (next is 0 while that is not known).
type stopPoint struct {
	last   uint64
	lastAt int64
	next   uint64
	nextAt int64
}

// findNext reads on to the stream's next frame when the target fell at the
// end of a block. What follows is not needed, so it is not verified further.
func (s *stopPoint) findNext(r *stream.Reader) {
	for s.next == 0 {
		ev, err := r.Next()
		if err != nil {
			return
		}
		if ev.Kind == stream.KindFrames {
			s.next, s.nextAt = txframe.Fields(ev.Frames)
		}
	}
}

func (s *stopPoint) describe(name string) string {
	msg := fmt.Sprintf("hot-restore %s: stopped at the target after LSN %d (committed %s)", name, s.last, commitTime(s.lastAt))
	if s.next == 0 {
		return msg + "; the stream has no frame after it"
	}
	return msg + fmt.Sprintf("; the stream's next frame is LSN %d (committed %s)", s.next, commitTime(s.nextAt))
}
