package engine

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/hotpipe/hotpipe/txframe"
)

// FuzzRecover opens for write a database whose only segment holds arbitrary
// bytes, with the watermark at LSN 0 or unreadable. Recovery must never
// panic: it either refuses with a *CorruptionError, or keeps a prefix of
// whole frames that Check verifies and that accepts new commits.
func FuzzRecover(f *testing.F) {
	valid := fuzzSeedLog(f)
	f.Add(valid, false)
	f.Add(valid, true)
	f.Add(valid[:len(valid)-7], true)
	f.Add(append(append([]byte(nil), valid...), 0, 0, 0, 0), true)
	f.Add([]byte("HPF1\xff\xff\xff\xff"), false)
	f.Add([]byte{}, true)
	f.Fuzz(func(t *testing.T, seg []byte, smash bool) {
		dir := t.TempDir()
		if _, err := Create(dir, "db", CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		dbDir := filepath.Join(dir, "db")
		if err := os.WriteFile(filepath.Join(dbDir, segName(1)), seg, 0o600); err != nil {
			t.Fatal(err)
		}
		if smash {
			smashWatermark(t, dbDir)
		}
		openRecovered(t, dir, 0)
	})
}

// openRecovered opens the database in dir for write after damage: it must
// refuse with a *CorruptionError, or recover to at least LSN atLeast, pass
// Check and take a commit.
func openRecovered(t *testing.T, dir string, atLeast uint64) {
	db, err := Open(dir, "db", Options{})
	if err != nil {
		var ce *CorruptionError
		if !errors.As(err, &ce) {
			t.Fatalf("Open = %v, want success or *CorruptionError", err)
		}
		return
	}
	defer db.Close()
	lsn, _, err := db.State()
	if err != nil || lsn < atLeast {
		t.Fatalf("recovered to LSN %d (%v); want at least %d", lsn, err, atLeast)
	}
	if n, err := db.Check(); err != nil || n != lsn {
		t.Fatalf("after recovery to LSN %d, Check = %d, %v", lsn, n, err)
	}
	if got, err := db.Commit([]txframe.Entry{put("after", "recovery")}); err != nil || got != lsn+1 {
		t.Fatalf("commit after recovery = %d, %v; want LSN %d", got, err, lsn+1)
	}
}

// fuzzSeedLog returns the segment bytes of a small real database.
func fuzzSeedLog(f *testing.F) []byte {
	dir := f.TempDir()
	if _, err := Create(dir, "db", CreateOptions{}); err != nil {
		f.Fatal(err)
	}
	db, err := Open(dir, "db", Options{})
	if err != nil {
		f.Fatal(err)
	}
	for _, es := range [][]txframe.Entry{{put("a", "1")}, {put("b", ""), del("a")}, {put("c", "333")}} {
		if _, err := db.Commit(es); err != nil {
			f.Fatal(err)
		}
	}
	db.Close()
	b, err := os.ReadFile(filepath.Join(dir, "db", segName(1)))
	if err != nil {
		f.Fatal(err)
	}
	return b
}

// FuzzWatermarkSlots decodes arbitrary DURABLE contents: never a panic, and
// a slot that decodes re-encodes to the same bytes.
func FuzzWatermarkSlots(f *testing.F) {
	var good [2 * slotSize]byte
	w := watermark{seq: 3, lsn: 9, time: 5, seg: 4, frameOff: 10, end: 90, hash: txframe.Hash{1, 2}}
	w.encode(good[slotSize:])
	f.Add(good[:])
	f.Add(make([]byte, 2*slotSize))
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) < 2*slotSize {
			b = append(b, make([]byte, 2*slotSize-len(b))...)
		}
		w, ok := newestSlot(b[:2*slotSize])
		if !ok {
			return
		}
		var again [slotSize]byte
		w.encode(again[:])
		n := slotPayload + 4 // the padding after the CRC is not part of a slot's value
		if string(again[:n]) != string(b[:n]) && string(again[:n]) != string(b[slotSize:slotSize+n]) {
			t.Fatalf("slot %+v does not re-encode to either input slot", w)
		}
	})
}

// FuzzRecoverAfterSeals opens for write a database of sealed segments whose
// last segment holds arbitrary bytes, under a watermark that names the last
// sealed frame (stale) or nothing. Recovery must never panic and never lose
// a sealed frame: it refuses with a *CorruptionError, or keeps at least the
// sealed frames, verified, and accepts a commit.
func FuzzRecoverAfterSeals(f *testing.F) {
	f.Add([]byte{}, false)
	f.Add(fuzzSeedLog(f), false)
	f.Add([]byte("HPSS\x00\x00\x00\x00"), true)
	f.Add(make([]byte, 4096), false)
	f.Fuzz(func(t *testing.T, tail []byte, smash bool) {
		dir := t.TempDir()
		db, err := func() (*DB, error) {
			if _, err := Create(dir, "db", CreateOptions{SegmentSize: MinSegmentSize}); err != nil {
				return nil, err
			}
			return Open(dir, "db", Options{})
		}()
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; db.w.next.seg == 1 || i < 3; i++ { // until a second segment starts
			if _, err := db.Commit([]txframe.Entry{put("k", string(make([]byte, 1000)))}); err != nil {
				t.Fatal(err)
			}
		}
		sealed := db.w.next.seg - 1
		db.Close()
		dbDir := filepath.Join(dir, "db")
		segs, _ := listSegments(dbDir)
		if err := os.WriteFile(filepath.Join(dbDir, segName(segs[len(segs)-1])), tail, 0o600); err != nil {
			t.Fatal(err)
		}
		if smash {
			smashWatermark(t, dbDir)
		}
		openRecovered(t, dir, sealed) // the sealed segments were durable: never lost
	})
}
