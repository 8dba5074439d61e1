package engine

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/hotpipe/hotpipe/txframe"
)

// TestFailedBatchNeverReappears: after a failed fsync the kernel may keep
// the batch's pages, marked clean, so the bytes read back whole although the
// device never stored them. None of the commits that got an error may be
// there after a reopen, whether the cut back to the watermark reached the
// disk or not (the fence in DURABLE covers the second case).
func TestFailedBatchNeverReappears(t *testing.T) {
	for _, tt := range []struct {
		name     string
		undoCut  bool // put the failed bytes back, as if the truncation was lost
		segSize  int64
		failures func(*faults)
	}{
		{name: "fsync fails", failures: func(f *faults) { f.syncErr = syscall.EIO }},
		{name: "fsync fails, cut lost", undoCut: true, failures: func(f *faults) { f.syncErr = syscall.EIO }},
		{name: "write half done", failures: func(f *faults) { f.writeErr, f.short = syscall.ENOSPC, true }},
		{name: "fsync fails while sealing a segment", segSize: 400, failures: func(f *faults) { f.syncErr = syscall.EIO }},
		{name: "fsync fails while sealing a segment, cut lost", segSize: 400, undoCut: true, failures: func(f *faults) { f.syncErr = syscall.EIO }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := &faults{kept: map[string][]byte{}}
			db, dir := newDB(t, Options{wrapSegment: f.hook, SegmentSize: tt.segSize}, CreateOptions{})
			commitN(t, db, 0, 10)
			tt.failures(f)
			cause := f.syncErr
			if f.writeErr != nil {
				cause = f.writeErr
			}
			failed := commitConcurrently(db, 10, 64)
			if len(failed) == 0 {
				t.Fatal("every commit succeeded despite the fault")
			}
			for _, err := range failed {
				if !errors.Is(err, errNotCommitted) || !errors.Is(err, cause) {
					t.Fatalf("a failed commit returned %v, want errNotCommitted wrapping %v", err, cause)
				}
			}
			db.Close()
			if tt.undoCut { // every byte the failed batch wrote reads back
				for name, b := range f.kept {
					if err := os.WriteFile(name, b, 0o600); err != nil {
						t.Fatal(err)
					}
				}
			}
			re := reopen(t, dir, Options{})
			lsn, _ := mustState(t, re)
			if n, err := re.Check(); err != nil || n != lsn {
				t.Fatalf("Check after reopen = %d, %v", n, err)
			}
			for i := 10; i < 74; i++ {
				if _, err := re.Get([]byte(fmt.Sprint("k", i))); !errors.Is(err, ErrKeyNotFound) && !succeeded(i, failed) {
					t.Fatalf("k%d, whose commit failed, is there after reopen (LSN %d)", i, lsn)
				}
			}
			if got, err := re.Commit(txOf("after", "x")); err != nil || got != lsn+1 {
				t.Fatalf("commit after reopen = %d, %v", got, err)
			}
		})
	}
}

// commitConcurrently commits k<first>..k<first+n-1> from n goroutines and
// returns the errors of the ones that failed, by index.
func commitConcurrently(db *DB, first, n int) map[int]error {
	var mu sync.Mutex
	failed := map[int]error{}
	var wg sync.WaitGroup
	for i := first; i < first+n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := db.Commit(txOf(fmt.Sprint("k", i), strings.Repeat("v", 50))); err != nil {
				mu.Lock()
				failed[i] = err
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return failed
}

func succeeded(i int, failed map[int]error) bool { _, bad := failed[i]; return !bad }

// TestFailedWriterCanLeaveReplicaMode: a restore that fails on a full disk
// switches replica mode back off on its way out; the writer's failure must
// not stop that, since nothing past the durable watermark is left.
func TestFailedWriterCanLeaveReplicaMode(t *testing.T) {
	_, frames := source(t, 20)
	parts := splitFrames(t, frames)
	f := &faults{}
	db, dir := newDB(t, Options{wrapSegment: f.hook}, CreateOptions{Replica: true})
	if _, err := db.Apply(cat(parts[:8]...)); err != nil {
		t.Fatal(err)
	}
	f.syncErr = syscall.ENOSPC
	if _, err := db.StageVerified(txframe.StoredHash(parts[7]), cat(parts[8:]...)); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Sync(); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Sync = %v, want ENOSPC", err)
	}
	if err := db.SetReplica(false); err != nil {
		t.Fatalf("SetReplica(false) after the failure: %v", err)
	}
	if _, err := db.Commit(txOf("a", "b")); !errors.Is(err, ErrClosed) {
		t.Fatalf("Commit on the failed writer = %v, want ErrClosed", err)
	}
	db.Close()
	re := reopen(t, dir, Options{})
	if m, _ := re.Meta(); m.Replica {
		t.Fatal("still a replica after reopen")
	}
	if lsn, _ := mustState(t, re); lsn != 8 {
		t.Fatalf("reopened at LSN %d, want the 8 durable frames", lsn)
	}
}

