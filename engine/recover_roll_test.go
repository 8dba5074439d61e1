package engine

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hotpipe/hotpipe/txframe"
)

// crashWhileStartingASegment leaves what a writer killed after creating
// segment 7 and writing part of frame 7 into it, before fdatasync, leaves:
// segment 1 holds LSNs 1..6, segment 7 a torn frame, DURABLE names LSN 6.
func crashWhileStartingASegment(t *testing.T) string {
	t.Helper()
	db, dir := newDB(t, Options{SegmentSize: 1000}, CreateOptions{})
	for i := 1; i <= 6; i++ {
		if _, err := db.Commit([]txframe.Entry{put(fmt.Sprint("k", i), strings.Repeat("s", 50))}); err != nil {
			t.Fatal(err)
		}
	}
	durable, err := os.ReadFile(filepath.Join(dir, "db", durableFile))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Commit([]txframe.Entry{put("big", strings.Repeat("b", 400))}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if err := os.WriteFile(filepath.Join(dir, "db", durableFile), durable, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(segPath(dir, 7), 30); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestCrashWhileStartingASegment proves the torn new segment is removed, not
// left behind empty under a name a later frame would contradict, whether the
// next commits fit the old segment or need a new one.
func TestCrashWhileStartingASegment(t *testing.T) {
	for _, value := range []int{1, 400} {
		t.Run(fmt.Sprintf("next commits of %d bytes", value), func(t *testing.T) {
			dir := crashWhileStartingASegment(t)
			db := reopen(t, dir, Options{SegmentSize: 1000})
			if _, err := os.Stat(segPath(dir, 7)); !os.IsNotExist(err) {
				t.Fatalf("torn segment 7 still there after recovery (%v)", err)
			}
			for i := 0; i < 4; i++ {
				if _, err := db.Commit([]txframe.Entry{put(fmt.Sprint("after", i), strings.Repeat("a", value))}); err != nil {
					t.Fatal(err)
				}
			}
			db.Close()
			db = reopen(t, dir, Options{SegmentSize: 1000})
			if n, err := db.Check(); err != nil || n != 10 {
				t.Fatalf("Check = %d, %v; want 10 frames", n, err)
			}
			if got := mustGet(t, db, "after3"); got != strings.Repeat("a", value) {
				t.Fatalf("after3 = %q", got)
			}
		})
	}
}

// TestStaleWatermarkKeepsTheFramesBeforeAHole: after a power loss DURABLE
// may lag behind what was acknowledged. Whole frames past it that continue
// the chain are kept; the first damaged one, and everything after it, is
// dropped, since no acknowledged frame can follow a hole; the frame the
// watermark names must be intact.
func TestStaleWatermarkKeepsTheFramesBeforeAHole(t *testing.T) {
	db, dir := newDB(t, Options{}, CreateOptions{})
	commitN(t, db, 0, 20)
	stale, err := os.ReadFile(filepath.Join(dir, "db", durableFile))
	if err != nil {
		t.Fatal(err)
	}
	commitN(t, db, 20, 80)
	frames := splitFrames(t, readAll(t, db, 1, 50))
	db.Close()
	if err := os.WriteFile(filepath.Join(dir, "db", durableFile), stale, 0o600); err != nil {
		t.Fatal(err)
	}
	off := 0
	for _, f := range frames[:49] {
		off += len(f)
	}
	flipAt(t, filepath.Join(dir, "db"), 1, off+20) // inside LSN 50
	var notices []string
	db = reopen(t, dir, Options{Notify: func(m string) { notices = append(notices, m) }})
	if lsn, _ := mustState(t, db); lsn != 49 {
		t.Fatalf("recovered to LSN %d, want 49", lsn)
	}
	if want := fmt.Sprintf("at %s offset %d after LSN 49", segName(1), off); !strings.Contains(strings.Join(notices, "\n"), want) {
		t.Fatalf("notices %q, want one saying %q", notices, want)
	}
	db.Close()

	flipAt(t, filepath.Join(dir, "db"), 1, off-len(frames[48])+20) // inside LSN 49, the watermark's frame now
	before := snapshot(t, filepath.Join(dir, "db"))
	_, err = Open(dir, "db", Options{})
	var ce *CorruptionError
	if !errors.As(err, &ce) || ce.LSN != 49 || ce.Offset != int64(off-len(frames[48])) {
		t.Fatalf("Open = %v, want corruption at LSN 49", err)
	}
	if !equalSnap(before, snapshot(t, filepath.Join(dir, "db"))) {
		t.Fatal("Open changed files while refusing damage to an acknowledged frame")
	}
}

func TestMissingWatermarkIsRebuilt(t *testing.T) {
	db, dir := newDB(t, Options{}, CreateOptions{})
	commitN(t, db, 0, 5)
	_, want := mustState(t, db)
	db.Close()
	if err := os.Remove(filepath.Join(dir, "db", durableFile)); err != nil {
		t.Fatal(err)
	}
	var notices []string
	db = reopen(t, dir, Options{Notify: func(m string) { notices = append(notices, m) }})
	if lsn, h := mustState(t, db); lsn != 5 || h != want {
		t.Fatalf("rebuilt at %d %s, want 5 %s", lsn, h, want)
	}
	if len(notices) == 0 || !strings.Contains(notices[0], "scanning the whole log") {
		t.Fatalf("notices %q", notices)
	}
}

func TestFrameReaderAfterClose(t *testing.T) {
	db, _ := newDB(t, Options{}, CreateOptions{})
	commitN(t, db, 0, 3)
	r, err := db.Frames(1, 0)
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
	if _, err := r.Next(); !errors.Is(err, ErrClosed) {
		t.Fatalf("Next after Close = %v, want ErrClosed", err)
	}
}
