package replica

import (
	"errors"
	"os"
	"testing"

	"github.com/hotpipe/hotpipe/engine"
)

// TestFullRestoreLosingTheRaceToCreate plays two full restores into an
// absent database, deterministically: the loser found it absent, and the
// winner (played in the beforeCreate seam) creates it just before the
// loser does. The loser must meet what it would meet arriving later: the
// winner's lock (naming it), or the database as the winner left it. It
// used to fail with engine.ErrExists in every case.
func TestFullRestoreLosingTheRaceToCreate(t *testing.T) {
	s := newSources(t, 30)
	full := segment(t, s.foo, 1, 30)
	// The winners: each leaves dir/bar as a restore that got there first.
	holdsLock := func(t *testing.T, dir string) {
		mustCreate(t, dir, engine.CreateOptions{Restoring: true})
		db, err := engine.Open(dir, "bar", engine.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
	}
	restores := func(opts Options) func(*testing.T, string) {
		return func(t *testing.T, dir string) { mustRestore(t, dir, "bar", opts, full) }
	}
	createsOnly := func(t *testing.T, dir string) { mustCreate(t, dir, engine.CreateOptions{Restoring: true}) }
	tests := []struct {
		name        string
		winner      func(*testing.T, string)
		opts        Options
		err         error
		first, last uint64 // applied by the loser
		upToDate    bool
		lsn         uint64 // bar's last LSN after the loser; 0: not checked
	}{
		{name: "the winner holds the lock", winner: holdsLock, err: engine.ErrLocked},
		{name: "the winner finished", winner: restores(Options{}), err: ErrHasData, lsn: 30},
		{name: "the winner finished and the loser appends", winner: restores(Options{}), opts: Options{Append: true},
			upToDate: true, lsn: 30},
		{name: "the winner restored less and the loser appends the rest", winner: restores(Options{TargetLSN: 10}),
			opts: Options{Append: true, ForceReplica: true}, first: 11, last: 30, lsn: 30},
		{name: "the winner created it and failed before a frame", winner: createsOnly, first: 1, last: 30, lsn: 30},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			opts := tt.opts
			raced := 0
			opts.beforeCreate = func() { raced++; tt.winner(t, dir) }
			res, err := restore(dir, "bar", opts, full)
			if raced != 1 {
				t.Fatalf("the loser went to create bar %d times; want 1", raced)
			}
			if tt.err == nil && err != nil || !errors.Is(err, tt.err) {
				t.Fatalf("the loser: %v; want %v", err, tt.err)
			}
			if res.First != tt.first || res.Last != tt.last || res.UpToDate != tt.upToDate {
				t.Fatalf("the loser: %+v; want LSN %d..%d applied, up to date %v", res, tt.first, tt.last, tt.upToDate)
			}
			var locked *engine.LockedError
			if errors.As(err, &locked) && locked.Holder.PID != os.Getpid() {
				t.Fatalf("the lock's holder is %v; want this process", locked.Holder)
			}
			if tt.lsn > 0 {
				requireCopy(t, dir, "bar", s.foo, tt.lsn, false, false)
			}
		})
	}
}
