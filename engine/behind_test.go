package engine

import (
	"errors"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/hotpipe/hotpipe/txframe"
)

// heldSegment holds the first write after it is armed until the test
// releases it, then fails it (or the start of its writeback) with err.
type heldSegment struct {
	segmentFile
	h *hold
}

type hold struct {
	mu        sync.Mutex
	armed     bool
	err       error // nil: the held write succeeds
	writeback bool  // fail the writeback started after the write, not the write
	entered   chan struct{}
	release   chan struct{}
	released  atomic.Bool // the held write has returned
}

func newHold(err error, writeback bool) *hold {
	return &hold{err: err, writeback: writeback, entered: make(chan struct{}), release: make(chan struct{})}
}

func (h *hold) hook(s segmentFile) segmentFile { return heldSegment{s, h} }

func (s heldSegment) WriteAt(b []byte, off int64) (int, error) {
	s.h.mu.Lock()
	armed := s.h.armed
	s.h.armed = false
	s.h.mu.Unlock()
	if !armed {
		return s.segmentFile.WriteAt(b, off)
	}
	close(s.h.entered)
	<-s.h.release
	defer s.h.released.Store(true)
	if s.h.err != nil && !s.h.writeback {
		return 0, s.h.err
	}
	return s.segmentFile.WriteAt(b, off)
}

func (s heldSegment) StartWriteback(off, n int64) error {
	if s.h.released.Load() && s.h.writeback {
		return s.h.err
	}
	return s.segmentFile.StartWriteback(off, n)
}

func (h *hold) arm() {
	h.mu.Lock()
	h.armed = true
	h.mu.Unlock()
}

// TestQueueVerifiedReproducesTheSource: frames queued batch by batch, across
// segment boundaries, are invisible until Sync and then the source's
// history, verified byte for byte after a reopen.
func TestQueueVerifiedReproducesTheSource(t *testing.T) {
	src, frames := source(t, 40)
	parts := splitFrames(t, frames)
	db, dir := newDB(t, Options{SegmentSize: 1000}, CreateOptions{Replica: true})
	prev := txframe.Hash{}
	for i := 0; i < 30; i += 3 {
		if last, err := db.QueueVerified(prev, parts[i:i+3]...); err != nil || last != uint64(i+3) {
			t.Fatalf("QueueVerified of LSN %d..%d = %d, %v", i+1, i+3, last, err)
		}
		prev = txframe.StoredHash(parts[i+2])
	}
	if lsn, _ := mustState(t, db); lsn >= 30 {
		t.Fatalf("queued frames visible before Sync: state at LSN %d", lsn)
	}
	if durable, err := db.Sync(); err != nil || durable != 30 {
		t.Fatalf("Sync = %d, %v; want 30", durable, err)
	}
	if _, err := db.QueueVerified(prev, cat(parts[30:]...)); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil { // makes the last 10 durable
		t.Fatal(err)
	}
	re := reopen(t, dir, Options{})
	sl, sh := mustState(t, src)
	if dl, dh := mustState(t, re); sl != dl || sh != dh {
		t.Fatalf("after Close: replica at %d %s, source at %d %s", dl, dh, sl, sh)
	}
	if n, err := re.Check(); err != nil || n != 40 {
		t.Fatalf("Check = %d, %v", n, err)
	}
}

// TestQueueVerifiedRefusesWhatApplyRefuses: the checks are StageVerified's:
// a chain that does not start at the database's hash, a database that is
// not a replica.
func TestQueueVerifiedRefusesWhatApplyRefuses(t *testing.T) {
	_, frames := source(t, 4)
	db := replica(t)
	if _, err := db.QueueVerified(txframe.Hash{1}, frames); !errors.Is(err, ErrHistory) {
		t.Fatalf("QueueVerified from another hash = %v, want ErrHistory", err)
	}
	plain, _ := newDB(t, Options{}, CreateOptions{})
	if _, err := plain.QueueVerified(txframe.Hash{}, frames); !errors.Is(err, ErrNotReplica) {
		t.Fatalf("QueueVerified on a database that is not a replica = %v, want ErrNotReplica", err)
	}
}

// TestQueueVerifiedFaults: a write or the start of its writeback that fails
// behind the caller is returned by the next QueueVerified, with the cause
// and the first LSN not written; the frames queued meanwhile are dropped,
// Sync fails too, and after a reopen the database holds exactly the
// durable frames and the restore resumes from there.
func TestQueueVerifiedFaults(t *testing.T) {
	_, frames := source(t, 20)
	parts := splitFrames(t, frames)
	for _, tt := range []struct {
		name      string
		writeback bool
	}{{"write fails", false}, {"writeback fails to start", true}} {
		t.Run(tt.name, func(t *testing.T) {
			h := newHold(syscall.EIO, tt.writeback)
			db, dir := newDB(t, Options{wrapSegment: h.hook}, CreateOptions{Replica: true})
			if _, err := db.ApplyVerified(txframe.Hash{}, cat(parts[:8]...)); err != nil {
				t.Fatal(err)
			}
			h.arm()
			if _, err := db.QueueVerified(txframe.StoredHash(parts[7]), cat(parts[8:12]...)); err != nil {
				t.Fatalf("QueueVerified = %v before its write ran", err)
			}
			<-h.entered // LSN 9..12 are being written
			if _, err := db.QueueVerified(txframe.StoredHash(parts[11]), cat(parts[12:16]...)); err != nil {
				t.Fatalf("QueueVerified behind a write in flight = %v", err)
			}
			close(h.release)
			_, err := db.QueueVerified(txframe.StoredHash(parts[15]), cat(parts[16:]...))
			if !errors.Is(err, syscall.EIO) || !errors.Is(err, errNotCommitted) {
				t.Fatalf("QueueVerified after the failed write = %v, want EIO, not committed", err)
			}
			if _, err := db.Sync(); !errors.Is(err, syscall.EIO) {
				t.Fatalf("Sync after the failed write = %v, want EIO", err)
			}
			if lsn, _ := mustState(t, db); lsn != 8 {
				t.Fatalf("state at LSN %d after the failure, want the 8 durable frames", lsn)
			}
			db.Close()
			re := reopen(t, dir, Options{})
			if n, err := re.Check(); err != nil || n != 8 {
				t.Fatalf("after reopen: Check = %d, %v; want the 8 durable frames", n, err)
			}
			if _, err := re.Apply(cat(parts[8:]...)); err != nil {
				t.Fatalf("resuming the restore at LSN 9: %v", err)
			}
		})
	}
}

