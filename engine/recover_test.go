package engine

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hotpipe/hotpipe/txframe"
)

// crashCase damages a closed 10-frame database (256-byte segments, about 3 frames each) the way a
// crash or a disk might, then reopens it for write.
type crashCase struct {
	name    string
	damage  func(t *testing.T, dbDir string, segs []uint64)
	lsn     uint64 // last LSN after recovery (when no error)
	notice  string // substring of the recovery notice, "" for none
	corrupt bool   // Open must fail with a *CorruptionError and change nothing
}

func TestRecovery(t *testing.T) {
	last := func(segs []uint64) uint64 { return segs[len(segs)-1] }
	tests := []crashCase{
		{name: "clean", damage: func(*testing.T, string, []uint64) {}, lsn: 10},
		{name: "incomplete frame at the tail", lsn: 10, notice: "truncated 30 unacknowledged bytes",
			damage: func(t *testing.T, d string, s []uint64) { appendFile(t, d, last(s), partialFrame(t)[:30]) }},
		{name: "garbage after the watermark", lsn: 10, notice: "truncated 5 unacknowledged bytes",
			damage: func(t *testing.T, d string, s []uint64) { appendFile(t, d, last(s), []byte("junk!")) }},
		{name: "durable frames past a stale watermark are kept", lsn: 12,
			damage: func(t *testing.T, d string, s []uint64) {}}, // see staleWatermark below
		{name: "watermark frame damaged", corrupt: true,
			damage: func(t *testing.T, d string, s []uint64) { flipAt(t, d, last(s), -10) }},
		{name: "segment shorter than the watermark", corrupt: true,
			damage: func(t *testing.T, d string, s []uint64) { truncFile(t, d, last(s), -1) }},
		{name: "no watermark, incomplete tail", lsn: 10, notice: "truncated 40 unacknowledged bytes",
			damage: func(t *testing.T, d string, s []uint64) {
				smashWatermark(t, d)
				appendFile(t, d, last(s), partialFrame(t)[:40])
			}},
		{name: "no watermark, zeros at the tail", lsn: 10, notice: "truncated 4096 unacknowledged bytes",
			damage: func(t *testing.T, d string, s []uint64) {
				smashWatermark(t, d)
				appendFile(t, d, last(s), make([]byte, 4096))
			}},
		{name: "no watermark, damage mid-segment", corrupt: true,
			damage: func(t *testing.T, d string, s []uint64) { smashWatermark(t, d); flipAt(t, d, last(s), 30) }},
		{name: "empty segment left by a crash", lsn: 10,
			damage: func(t *testing.T, d string, s []uint64) { appendFileNew(t, d, 11, nil) }},
		{name: "torn tail followed by a segment with data", corrupt: true,
			damage: func(t *testing.T, d string, s []uint64) {
				appendFile(t, d, last(s), []byte("junk"))
				appendFileNew(t, d, 11, partialFrame(t))
			}},
		{name: "segment missing in the middle", corrupt: true,
			damage: func(t *testing.T, d string, s []uint64) {
				smashWatermark(t, d)
				if err := os.Remove(filepath.Join(d, segName(s[1]))); err != nil {
					t.Fatal(err)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { runCrashCase(t, tt) })
	}
}

func runCrashCase(t *testing.T, tt crashCase) {
	opts := Options{SegmentSize: 256}
	db, dir := newDB(t, opts, CreateOptions{})
	commitN(t, db, 0, 10)
	if strings.HasPrefix(tt.name, "durable frames past a stale watermark") {
		staleWatermark(t, db, dir, opts)
	}
	db.Close()
	dbDir := filepath.Join(dir, "db")
	segs, _ := listSegments(dbDir)
	tt.damage(t, dbDir, segs)
	before := snapshot(t, dbDir)
	var notices []string
	opts.Notify = func(m string) { notices = append(notices, m) }
	db2, err := Open(dir, "db", opts)
	if tt.corrupt {
		var ce *CorruptionError
		if !errors.As(err, &ce) || !errors.Is(err, ErrCorrupt) || ce.Path == "" {
			t.Fatalf("Open = %v, want a *CorruptionError naming a file", err)
		}
		if after := snapshot(t, dbDir); !equalSnap(before, after) {
			t.Fatal("Open changed files while refusing a corrupt database")
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	defer db2.Close()
	if lsn, _ := mustState(t, db2); lsn != tt.lsn {
		t.Fatalf("recovered to LSN %d, want %d", lsn, tt.lsn)
	}
	joined := strings.Join(notices, "\n")
	if tt.notice == "" && joined != "" && !strings.Contains(joined, "watermark") || !strings.Contains(joined, tt.notice) {
		t.Fatalf("notices %q, want one containing %q", joined, tt.notice)
	}
	if n, err := db2.Check(); err != nil || n != tt.lsn {
		t.Fatalf("Check after recovery = %d, %v", n, err)
	}
	commitN(t, db2, 100, 1)
	if got := mustGet(t, db2, "k100"); got != "v100" {
		t.Fatalf("commit after recovery: k100 = %q", got)
	}
}

// staleWatermark commits two more frames and then puts back the DURABLE
// file from before them, as if the writer died between fsync and publish.
func staleWatermark(t *testing.T, db *DB, dir string, opts Options) {
	path := filepath.Join(dir, "db", durableFile)
	old, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	commitN(t, db, 10, 2)
	db.Close()
	if err := os.WriteFile(path, old, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestDamageInsideTheLogIsReportedOnRead(t *testing.T) {
	db, dir := newDB(t, Options{}, CreateOptions{})
	commitN(t, db, 0, 10)
	frames := splitFrames(t, readAll(t, db, 1, 0))
	db.Close()
	off := int64(len(frames[0]) + len(frames[1]) + len(frames[2])) // start of LSN 4
	flipAt(t, filepath.Join(dir, "db"), 1, int(off)+20)
	db = reopen(t, dir, Options{}) // the watermark's frame is intact
	_, err := db.Check()
	var ce *CorruptionError
	if !errors.As(err, &ce) || ce.Offset != off || ce.LSN != 4 || !errors.Is(err, txframe.ErrChecksum) {
		t.Fatalf("Check = %v, want corruption at offset %d LSN 4", err, off)
	}
	if _, err := db.Get([]byte("k9")); !errors.As(err, &ce) {
		t.Fatalf("Get over damage = %v, want *CorruptionError", err)
	}
}

func partialFrame(t *testing.T) []byte {
	t.Helper()
	b, _, err := txframe.Append(nil, txframe.Hash{}, 11, 0, []txframe.Entry{put("torn", strings.Repeat("x", 100))})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func appendFile(t *testing.T, dbDir string, seg uint64, b []byte) {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(dbDir, segName(seg)), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func appendFileNew(t *testing.T, dbDir string, seg uint64, b []byte) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dbDir, segName(seg)), b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func flipAt(t *testing.T, dbDir string, seg uint64, off int) {
	t.Helper()
	path := filepath.Join(dbDir, segName(seg))
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if off < 0 {
		off += len(b)
	}
	b[off] ^= 0x40
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func truncFile(t *testing.T, dbDir string, seg uint64, by int64) {
	t.Helper()
	path := filepath.Join(dbDir, segName(seg))
	if err := os.Truncate(path, fileSize(t, path)+by); err != nil {
		t.Fatal(err)
	}
}

func smashWatermark(t *testing.T, dbDir string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dbDir, durableFile), bytes.Repeat([]byte{0xee}, 2*slotSize), 0o600); err != nil {
		t.Fatal(err)
	}
}

// snapshot reads every file of a database except its lock.
func snapshot(t *testing.T, dbDir string) map[string][]byte {
	t.Helper()
	ents, err := os.ReadDir(dbDir)
	if err != nil {
		t.Fatal(err)
	}
	snap := make(map[string][]byte)
	for _, e := range ents {
		if e.Name() == lockFile {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dbDir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		snap[e.Name()] = b
	}
	return snap
}

func equalSnap(a, b map[string][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if !bytes.Equal(v, b[k]) {
			return false
		}
	}
	return true
}

// TestDamagePastTheWatermarkIsDropped: after a power loss the frames a
// writer or a restore wrote past its (stale) watermark can come back with a
// hole and whole frames after it. No acknowledged frame can follow a hole,
// so replica or not, the database opens with every frame before the hole and
// drops the rest, saying so; a restore applies it again.
func TestDamagePastTheWatermarkIsDropped(t *testing.T) {
	_, frames := source(t, 16)
	parts := splitFrames(t, frames)
	for _, replica := range []bool{false, true} {
		dir := t.TempDir()
		if _, err := Create(dir, "db", CreateOptions{Replica: true}); err != nil {
			t.Fatal(err)
		}
		db := reopen(t, dir, Options{})
		if _, err := db.Apply(cat(parts[:10]...)); err != nil {
			t.Fatal(err)
		}
		mark := filepath.Join(dir, "db", durableFile)
		old, err := os.ReadFile(mark)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.Apply(cat(parts[10:]...)); err != nil {
			t.Fatal(err)
		}
		if !replica {
			if err := db.SetReplica(false); err != nil {
				t.Fatal(err)
			}
		}
		db.Close()
		if err := os.WriteFile(mark, old, 0o600); err != nil {
			t.Fatal(err)
		}
		flipAt(t, filepath.Join(dir, "db"), 1, len(cat(parts[:11]...))+20) // inside LSN 12
		var notices []string
		re, err := Open(dir, "db", Options{Notify: func(m string) { notices = append(notices, m) }})
		if err != nil {
			t.Fatalf("replica %v: Open = %v", replica, err)
		}
		if lsn, _ := mustState(t, re); lsn != 11 || !strings.Contains(strings.Join(notices, "\n"), "unacknowledged bytes") {
			t.Fatalf("replica %v: recovered to LSN %d with notices %q; want 11 and a notice", replica, lsn, notices)
		}
		if !replica {
			re.Close()
			continue
		}
		if _, err := re.Apply(cat(parts[11:]...)); err != nil {
			t.Fatalf("resuming the restore: %v", err)
		}
		re.Close()
	}
}
