package replica

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hotpipe/hotpipe/engine"
	"github.com/hotpipe/hotpipe/stream"
	"github.com/hotpipe/hotpipe/txframe"
)

// TestRestoreFollowsTheRestoreTable runs every row of DESIGN.md §6's
// hot-restore table through Restore, against a database on disk, and
// checks the error, the Result and the database afterwards.
func TestRestoreFollowsTheRestoreTable(t *testing.T) {
	s := newSources(t, 40)
	full, first10, first20 := segment(t, s.foo, 1, 40), segment(t, s.foo, 1, 10), segment(t, s.foo, 1, 20)
	from10, from21, from31 := segment(t, s.foo, 10, 40), segment(t, s.foo, 21, 40), segment(t, s.foo, 31, 40)
	bad30 := flipFrame(t, from10, 10, 30)
	// The database bar before the restore.
	empty := func(t *testing.T, dir string) { mustCreate(t, dir, engine.CreateOptions{}) }
	copyOf := func(src *engine.DB) func(*testing.T, string) {
		return func(t *testing.T, dir string) { mustRestore(t, dir, "bar", Options{}, segment(t, src, 1, 20)) }
	}
	replica20 := func(t *testing.T, dir string) { copyOf(s.foo)(t, dir); setReplica(t, dir, true) }
	divReplica20 := func(t *testing.T, dir string) { copyOf(s.div)(t, dir); setReplica(t, dir, true) }
	tests := []struct {
		name     string
		setup    func(*testing.T, string) // nil: bar is absent
		segments [][]byte
		opts     Options
		errs     []error // all of them, to errors.Is
		notErr   error
		full     bool
		first    uint64 // applied
		last     uint64
		upToDate bool
		switched bool // SwitchedOff
		after    after
	}{
		{name: "absent, starts at 1: full restore, replica off after", segments: [][]byte{first20}, full: true, first: 1, last: 20, switched: true,
			after: after{src: s.foo, lsn: 20}},
		{name: "empty, starts at 1: full restore with the stream's origin", setup: empty, segments: [][]byte{full}, full: true, first: 1, last: 40,
			switched: true, after: after{src: s.foo, lsn: 40}},
		{name: "append to absent is a full restore", segments: [][]byte{full}, opts: Options{Append: true}, full: true, first: 1, last: 40,
			switched: true, after: after{src: s.foo, lsn: 40}},
		{name: "segments joined: a full restore from two files", segments: [][]byte{first20, from21}, full: true, first: 1, last: 40,
			switched: true, after: after{src: s.foo, lsn: 40}},
		{name: "absent, starts after 1: gap, nothing created", segments: [][]byte{from10}, errs: []error{txframe.ErrGap},
			after: after{absent: true}},
		{name: "empty, starts after 1: gap", setup: empty, segments: [][]byte{from10}, opts: Options{Append: true},
			errs: []error{txframe.ErrGap}, after: after{src: s.foo}},
		{name: "has data, no append", setup: copyOf(s.foo), segments: [][]byte{full}, errs: []error{ErrHasData},
			after: after{src: s.foo, lsn: 20}},
		{name: "append, not a replica, no force-replica: refused, replica stays off", setup: copyOf(s.foo), segments: [][]byte{full},
			opts: Options{Append: true}, errs: []error{ErrNotReplica}, after: after{src: s.foo, lsn: 20}},
		{name: "force-replica: overlap applied, switched back off", setup: copyOf(s.foo), segments: [][]byte{from10},
			opts: Options{Append: true, ForceReplica: true}, first: 21, last: 40, switched: true, after: after{src: s.foo, lsn: 40}},
		{name: "force-replica: switched back off when the restore fails", setup: copyOf(s.foo), segments: [][]byte{bad30},
			opts: Options{Append: true, ForceReplica: true}, errs: []error{txframe.ErrChecksum}, first: 21, last: 29, switched: true,
			after: after{src: s.foo, lsn: 29}},
		{name: "append into a replica: applied, stays a replica", setup: replica20, segments: [][]byte{full}, opts: Options{Append: true},
			first: 21, last: 40, after: after{src: s.foo, lsn: 40, replica: true}},
		{name: "gap after T", setup: copyOf(s.foo), segments: [][]byte{from31}, opts: Options{Append: true, ForceReplica: true},
			errs: []error{txframe.ErrGap}, after: after{src: s.foo, lsn: 20}},
		{name: "overlap, same hash at T: skipped to T, the rest applied", setup: replica20, segments: [][]byte{from10},
			opts: Options{Append: true}, first: 21, last: 40, after: after{src: s.foo, lsn: 40, replica: true}},
		{name: "overlap, different hash at T", setup: copyOf(s.div), segments: [][]byte{from10}, opts: Options{Append: true, ForceReplica: true},
			errs: []error{txframe.ErrHistory}, notErr: ErrOrigin, after: after{src: s.div, lsn: 20}},
		{name: "base is T, same base hash: applied without Force", setup: copyOf(s.foo), segments: [][]byte{from21},
			opts: Options{Append: true, ForceReplica: true}, first: 21, last: 40, switched: true, after: after{src: s.foo, lsn: 40}},
		{name: "base is T, into a replica: applied, stays a replica", setup: replica20, segments: [][]byte{from21},
			opts: Options{Append: true}, first: 21, last: 40, after: after{src: s.foo, lsn: 40, replica: true}},
		{name: "base is T, Force changes nothing: applied", setup: copyOf(s.foo), segments: [][]byte{from21},
			opts: Options{Append: true, ForceReplica: true, Force: true}, first: 21, last: 40, switched: true, after: after{src: s.foo, lsn: 40}},
		{name: "base is T, different base hash: refused before any frame, replica mode as it was", setup: copyOf(s.div),
			segments: [][]byte{from21}, opts: Options{Append: true, ForceReplica: true}, errs: []error{txframe.ErrHistory}, notErr: ErrOrigin,
			after: after{src: s.div, lsn: 20}},
		{name: "base is T, different base hash, into a replica: refused, stays a replica", setup: divReplica20,
			segments: [][]byte{from21}, opts: Options{Append: true}, errs: []error{txframe.ErrHistory}, after: after{src: s.div, lsn: 20, replica: true}},
		{name: "base is T, different base hash, not a replica: the history is named first", setup: copyOf(s.div),
			segments: [][]byte{from21}, opts: Options{Append: true}, errs: []error{txframe.ErrHistory}, notErr: ErrNotReplica,
			after: after{src: s.div, lsn: 20}},
		{name: "base is T, different base hash, with Force: refused the same", setup: copyOf(s.div), segments: [][]byte{from21},
			opts: Options{Append: true, ForceReplica: true, Force: true}, errs: []error{txframe.ErrHistory}, notErr: ErrOrigin,
			after: after{src: s.div, lsn: 20}},
		{name: "ends at T: already up to date, whatever replica mode", setup: copyOf(s.foo), segments: [][]byte{first20},
			opts: Options{Append: true}, upToDate: true, after: after{src: s.foo, lsn: 20}},
		{name: "ends before T: hash compared there, up to date", setup: copyOf(s.foo), segments: [][]byte{first10},
			opts: Options{Append: true, ForceReplica: true}, upToDate: true, after: after{src: s.foo, lsn: 20}},
		{name: "ends before T, different hash", setup: copyOf(s.div), segments: [][]byte{first10}, opts: Options{Append: true},
			errs: []error{txframe.ErrHistory}, after: after{src: s.div, lsn: 20}},
		{name: "different origin", setup: copyOf(s.alt), segments: [][]byte{full}, opts: Options{Append: true, ForceReplica: true},
			errs: []error{txframe.ErrHistory, ErrOrigin}, after: after{src: s.alt, lsn: 20}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if tt.setup != nil {
				tt.setup(t, dir)
			}
			res, err := restore(dir, "bar", tt.opts, tt.segments...)
			for _, want := range tt.errs {
				if !errors.Is(err, want) {
					t.Fatalf("err = %v; want %v", err, want)
				}
			}
			if len(tt.errs) == 0 && err != nil || tt.notErr != nil && errors.Is(err, tt.notErr) {
				t.Fatalf("err = %v", err)
			}
			got := [...]any{res.Full, res.First, res.Last, res.UpToDate, res.SwitchedOff}
			if want := [...]any{tt.full, tt.first, tt.last, tt.upToDate, tt.switched}; got != want {
				t.Fatalf("Full, First, Last, UpToDate, SwitchedOff = %v; want %v", got, want)
			}
			requireAfter(t, dir, "bar", res, tt.after)
		})
	}
}