// TestQueueVerifiedWaitsForTheWriteBefore: at most one batch waits behind
// the one being written, so memory stays two batches: a third
// QueueVerified returns only after the first batch's write has.
func TestQueueVerifiedWaitsForTheWriteBefore(t *testing.T) {
	_, frames := source(t, 12)
	parts := splitFrames(t, frames)
	h := newHold(nil, false)
	waits := make(chan struct{}, 1)
	wait := func() {
		select {
		case waits <- struct{}{}:
		default:
		}
	}
	db, _ := newDB(t, Options{wrapSegment: h.hook, behindWait: wait}, CreateOptions{Replica: true})
	h.arm()
	if _, err := db.QueueVerified(txframe.Hash{}, cat(parts[:4]...)); err != nil {
		t.Fatal(err)
	}
	<-h.entered
	if _, err := db.QueueVerified(txframe.StoredHash(parts[3]), cat(parts[4:8]...)); err != nil {
		t.Fatal(err)
	}
	third := make(chan error)
	go func() {
		_, err := db.QueueVerified(txframe.StoredHash(parts[7]), cat(parts[8:]...))
		third <- err
	}()
	select {
	case <-waits: // the third waits for the first batch's write: let it finish
		close(h.release)
	case err := <-third:
		close(h.release)
		t.Fatalf("the third QueueVerified returned (%v) while the first batch was being written", err)
	}
	if err := <-third; err != nil || !h.released.Load() {
		t.Fatalf("the third QueueVerified = %v, first write returned: %v", err, h.released.Load())
	}
	if durable, err := db.Sync(); err != nil || durable != 12 {
		t.Fatalf("Sync = %d, %v; want 12", durable, err)
	}
}

// TestCloseReportsAFailedWriteBehind: a write that failed behind the caller,
// which no call has returned yet, is returned by Close, not lost.
func TestCloseReportsAFailedWriteBehind(t *testing.T) {
	_, frames := source(t, 5)
	h := newHold(syscall.ENOSPC, false)
	db, _ := newDB(t, Options{wrapSegment: h.hook}, CreateOptions{Replica: true})
	h.arm()
	if _, err := db.QueueVerified(txframe.Hash{}, frames); err != nil {
		t.Fatal(err)
	}
	<-h.entered
	close(h.release)
	waitBehind(db) // the failure is recorded before Close looks
	if err := db.Close(); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Close = %v, want the write's ENOSPC", err)
	}
}

// A write-behind's failure is told once, by the call that meets it first,
// and Close after that does not tell it again (CI at 060288b: hot-restore
// printed the ENOSPC twice when Sync met it while the write was failing).
func TestAFailedWriteBehindIsToldOnce(t *testing.T) {
	for _, tc := range []struct {
		name   string
		during bool // the call waits for the failing write, instead of coming after it
		meet   func(db *DB) error
	}{
		{"Sync during the write", true, func(db *DB) error { _, err := db.Sync(); return err }},
		{"Sync after it", false, func(db *DB) error { _, err := db.Sync(); return err }},
		{"QueueVerified after it", false, func(db *DB) error { _, err := db.QueueVerified(txframe.Hash{}); return err }},
		{"Commit after it", false, func(db *DB) error { _, err := db.Commit(nil); return err }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, frames := source(t, 5)
			h := newHold(syscall.ENOSPC, false)
			waits := make(chan struct{}, 1)
			wait := func() {
				select {
				case waits <- struct{}{}:
				default:
				}
			}
			db, _ := newDB(t, Options{wrapSegment: h.hook, behindWait: wait, durableWait: wait}, CreateOptions{Replica: true})
			h.arm()
			if _, err := db.QueueVerified(txframe.Hash{}, frames); err != nil {
				t.Fatal(err)
			}
			<-h.entered
			met := make(chan error, 1)
			if tc.during {
				go func() { met <- tc.meet(db) }()
				<-waits // it waits for the write in flight
				close(h.release)
			} else {
				close(h.release)
				waitBehind(db)
				met <- tc.meet(db)
			}
			if err := <-met; !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("%s = %v, want the write's ENOSPC", tc.name, err)
			}
			if err := db.Close(); err != nil {
				t.Fatalf("Close after the failure was told = %v, want nil", err)
			}
		})
	}
}

// waitBehind returns once no write-behind runs: its goroutine broadcasts
// as it ends.
func waitBehind(db *DB) {
	w := db.w
	w.mu.Lock()
	defer w.mu.Unlock()
	for w.behind {
		w.cond.Wait()
	}
}
