package backup

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/hotpipe/hotpipe/engine"
	"github.com/hotpipe/hotpipe/stream"
	"github.com/hotpipe/hotpipe/txframe"
)

// TestAppend adds to backup files in each state Append meets: missing,
// complete and up to date, complete and behind, torn inside a frame, cut
// inside its first header. The file then reads as one history through the
// database's last LSN, and the Result says what was done.
func TestAppend(t *testing.T) {
	t.Parallel()
	tests := appendCases
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			db := newDB(t, "foo", 50, 300, 0)
			path := filepath.Join(t.TempDir(), "foo.backup")
			var before stream.Tail
			if tt.setup != nil {
				tt.setup(t, db, path)
				before = tailOf(t, path)
			}
			var told []Repair
			res, err := Append(context.Background(), db.reader, path, Options{Repaired: func(r Repair) { told = append(told, r) }})
			if err != nil || res.First != tt.first || res.Last != 50 || res.UpToDate != tt.upToDate || res.Ended == tt.upToDate {
				t.Fatalf("Append = %v, Result %+v; want LSN %d..50 (up to date: %v)", err, res, tt.first, tt.upToDate)
			}
			checkRepair(t, path, before, tt.repaired, res.Repaired, told)
			if got := readFile(t, path); got.err != nil || got.ends != tt.segments || got.first != 1 || got.last != 50 {
				t.Fatalf("the file reads as %+v; want LSN 1..50 in %d segment(s)", got, tt.segments)
			}
		})
	}
}

// appendCases are the states of a backup file Append and AppendFrom meet.
var appendCases = []struct {
	name     string
	setup    func(t *testing.T, db *testDB, path string)
	first    uint64 // the first LSN appended
	segments int
	upToDate bool
	repaired *Repair // Path is filled in
}{
	{name: "a missing file is started", first: 1, segments: 1},
	{name: "a complete file that is up to date", setup: backupTo(50), first: 51, segments: 1, upToDate: true},
	{name: "a complete file behind: a new segment", setup: backupTo(20), first: 21, segments: 2},
	{name: "a torn tail is cut back and resumed", setup: tornBackup, first: 30, segments: 1},
	{name: "the start of a header is removed", setup: headless, first: 1, segments: 1,
		repaired: &Repair{Offset: 0, Cut: 60, After: 0}},
}

// checkRepair requires Append to have reported the repair it made, in its
// Result and through Options.Repaired alike: a torn tail's cut is at the
// last whole frame.
func checkRepair(t *testing.T, path string, before stream.Tail, want, got *Repair, told []Repair) {
	t.Helper()
	if want == nil && before.Torn > 0 {
		want = &Repair{Offset: before.Keep, Cut: before.Torn, After: before.Last}
	}
	if want != nil {
		w := *want
		w.Path = path
		want = &w
	}
	switch {
	case (want == nil) != (got == nil), want != nil && *want != *got:
		t.Fatalf("Result.Repaired = %+v, want %+v", got, want)
	case want == nil && len(told) != 0, want != nil && (len(told) != 1 || told[0] != *want):
		t.Fatalf("Options.Repaired was told %+v, want %+v", told, want)
	}
}

// headless makes a backup file that holds only the first 60 bytes of a
// header, as a backup killed while writing it leaves it.
func headless(t *testing.T, db *testDB, path string) {
	t.Helper()
	backupTo(3)(t, db, path)
	if err := os.Truncate(path, 60); err != nil {
		t.Fatal(err)
	}
}

// TestAppendFollowsFromAnUpToDateFile: a following Append of a complete,
// up-to-date file is not "up to date": it follows, in a new segment.
func TestAppendFollowsFromAnUpToDateFile(t *testing.T) {
	t.Parallel()
	db := newDB(t, "foo", 20, 100, 0)
	path := filepath.Join(t.TempDir(), "foo.backup")
	backupTo(20)(t, db, path)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	committed := false
	res, err := Append(ctx, db.reader, path, Options{Follow: true,
		Heartbeat: func() error {
			if !committed { // idle after the first, empty copy: commit more
				committed = true
				db.commit(t, 5, 100)
			}
			return nil
		},
		Progress: func(p Progress) {
			if p.Last == 25 {
				cancel()
			}
		}})
	if err != nil || res.UpToDate || !res.Ended || res.First != 21 || res.Last != 25 {
		t.Fatalf("Append = %v, Result %+v; want LSN 21..25 followed and ended", err, res)
	}
	if got := readFile(t, path); got.err != nil || got.ends != 2 || got.last != 25 {
		t.Fatalf("the file reads as %+v; want LSN 1..25 in two segments", got)
	}
}

// TestAppendRefusesAnotherHistory: a file whose tail is not the database's
// history is refused with txframe.ErrHistory and left untouched: a backup
// of another origin, one that reaches past the database's end, and one
// whose hash at its last LSN differs from the database's.
func TestAppendRefusesAnotherHistory(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	foo := newDBIn(t, dir, "foo", engine.CreateOptions{}, 40, 100)
	meta, err := foo.reader.Meta()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		origin engine.Origin // of the database appended from; zero: a fresh one
		frames int           // its transactions, unlike foo's
	}{
		{name: "another origin", frames: 50},
		{name: "the file is ahead", origin: meta.Origin, frames: 20},
		{name: "another hash at the file's last LSN", origin: meta.Origin, frames: 50},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "foo.backup")
			backupTo(40)(t, foo, path)
			before, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			other := newDBIn(t, dir, "other"+string(rune('a'+i)), engine.CreateOptions{Origin: tt.origin}, tt.frames, 99)
			res, err := Append(context.Background(), other.reader, path, Options{})
			if !errors.Is(err, txframe.ErrHistory) || res.Ended || res.Frames != 0 {
				t.Fatalf("Append = %v, Result %+v; want txframe.ErrHistory and nothing appended", err, res)
			}
			if after, err := os.ReadFile(path); err != nil || !bytes.Equal(after, before) {
				t.Fatalf("the refused file changed (%v)", err)
			}
		})
	}
}