// TestAPartialFullRestoreStaysAReplicaUntilCompleted: a full restore that
// fails leaves a replica marked as restoring; a restore that brings
// nothing new does not complete it; one that applies the rest does.
func TestAPartialFullRestoreStaysAReplicaUntilCompleted(t *testing.T) {
	s := newSources(t, 50)
	dir := t.TempDir()
	full := segment(t, s.foo, 1, 50)
	res, err := restore(dir, "bar", Options{}, flipFrame(t, full, 1, 30))
	if !errors.Is(err, txframe.ErrChecksum) || res.First != 1 || res.Last != 29 || res.SwitchedOff {
		t.Fatalf("restore of a damaged stream = %+v, %v; want LSN 1..29 applied and a checksum error", res, err)
	}
	requireAfter(t, dir, "bar", res, after{src: s.foo, lsn: 29, replica: true, restoring: true})

	res = mustRestore(t, dir, "bar", Options{Append: true}, segment(t, s.foo, 1, 10))
	if !res.UpToDate || res.SwitchedOff {
		t.Fatalf("a stream of nothing new: %+v; want up to date, replica mode left on", res)
	}
	requireAfter(t, dir, "bar", res, after{src: s.foo, lsn: 29, replica: true, restoring: true})

	res = mustRestore(t, dir, "bar", Options{Append: true}, full)
	if res.First != 30 || res.Last != 50 || !res.SwitchedOff {
		t.Fatalf("the rest: %+v; want LSN 30..50 applied and replica mode switched off", res)
	}
	requireAfter(t, dir, "bar", res, after{src: s.foo, lsn: 50})
}