// TestStructuralDamageIsRefusedOnOpen: every finished segment is sealed, so
// a missing, short, misnamed or swapped segment is found when a writer opens
// the database, from the seals alone, and nothing is changed.
func TestStructuralDamageIsRefusedOnOpen(t *testing.T) {
	tests := []struct {
		name   string
		damage func(t *testing.T, d string, segs []uint64)
		named  func(segs []uint64) uint64 // the segment the error names
		// gap is the LSNs missing before the named segment; nil when the
		// named segment's seal does not match it (errUnsealed).
		gap func(segs []uint64) *txframe.GapError
	}{
		{"segment cut to half its size", func(t *testing.T, d string, s []uint64) {
			truncFile(t, d, s[1], -fileSize(t, filepath.Join(d, segName(s[1])))/2)
		}, nth(1), nil},
		{"middle segment missing", func(t *testing.T, d string, s []uint64) {
			rm(t, filepath.Join(d, segName(s[2])))
		}, nth(3), func(s []uint64) *txframe.GapError { return &txframe.GapError{From: s[2], To: s[3] - 1} }},
		{"first segment missing", func(t *testing.T, d string, s []uint64) {
			rm(t, filepath.Join(d, segName(s[0])))
		}, nth(1), func(s []uint64) *txframe.GapError { return &txframe.GapError{From: 1, To: s[1] - 1} }},
		{"segment renamed", func(t *testing.T, d string, s []uint64) {
			mv(t, filepath.Join(d, segName(s[1])), filepath.Join(d, segName(s[1]+1)))
		}, func(s []uint64) uint64 { return s[1] + 1 }, func(s []uint64) *txframe.GapError { return &txframe.GapError{From: s[1], To: s[1]} }},
		// The seal's CRC, and its first LSN against the name, are the only
		// checks that refuse the next two at the named segment; their
		// messages are open_structure.txtar's.
		{"seal damaged", func(t *testing.T, d string, s []uint64) { flipAt(t, d, s[0], -10) }, nth(0), nil},
		{"two segments swapped", func(t *testing.T, d string, s []uint64) {
			a, b := filepath.Join(d, segName(s[1])), filepath.Join(d, segName(s[2]))
			mv(t, a, a+".tmp")
			mv(t, b, a)
			mv(t, a+".tmp", b)
		}, nth(1), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db, dir := newDB(t, Options{SegmentSize: 300}, CreateOptions{})
			commitN(t, db, 0, 30)
			db.Close()
			d := filepath.Join(dir, "db")
			segs, _ := listSegments(d)
			if len(segs) < 4 {
				t.Fatalf("only %d segments", len(segs))
			}
			tt.damage(t, d, segs)
			before := snapshot(t, d)
			_, err := Open(dir, "db", Options{SegmentSize: 300})
			var ce *CorruptionError
			if !errors.As(err, &ce) {
				t.Fatalf("Open = %v, want a *CorruptionError", err)
			}
			named := tt.named(segs)
			if want := segName(named); !strings.HasSuffix(ce.Path, want) {
				t.Fatalf("the error names %s, want %s", ce.Path, want)
			}
			if tt.gap == nil {
				if !errors.Is(err, errUnsealed) || ce.Offset != 0 || ce.LSN != named {
					t.Fatalf("Open = %v, want errUnsealed at offset 0 (LSN %d)", err, named)
				}
			} else if want := tt.gap(segs); ce.Offset != 0 || ce.LSN != want.From {
				t.Fatalf("Open = %v, want offset 0 (LSN %d)", err, want.From)
			} else if ge, ok := errors.AsType[*txframe.GapError](err); !ok || *ge != *want {
				t.Fatalf("Open = %v, want a *txframe.GapError (ErrGap) for LSNs %d..%d", err, want.From, want.To)
			}
			if !equalSnap(before, snapshot(t, d)) {
				t.Fatal("Open changed files while refusing a damaged database")
			}
		})
	}
}

func nth(i int) func([]uint64) uint64 { return func(s []uint64) uint64 { return s[i] } }

func rm(t *testing.T, path string) {
	t.Helper()
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
}

func mv(t *testing.T, from, to string) {
	t.Helper()
	if err := os.Rename(from, to); err != nil {
		t.Fatal(err)
	}
}

