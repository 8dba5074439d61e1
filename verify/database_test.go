package verify_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hotpipe/hotpipe/engine"
	"github.com/hotpipe/hotpipe/txframe"
	"github.com/hotpipe/hotpipe/verify"
)

const dbTxs = 45

// newDB makes database "db" of dbTxs one-put commits in small segments,
// closes the writer, and returns the data directory.
func newDB(t *testing.T) string {
	t.Helper()
	return newDBOf(t, engine.MinSegmentSize, dbTxs, 150)
}

// Big databases are some MiB, so that a check reports progress several
// times: bigTxs commits of 100 KiB values in 1 MiB segments.
const (
	bigTxs     = 40
	bigValue   = 100 << 10
	bigSegment = 1 << 20
)

// newDBOf makes database "db" of txs one-put commits with values of value
// bytes, in segments of segSize, closes the writer, and returns the data
// directory.
func newDBOf(t *testing.T, segSize int64, txs, value int) string {
	t.Helper()
	dir := t.TempDir()
	if _, err := engine.Create(dir, "db", engine.CreateOptions{SegmentSize: segSize}); err != nil {
		t.Fatal(err)
	}
	clock := time.Unix(0, t0)
	db, err := engine.Open(dir, "db", engine.Options{Now: func() time.Time { return clock }})
	if err != nil {
		t.Fatal(err)
	}
	for i := range txs {
		e := txframe.Entry{Op: txframe.OpPut, Key: fmt.Appendf(nil, "k%04d", i), Value: bytes.Repeat([]byte{'v'}, value)}
		if _, err := db.Commit([]txframe.Entry{e}); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

// openRO opens the database read-only, as db check does.
func openRO(t *testing.T, dir string) *engine.DB {
	t.Helper()
	db, err := engine.Open(dir, "db", engine.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// frameAt finds the segment file and offset of the frame of LSN lsn by
// walking the frames of each segment file.
func frameAt(t *testing.T, dbDir string, lsn uint64) (string, int64, int) {
	t.Helper()
	segs, err := filepath.Glob(filepath.Join(dbDir, "*.seg"))
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range segs {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		off := 0
		for f := range txframe.Frames(b) {
			if n, _ := txframe.Fields(f); n == lsn {
				return path, int64(off), len(f)
			}
			off += len(f)
		}
	}
	t.Fatalf("no frame of LSN %d in %s", lsn, dbDir)
	return "", 0, 0
}

// damage flips a byte inside the value of the frame of lsn, so that its
// length still reads, and returns the finding a check should make.
func damage(t *testing.T, dbDir string, lsn uint64) want {
	t.Helper()
	path, off, n := frameAt(t, dbDir, lsn)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[off+int64(n)/2] ^= 0xff
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return want{txframe.ErrChecksum, path, off, lsn}
}

// snapshot reads every file of the database directory.
func snapshot(t *testing.T, dbDir string) map[string][]byte {
	t.Helper()
	ents, err := os.ReadDir(dbDir)
	if err != nil {
		t.Fatal(err)
	}
	files := make(map[string][]byte)
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dbDir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		files[e.Name()] = b
	}
	return files
}

func checkUnchanged(t *testing.T, dbDir string, before map[string][]byte) {
	t.Helper()
	after := snapshot(t, dbDir)
	if len(after) != len(before) {
		t.Errorf("%d files after the check, %d before", len(after), len(before))
	}
	for name, b := range before {
		if !bytes.Equal(after[name], b) {
			t.Errorf("%s changed", name)
		}
	}
}

// A database whose every byte is right verifies, and the report sums up
// its history.
func TestDatabaseClean(t *testing.T) {
	dir := newDB(t)
	db := openRO(t, dir)
	before := snapshot(t, db.Dir())
	rep, err := verify.Database(context.Background(), db, verify.Options{
		OnFinding: func(f verify.Finding) { t.Errorf("finding in a clean database: %v", f) },
	})
	if err != nil || !rep.OK() || rep.Err() != nil {
		t.Fatalf("Database: %v; OK() = %v, Err() = %v", err, rep.OK(), rep.Err())
	}
	lsn, hash, err := db.State()
	if err != nil {
		t.Fatal(err)
	}
	if rep.DB != "db" || rep.Last != dbTxs || rep.Frames != dbTxs || rep.Hash != hash || lsn != dbTxs || rep.Segments < 2 {
		t.Errorf("report %+v; want db, LSN %d, %d frames in several segments, h %s", rep, dbTxs, dbTxs, hash)
	}
	checkUnchanged(t, db.Dir(), before)
}

// Every damaged frame is a finding naming its segment file, offset and
// LSN, engine.ErrCorrupt and the frame's own sentinel to errors.Is; the
// check goes on past each, and never writes.
func TestDatabaseDamage(t *testing.T) {
	dir := newDB(t)
	dbDir := filepath.Join(dir, "db")
	var wants []want
	for _, lsn := range []uint64{10, 40} {
		wants = append(wants, damage(t, dbDir, lsn))
	}
	if wants[0].source == wants[1].source {
		t.Fatal("both frames are in one segment file; the test wants two")
	}
	db := openRO(t, dir)
	before := snapshot(t, dbDir)
	var streamed []verify.Finding
	rep, err := verify.Database(context.Background(), db, verify.Options{
		OnFinding: func(f verify.Finding) { streamed = append(streamed, f) },
	})
	if err != nil {
		t.Fatalf("Database: %v", err)
	}
	checkFindings(t, rep.Findings, wants)
	for i, f := range rep.Findings {
		if !errors.Is(f, engine.ErrCorrupt) {
			t.Errorf("finding %d (%v) is not engine.ErrCorrupt", i+1, f)
		}
	}
	if !sameFindings(streamed, rep.Findings) {
		t.Errorf("OnFinding got %v; the report holds %v", streamed, rep.Findings)
	}
	if rep.Frames != dbTxs-2 || rep.Last != dbTxs {
		t.Errorf("%d frames ok, last LSN %d; want %d, %d", rep.Frames, rep.Last, dbTxs-2, dbTxs)
	}
	var first verify.Finding
	if err := rep.Err(); rep.OK() || !errors.Is(err, engine.ErrCorrupt) || !errors.Is(err, txframe.ErrChecksum) ||
		!errors.As(err, &first) || first != rep.Findings[0] {
		t.Errorf("OK() = %v, Err() = %v; want engine.ErrCorrupt unwrapping to the first finding", rep.OK(), err)
	}
	checkUnchanged(t, dbDir, before)
}

// A cancelled check returns context.Canceled and a report.
func TestDatabaseCancelled(t *testing.T) {
	db := openRO(t, newDB(t))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	rep, err := verify.Database(ctx, db, verify.Options{})
	if !errors.Is(err, context.Canceled) || rep == nil || rep.Frames != 0 {
		t.Fatalf("Database: %v, %+v; want context.Canceled before any frame", err, rep)
	}
}

// A check of a database of several segments and MiB reports its progress
// as it goes, damaged or not: counts that only grow, a segment file of
// the database as the source, the durable LSN and the bytes it will reach
// known from the first call, and a last call at both.
func TestDatabaseProgress(t *testing.T) {
	tests := []struct {
		name   string
		damage []uint64 // LSNs of frames to damage
	}{
		{name: "clean"},
		{name: "damaged", damage: []uint64{3, 25}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := newDBOf(t, bigSegment, bigTxs, bigValue)
			dbDir := filepath.Join(dir, "db")
			var wants []want
			for _, lsn := range tt.damage {
				wants = append(wants, damage(t, dbDir, lsn))
			}
			db := openRO(t, dir)
			durable, _, err := db.State()
			if err != nil {
				t.Fatal(err)
			}
			var calls []verify.Progress
			rep, err := verify.Database(context.Background(), db, verify.Options{
				Progress: func(p verify.Progress) { calls = append(calls, p) },
			})
			if err != nil {
				t.Fatalf("Database: %v", err)
			}
			checkFindings(t, rep.Findings, wants)
			if len(calls) < 4 || rep.Segments < 4 {
				t.Fatalf("%d progress calls in %d segments; want one a MiB of some 4 MiB", len(calls), rep.Segments)
			}
			total := calls[0].TotalBytes
			var last verify.Progress
			for i, p := range calls {
				switch {
				case p.End != durable || p.TotalBytes != total:
					t.Errorf("call %d: %+v; want End %d, TotalBytes %d as at the start", i, p, durable, total)
				case p.LSN < last.LSN || p.Frames < last.Frames || p.Bytes < last.Bytes || p.Bytes > total:
					t.Errorf("call %d: %+v after %+v; want counts that only grow, to TotalBytes", i, p, last)
				case filepath.Dir(p.Source) != dbDir || filepath.Ext(p.Source) != ".seg" || p.Offset <= 0:
					t.Errorf("call %d: %s offset %d; want a place in a segment file of %s", i, p.Source, p.Offset, dbDir)
				}
				last = p
			}
			if last.LSN != durable || last.LSN != rep.Last || last.Frames != rep.Frames || last.Bytes != total {
				t.Errorf("last call %+v, report %+v; want LSN %d, its frames, every byte", last, rep, durable)
			}
			if clean := len(tt.damage) == 0; clean != (rep.Bytes == total) {
				t.Errorf("%d bytes of frames passed of %d; want all exactly when clean", rep.Bytes, total)
			}
		})
	}
}
