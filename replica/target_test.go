package replica

import (
	"errors"
	"testing"
	"time"
)

// TestValidateRefusesTargetsItCannotCompare: at most one target, and a
// target time commits (int64 unix nanoseconds) can carry; outside that
// range UnixNano would wrap around (1600 became 2184 and every frame was
// applied).
func TestValidateRefusesTargetsItCannotCompare(t *testing.T) {
	parse := func(s string) time.Time {
		at, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return at
	}
	tests := []struct {
		name string
		opts Options
		err  error
	}{
		{name: "no target", opts: Options{}},
		{name: "a target LSN", opts: Options{TargetLSN: 5}},
		{name: "a target time", opts: Options{TargetTime: parse("2026-11-20T14:30:00Z")}},
		{name: "latest", opts: Options{Latest: true}},
		{name: "an LSN and a time", opts: Options{TargetLSN: 5, TargetTime: parse("2026-11-20T14:30:00Z")}, err: ErrTargetConflict},
		{name: "an LSN and latest", opts: Options{TargetLSN: 5, Latest: true}, err: ErrTargetConflict},
		{name: "a time and latest", opts: Options{TargetTime: parse("2026-11-20T14:30:00Z"), Latest: true}, err: ErrTargetConflict},
		{name: "the first representable nanosecond", opts: Options{TargetTime: parse("1677-09-21T00:12:43.145224192Z")}},
		{name: "the last representable nanosecond", opts: Options{TargetTime: parse("2262-04-11T23:47:16.854775807Z")}},
		{name: "one nanosecond before the range", opts: Options{TargetTime: parse("1677-09-21T00:12:43.145224191Z")}, err: ErrTargetTime},
		{name: "one nanosecond after the range", opts: Options{TargetTime: parse("2262-04-11T23:47:16.854775808Z")}, err: ErrTargetTime},
		{name: "1600 (wrapped to 2184 once)", opts: Options{TargetTime: parse("1600-01-01T00:00:00Z")}, err: ErrTargetTime},
		{name: "year 9999", opts: Options{TargetTime: parse("9999-12-31T23:59:59Z")}, err: ErrTargetTime},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.opts.Validate(); tt.err == nil && err != nil || !errors.Is(err, tt.err) {
				t.Fatalf("Validate() = %v; want %v", err, tt.err)
			}
			if tt.err == nil {
				return
			}
			// Restore refuses them too, before it reads or touches anything.
			dir := t.TempDir()
			if _, err := Restore(t.Context(), dir, "bar", readerOf(), tt.opts); !errors.Is(err, tt.err) {
				t.Fatalf("Restore = %v; want %v", err, tt.err)
			}
			if st := stateOf(t, dir, "bar"); st != nil {
				t.Fatalf("bar was created: %+v", st)
			}
		})
	}
}