// TestTornFrameHoldingFramesIsATornTail: an unacknowledged frame cut short
// whose value holds whole hotpipe frames (an application storing a backup)
// is a torn tail like any other. Recovery never reads structure out of what
// could be payload.
func TestTornFrameHoldingFramesIsATornTail(t *testing.T) {
	src, _ := source(t, 12)
	payload := readAll(t, src, 1, 12)
	for _, smash := range []bool{false, true} {
		t.Run(fmt.Sprint("watermark smashed: ", smash), func(t *testing.T) {
			db, dir := newDB(t, Options{}, CreateOptions{})
			commitN(t, db, 0, 10)
			_, h := mustState(t, db)
			db.Close()
			frame, _, err := txframe.Append(nil, h, 11, 1<<62, []txframe.Entry{{Op: txframe.OpPut, Key: []byte("backup"), Value: payload}})
			if err != nil {
				t.Fatal(err)
			}
			d := filepath.Join(dir, "db")
			appendFile(t, d, 1, frame[:len(frame)-36]) // torn just before h(11): the value, LSNs 1..12, is whole
			if smash {
				smashWatermark(t, d)
			}
			re := reopen(t, dir, Options{})
			if lsn, _ := mustState(t, re); lsn != 10 {
				t.Fatalf("recovered to LSN %d, want 10", lsn)
			}
		})
	}
}

// TestSealedTailStartsANewSegment: a writer that sealed a segment and died
// before creating the next leaves a sealed last segment; the next writer
// starts a new segment rather than writing over the seal.
func TestSealedTailStartsANewSegment(t *testing.T) {
	db, dir := newDB(t, Options{SegmentSize: 300}, CreateOptions{})
	commitN(t, db, 0, 12)
	db.Close()
	d := filepath.Join(dir, "db")
	segs, _ := listSegments(d)
	last := segs[len(segs)-1]
	rm(t, filepath.Join(d, segName(last)))                                          // as if the writer died before creating it:
	if err := os.WriteFile(filepath.Join(d, durableFile), nil, 0o600); err != nil { // DURABLE lagging too
		t.Fatal(err)
	}
	re := reopen(t, dir, Options{SegmentSize: 300})
	lsn, _ := mustState(t, re)
	if lsn != last-1 {
		t.Fatalf("recovered to LSN %d, want %d", lsn, last-1)
	}
	commitN(t, re, 100, 3)
	re.Close()
	re = reopen(t, dir, Options{SegmentSize: 300})
	if n, err := re.Check(); err != nil || n != lsn+3 {
		t.Fatalf("Check = %d, %v", n, err)
	}
	if got := mustGet(t, re, "k102"); got != "v102" {
		t.Fatalf("k102 = %q", got)
	}
}

// TestCheckReportsEveryDamagedFrame: damage inside a frame deep in the
// history does not stop a writer from opening (that would cost a read of
// every byte); CheckAll finds it, and every other damaged frame, with file,
// offset and LSN, and writes nothing.
func TestCheckReportsEveryDamagedFrame(t *testing.T) {
	db, dir := newDB(t, Options{SegmentSize: 4096}, CreateOptions{})
	commitN(t, db, 0, 1000)
	frames := splitFrames(t, readAll(t, db, 1, 1000))
	db.Close()
	d := filepath.Join(dir, "db")
	segs, _ := listSegments(d)
	damaged := []uint64{28, 500, 501, 990}
	for _, lsn := range damaged {
		seg := segs[segmentFor(segs, lsn)]
		off := 0
		for l := seg; l < lsn; l++ {
			off += len(frames[l-1])
		}
		flipAt(t, d, seg, off+30)
	}
	re := reopen(t, dir, Options{SegmentSize: 4096})
	re.Close()
	before := snapshot(t, d)
	ro, err := Open(dir, "db", Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	var got []uint64
	rep, err := ro.CheckAll(t.Context(), CheckOptions{Found: func(p *CorruptionError) {
		if !errors.Is(p, txframe.ErrChecksum) || p.Path == "" || p.Offset == 0 {
			t.Errorf("finding %v, want a checksum error naming file and offset", p)
		}
		got = append(got, p.LSN)
	}})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != fmt.Sprint(damaged) || rep.Problems != 4 || rep.Frames != 996 || rep.Last != 1000 {
		t.Fatalf("found %v, report %+v; want LSNs %v, 996 good frames of 1000", got, rep, damaged)
	}
	if !equalSnap(before, snapshot(t, d)) {
		t.Fatal("CheckAll changed the database")
	}
}

// TestStagingReportsItsOwnFailure: a staged write that fails returns the
// cause from that call, with the LSN it reached, not success (the writer's
// position goes back to the durable watermark, and the wait must not take
// that for done).
func TestStagingReportsItsOwnFailure(t *testing.T) {
	_, frames := source(t, 20)
	parts := splitFrames(t, frames)
	for _, durable := range []bool{false, true} {
		f := &faults{}
		db, _ := newDB(t, Options{wrapSegment: f.hook}, CreateOptions{Replica: true})
		if _, err := db.Apply(cat(parts[:8]...)); err != nil {
			t.Fatal(err)
		}
		f.writeErr = syscall.ENOSPC
		apply := db.StageVerified
		if durable {
			apply = db.ApplyVerified
		}
		got, err := apply(txframe.StoredHash(parts[7]), cat(parts[8:]...))
		if !errors.Is(err, syscall.ENOSPC) || got != 8 {
			t.Fatalf("durable %v: = %d, %v; want LSN 8 and ENOSPC", durable, got, err)
		}
	}
}