// TestAFullRestoreIntoAnEmptyDatabaseThatFailsStaysARestoringReplica: the
// database existed, empty and not a replica; the full restore adopts it.
func TestAFullRestoreIntoAnEmptyDatabaseThatFailsStaysARestoringReplica(t *testing.T) {
	s := newSources(t, 30)
	dir := t.TempDir()
	mustCreate(t, dir, engine.CreateOptions{})
	res, err := restore(dir, "bar", Options{}, flipFrame(t, segment(t, s.foo, 1, 30), 1, 12))
	if !errors.Is(err, txframe.ErrChecksum) {
		t.Fatalf("err = %v; want a checksum error", err)
	}
	requireAfter(t, dir, "bar", res, after{src: s.foo, lsn: 11, replica: true, restoring: true})
}

// TestAFrameTheDatabaseRefusesIsNotCommitted: a stream whose frames pass
// the reader's checks (CRC, chain from the header's base hash) but not the
// database's (their commit time is before its last commit): the first
// frame is refused, and nothing after it is committed. Result says where
// the database is.
func TestAFrameTheDatabaseRefusesIsNotCommitted(t *testing.T) {
	s := newSources(t, 20)
	dir := t.TempDir()
	mustRestore(t, dir, "bar", Options{}, segment(t, s.foo, 1, 20))
	m, err := s.foo.Meta()
	if err != nil {
		t.Fatal(err)
	}
	// LSNs 21..25 of foo's history, committed an hour before LSN 20.
	prev := hashAt(t, s.foo, 20)
	var frames []byte
	for lsn := uint64(21); lsn <= 25; lsn++ {
		e := txframe.Entry{Op: txframe.OpPut, Key: []byte("late"), Value: []byte("early")}
		if frames, prev, err = txframe.Append(frames, prev, lsn, commitAt(20).Add(-time.Hour).UnixNano(), []txframe.Entry{e}); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	w, err := stream.NewWriter(&buf, stream.Header{Origin: m.Origin, Name: "foo", Created: t0, Base: 20, BaseHash: hashAt(t, s.foo, 20)})
	if err == nil {
		err = errors.Join(w.WriteFrames(frames), w.Close())
	}
	if err != nil {
		t.Fatal(err)
	}
	res, err := restore(dir, "bar", Options{Append: true, ForceReplica: true}, buf.Bytes())
	if !errors.Is(err, txframe.ErrMalformed) || res.First != 21 || res.Last != 25 || !res.SwitchedOff {
		t.Fatalf("Restore = %+v, %v; want the frames handed over, refused as malformed, replica mode switched back off", res, err)
	}
	requireAfter(t, dir, "bar", res, after{src: s.foo, lsn: 20})
}

// TestNotifyHearsTheEnginesRecovery: a torn tail in the database (half a
// frame, as a writer killed mid-write leaves) is truncated when the
// restore opens it, and Notify hears of it.
func TestNotifyHearsTheEnginesRecovery(t *testing.T) {
	s := newSources(t, 40)
	dir := t.TempDir()
	mustRestore(t, dir, "bar", Options{}, segment(t, s.foo, 1, 20))
	f, err := os.OpenFile(filepath.Join(dir, "bar", "00000000000000000001.seg"), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	half := append(txframe.Magic[:], 0x20, 0, 0, 0, 21, 0, 0, 0)
	if _, err := f.Write(half); err != nil {
		t.Fatal(errors.Join(err, f.Close()))
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	var notices []string
	opts := Options{Append: true, ForceReplica: true, Notify: func(msg string) { notices = append(notices, msg) }}
	res := mustRestore(t, dir, "bar", opts, segment(t, s.foo, 10, 40))
	if len(notices) != 1 || res.First != 21 {
		t.Fatalf("notices %q, %+v; want one recovery notice, then LSN 21..40 applied", notices, res)
	}
	requireAfter(t, dir, "bar", res, after{src: s.foo, lsn: 40})
}
