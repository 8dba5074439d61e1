package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hotpipe/hotpipe/engine"
)

// TestFullRestoreLosingTheRaceToCreate plays two full restores into an
// absent database, deterministically: the loser found it absent, and the
// winner (played in beforeCreate) creates it just before the loser does.
// The loser must meet what it would meet arriving later: the winner's lock
// (exit 5, naming it), or the database as the winner left it. It used to
// fail with "already exists" (exit 1) in every case.
func TestFullRestoreLosingTheRaceToCreate(t *testing.T) {
	tests := []struct {
		name   string
		winner func(t *testing.T, dir, backup string)
		flags  []string
		code   int
		want   string // on stderr
		last   uint64 // bar's last LSN after the loser
	}{
		{name: "the winner holds the lock", winner: holdsLock, code: exitLocked,
			want: fmt.Sprintf("bar: database is locked by another writer (pid %d on ", os.Getpid())},
		{name: "the winner finished", winner: restores(), code: exitFailure,
			want: "bar: database has data (LSN 30): restore into it with --append", last: 30},
		{name: "the winner finished and the loser appends", winner: restores(), flags: []string{"--append"},
			want: "already up to date", last: 30},
		{name: "the winner restored less and the loser appends the rest", winner: restores("--target-lsn", "10"),
			flags: []string{"--append", "--force-replica"}, want: "applied LSN 11..30, 20 frames", last: 30},
		{name: "the winner created it and failed before a frame", winner: createsOnly,
			want: "applied LSN 1..30, 30 frames", last: 30},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			backup := filepath.Join(dir, "foo.backup")
			mustHotpipe(t, dir, "-q", "db", "create", "foo")
			mustHotpipe(t, dir, "-q", "load", "foo", "--txs", "30")
			mustHotpipe(t, dir, "-q", "hot-backup", "foo", "-o", backup)
			t.Cleanup(func() { beforeCreate = nil })
			beforeCreate = func() {
				beforeCreate = nil // the winner's own restore creates no race
				tt.winner(t, dir, backup)
			}
			code, stderr := hotpipe(t, dir, append([]string{"hot-restore", "bar", "-i", backup}, tt.flags...)...)
			if code != tt.code || !strings.Contains(stderr, tt.want) {
				t.Fatalf("the loser: exit %d, want %d with %q on stderr:\n%s", code, tt.code, tt.want, stderr)
			}
			if tt.last > 0 {
				requireCopy(t, dir, tt.last)
			}
		})
	}
}

// holdsLock creates bar and holds its writer lock until the test ends.
func holdsLock(t *testing.T, dir, _ string) {
	createsOnly(t, dir, "")
	db, err := engine.Open(dir, "bar", engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
}

// createsOnly creates bar as a full restore does, and leaves it empty.
func createsOnly(t *testing.T, dir, _ string) {
	if _, err := engine.Create(dir, "bar", engine.CreateOptions{Restoring: true}); err != nil {
		t.Fatal(err)
	}
}

// restores runs a whole restore of the backup into bar, with flags.
func restores(flags ...string) func(t *testing.T, dir, backup string) {
	return func(t *testing.T, dir, backup string) {
		mustHotpipe(t, dir, append([]string{"-q", "hot-restore", "bar", "-i", backup}, flags...)...)
	}
}

// requireCopy requires bar to end at LSN last with foo's hash there, out of
// replica mode.
func requireCopy(t *testing.T, dir string, last uint64) {
	t.Helper()
	open := func(name string) *engine.DB {
		db, err := engine.Open(dir, name, engine.Options{ReadOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	foo, bar := open("foo"), open("bar")
	lsn, h, err := bar.State()
	if err != nil {
		t.Fatal(err)
	}
	want, err := foo.HashAt(lsn)
	if err != nil || lsn != last || h != want {
		t.Fatalf("bar at LSN %d with h %s; want LSN %d with foo's h %s (%v)", lsn, h, last, want, err)
	}
	if m, err := bar.Meta(); err != nil || m.Replica {
		t.Fatalf("bar's replica mode: %+v, %v; want off", m, err)
	}
}
