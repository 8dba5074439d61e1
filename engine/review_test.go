package engine

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/hotpipe/hotpipe/txframe"
)

// These tests prove the answers to a review of the recovery and failure
// paths: each reproduces what the review found lost or wrong.

// TestFenceIsClearedOnceCut: the fence left by a failed fsync is cut once;
// the slots a reopened writer publishes carry no fence, so a DURABLE that
// lags after a power loss does not cut the commits acknowledged since.
func TestFenceIsClearedOnceCut(t *testing.T) {
	f := &faults{}
	db, dir := newDB(t, Options{wrapSegment: f.hook}, CreateOptions{})
	d := filepath.Join(dir, "db")
	commitN(t, db, 0, 10)
	f.syncErr = syscall.EIO
	if _, err := db.Commit(txOf("k10", "x")); err == nil {
		t.Fatal("commit succeeded despite the fault")
	}
	db.Close()
	db = reopen(t, dir, Options{})
	commitN(t, db, 100, 5)
	lagging := readFileT(t, filepath.Join(d, durableFile)) // DURABLE as a power loss may leave it
	commitN(t, db, 200, 20)
	db.Close()
	writeFileT(t, filepath.Join(d, durableFile), lagging)
	if lsn, _ := mustState(t, reopen(t, dir, Options{})); lsn != 35 {
		t.Fatalf("recovered to LSN %d: acknowledged LSNs %d..35 dropped", lsn, lsn+1)
	}
}

// TestFailedWatermarkFsyncTakesNothingBack: when the segment's fsync
// succeeded and only DURABLE's failed, the frames are durable and readers in
// other processes may already have read them: their commits succeed, later
// ones fail, and no LSN ever gets other contents.
func TestFailedWatermarkFsyncTakesNothingBack(t *testing.T) {
	failing := false
	opts := Options{syncMark: func(f *os.File) error {
		if failing {
			return syscall.EIO
		}
		return syncData(f)
	}}
	db, dir := newDB(t, opts, CreateOptions{})
	commitN(t, db, 0, 5)
	failing = true
	db.w.mu.Lock()
	db.w.mark.synced = time.Time{} // the once-a-second fsync is due
	db.w.mu.Unlock()
	if _, err := db.Commit(txOf("k5", "first")); err != nil {
		t.Fatalf("the commit whose frame reached the device = %v, want success", err)
	}
	if _, err := db.Commit(txOf("k6", "x")); !errors.Is(err, syscall.EIO) {
		t.Fatalf("the commit after the failed fsync = %v, want EIO", err)
	}
	seen := readAll(t, db, 6, 6)
	db.Close()
	re := reopen(t, dir, Options{})
	if got := readAll(t, re, 6, 6); !bytes.Equal(got, seen) {
		t.Fatal("LSN 6 has other contents after reopen")
	}
}

// TestHoleBeforeAnUnsyncedSealIsATornTail: the writer writes a segment's
// seal before the fsync that makes the segment durable, so a power loss can
// keep the seal's page and lose pages before it: with no next segment, a
// hole before a seal at the end of the last segment is a tail never
// acknowledged, cut, and the next commit starts over in that segment.
func TestHoleBeforeAnUnsyncedSealIsATornTail(t *testing.T) {
	db, dir := newDB(t, Options{SegmentSize: 4096}, CreateOptions{})
	d := filepath.Join(dir, "db")
	commitN(t, db, 0, 10)
	stale := readFileT(t, filepath.Join(d, durableFile))
	for i := 10; db.w.next.seg == 1; i++ {
		commitN(t, db, i, 1)
	}
	frames := splitFrames(t, readAll(t, db, 1, 0))
	db.Close()
	segs, _ := listSegments(d)
	rm(t, filepath.Join(d, segName(segs[1]))) // the power went before the seal's fsync
	writeFileT(t, filepath.Join(d, durableFile), stale)
	off := len(cat(frames[:19]...))
	flipAt(t, d, 1, off+30) // LSN 20's page was lost, the seal's kept
	re := reopen(t, dir, Options{SegmentSize: 4096})
	if lsn, _ := mustState(t, re); lsn != 19 || fileSize(t, segPath(dir, 1)) != int64(off) {
		t.Fatalf("recovered to LSN %d, segment of %d bytes; want LSN 19 and %d bytes", lsn, fileSize(t, segPath(dir, 1)), off)
	}
	commitN(t, re, 100, 1)
	if n, err := re.Check(); err != nil || n != 20 {
		t.Fatalf("Check = %d, %v", n, err)
	}
}