// TestPointInTimeRestore stops after the last frame at or before the
// target, says where and which frame came next, and refuses the targets it
// cannot reach. LSN k is committed at commitAt(k), a minute apart.
func TestPointInTimeRestore(t *testing.T) {
	s := newSources(t, 60)
	full := segment(t, s.foo, 1, 60)
	at := func(lsn uint64, extra time.Duration) time.Time { return commitAt(lsn).Add(extra) }
	stop := func(last, next uint64) *StopPoint {
		sp := &StopPoint{Last: last, LastTime: commitAt(last), Next: next}
		if next > 0 {
			sp.NextTime = commitAt(next)
		}
		return sp
	}
	restoredTo := func(lsn uint64) func(*testing.T, string) {
		return func(t *testing.T, dir string) { mustRestore(t, dir, "bar", Options{TargetLSN: lsn}, full) }
	}
	tests := []struct {
		name        string
		setup       func(*testing.T, string)
		segments    [][]byte
		opts        Options
		err         error
		first, last uint64 // applied
		stop        *StopPoint
		after       after
	}{
		{name: "LSN inside the stream", opts: Options{TargetLSN: 25}, first: 1, last: 25, stop: stop(25, 26),
			after: after{src: s.foo, lsn: 25}},
		{name: "LSN at the end of the stream", opts: Options{TargetLSN: 60}, first: 1, last: 60, stop: stop(60, 0),
			after: after{src: s.foo, lsn: 60}},
		{name: "LSN at the end of a segment", segments: [][]byte{segment(t, s.foo, 1, 25), segment(t, s.foo, 26, 60)},
			opts: Options{TargetLSN: 25}, first: 1, last: 25, stop: stop(25, 26), after: after{src: s.foo, lsn: 25}},
		{name: "LSN after the end: missed, what was restored stays a replica", opts: Options{TargetLSN: 100}, err: ErrTargetMissed,
			first: 1, last: 60, after: after{src: s.foo, lsn: 60, replica: true, restoring: true}},
		{name: "LSN the database has passed", setup: restoredTo(40), opts: Options{Append: true, ForceReplica: true, TargetLSN: 30},
			err: ErrTargetPassed, after: after{src: s.foo, lsn: 40}},
		{name: "LSN after the database's: moved forward", setup: restoredTo(25), opts: Options{Append: true, ForceReplica: true, TargetLSN: 40},
			first: 26, last: 40, stop: stop(40, 41), after: after{src: s.foo, lsn: 40}},
		{name: "LSN the database is at: nothing to apply", setup: restoredTo(40), opts: Options{Append: true, ForceReplica: true, TargetLSN: 40},
			stop: stop(40, 41), after: after{src: s.foo, lsn: 40}},
		{name: "time of a commit", opts: Options{TargetTime: at(31, 0)}, first: 1, last: 31, stop: stop(31, 32),
			after: after{src: s.foo, lsn: 31}},
		{name: "time between commits", opts: Options{TargetTime: at(31, 59900*time.Millisecond)}, first: 1, last: 31,
			stop: stop(31, 32), after: after{src: s.foo, lsn: 31}},
		{name: "time before the stream's first frame: nothing created", opts: Options{TargetTime: at(1, -time.Hour)},
			err: ErrTargetBefore, after: after{absent: true}},
		{name: "time of the last frame: later commits may be missing", opts: Options{TargetTime: at(60, 0)}, err: ErrTargetMissed,
			first: 1, last: 60, after: after{src: s.foo, lsn: 60, replica: true, restoring: true}},
		{name: "time after the end", opts: Options{TargetTime: at(60, 24*time.Hour)}, err: ErrTargetMissed,
			first: 1, last: 60, after: after{src: s.foo, lsn: 60, replica: true, restoring: true}},
		{name: "time the database has passed", setup: restoredTo(40), opts: Options{Append: true, ForceReplica: true, TargetTime: at(10, 0)},
			err: ErrTargetPassed, after: after{src: s.foo, lsn: 40}},
		{name: "latest: the whole stream", opts: Options{Latest: true}, first: 1, last: 60, after: after{src: s.foo, lsn: 60}},
		{name: "latest appended", setup: restoredTo(25), opts: Options{Append: true, ForceReplica: true, Latest: true}, first: 26, last: 60,
			after: after{src: s.foo, lsn: 60}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if tt.setup != nil {
				tt.setup(t, dir)
			}
			segments := tt.segments
			if segments == nil {
				segments = [][]byte{full}
			}
			res, err := restore(dir, "bar", tt.opts, segments...)
			if tt.err == nil && err != nil || !errors.Is(err, tt.err) {
				t.Fatalf("err = %v; want %v", err, tt.err)
			}
			if res.First != tt.first || res.Last != tt.last {
				t.Fatalf("applied LSN %d..%d; want %d..%d", res.First, res.Last, tt.first, tt.last)
			}
			if !sameStop(res.Stop, tt.stop) {
				t.Fatalf("Stop = %+v; want %+v", res.Stop, tt.stop)
			}
			if res.Last > 0 && !res.LastTime.Equal(commitAt(res.Last)) {
				t.Fatalf("LastTime = %v; want LSN %d's commit time %v", res.LastTime, res.Last, commitAt(res.Last))
			}
			requireAfter(t, dir, "bar", res, tt.after)
		})
	}
}

func sameStop(a, b *StopPoint) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Last == b.Last && a.LastTime.Equal(b.LastTime) && a.Next == b.Next && a.NextTime.Equal(b.NextTime)
}