// TestRefusedOpenDeletesNothing: the last segment, named by the watermark,
// truncated to nothing is damage: Open refuses, and leaves the empty file.
func TestRefusedOpenDeletesNothing(t *testing.T) {
	db, dir := newDB(t, Options{SegmentSize: 4096}, CreateOptions{})
	commitN(t, db, 0, 100)
	db.Close()
	segs, _ := listSegments(filepath.Join(dir, "db"))
	last := segs[len(segs)-1]
	if err := os.Truncate(segPath(dir, last), 0); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, filepath.Join(dir, "db"))
	if _, err := Open(dir, "db", Options{SegmentSize: 4096}); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Open = %v, want ErrCorrupt", err)
	}
	if !equalSnap(before, snapshot(t, filepath.Join(dir, "db"))) {
		t.Fatal("Open changed files while refusing")
	}
}

// TestImpossibleWatermarksAreIgnored: a slot whose CRC is right but whose
// position no writer publishes (LSN 0 in a later segment, an LSN before its
// segment starts, an empty frame) is not a watermark; the other slot is.
func TestImpossibleWatermarksAreIgnored(t *testing.T) {
	for _, w := range []watermark{
		{seq: 9, lsn: 0, seg: 53},
		{seq: 9, lsn: 0, seg: 1, end: 10},
		{seq: 9, lsn: 4, seg: 7, frameOff: 0, end: 90},
		{seq: 9, lsn: 8, seg: 7, frameOff: 90, end: 90},
	} {
		var b [slotSize]byte
		w.encode(b[:])
		if _, ok := decodeSlot(b[:]); ok {
			t.Errorf("slot %+v taken for a watermark", w)
		}
	}
}

// TestCheckComparesTheWatermark: a watermark whose hash is not the last
// frame's is a finding of db check.
func TestCheckComparesTheWatermark(t *testing.T) {
	db, dir := newDB(t, Options{}, CreateOptions{})
	commitN(t, db, 0, 5)
	m := db.w.durable
	db.Close()
	m.seq, m.hash = 1000, txframe.Hash{1, 2, 3}
	var b [2 * slotSize]byte
	m.encode(b[:slotSize])
	writeFileT(t, filepath.Join(dir, "db", durableFile), b[:])
	ro, err := Open(dir, "db", Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ro.Check(); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Check = %v, want the watermark's hash found wrong", err)
	}
}

// TestMovedDirectoryStopsTheWriter: a writer whose directory was renamed
// and replaced by a copy creates and removes no file by name in the copy,
// where a second writer may be at work.
func TestMovedDirectoryStopsTheWriter(t *testing.T) {
	db, dir := newDB(t, Options{SegmentSize: 4096}, CreateOptions{})
	commitN(t, db, 0, 5)
	d := filepath.Join(dir, "db")
	mv(t, d, d+".old")
	if err := os.Mkdir(d, 0o700); err != nil {
		t.Fatal(err)
	}
	for i := 5; ; i++ { // until a new segment is due
		_, err := db.Commit(txOf("k", string(make([]byte, 500))))
		if errors.Is(err, errMoved) {
			break
		}
		if err != nil || i > 100 {
			t.Fatalf("commit %d = %v, want errMoved when a segment starts", i, err)
		}
	}
	if ents, _ := os.ReadDir(d); len(ents) != 0 {
		t.Fatalf("the writer touched the new directory: %v", ents)
	}
}

func readFileT(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func writeFileT(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}
