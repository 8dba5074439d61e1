package engine

import (
	"errors"
	"os"
	"sync"
	"syscall"
	"testing"

	"github.com/hotpipe/hotpipe/txframe"
)

// faultySegment fails the operations armed on it, once each.
type faultySegment struct {
	segmentFile
	f *faults
}

// faults says what the next write or fsync of any segment does.
type faults struct {
	mu       sync.Mutex
	writeErr error // the next write fails with this
	short    bool  // ... after storing the first half of its buffer
	syncErr  error // the next fsync fails with this
	// kept, when not nil, records each segment's bytes after every write,
	// by file name: what the page cache held, whatever was cut later.
	kept map[string][]byte
}

func (s faultySegment) keep() {
	s.f.mu.Lock()
	defer s.f.mu.Unlock()
	if s.f.kept == nil {
		return
	}
	name := s.segmentFile.(osSegment).Name()
	if b, err := os.ReadFile(name); err == nil {
		s.f.kept[name] = b
	}
}

func (f *faults) hook(s segmentFile) segmentFile { return faultySegment{s, f} }

func (s faultySegment) WriteAt(b []byte, off int64) (int, error) {
	s.f.mu.Lock()
	err, short := s.f.writeErr, s.f.short
	s.f.writeErr, s.f.short = nil, false
	s.f.mu.Unlock()
	defer s.keep()
	if err == nil {
		return s.segmentFile.WriteAt(b, off)
	}
	if short {
		n, werr := s.segmentFile.WriteAt(b[:len(b)/2], off)
		return n, errors.Join(werr, err)
	}
	return 0, err
}

func (s faultySegment) StartWriteback(off, n int64) error {
	return s.segmentFile.StartWriteback(off, n)
}

func (s faultySegment) Datasync() error {
	s.f.mu.Lock()
	err := s.f.syncErr
	s.f.syncErr = nil
	s.f.mu.Unlock()
	if err != nil {
		return err
	}
	return s.segmentFile.Datasync()
}

var faultCases = []struct {
	name string
	arm  func(*faults)
	want error
}{
	{"write fails, disk full", func(f *faults) { f.writeErr = syscall.ENOSPC }, syscall.ENOSPC},
	{"fsync fails, I/O error", func(f *faults) { f.syncErr = syscall.EIO }, syscall.EIO},
	{"half the batch written, then disk full", func(f *faults) { f.writeErr, f.short = syscall.ENOSPC, true }, syscall.ENOSPC},
}

// TestCommitFaults: a failed write or fsync fails the commit with the
// cause and the LSN, fails every commit after it (the writer cannot know
// what reached the disk), and after a reopen every acknowledged commit is
// there and the chain verifies.
func TestCommitFaults(t *testing.T) {
	for _, tt := range faultCases {
		t.Run(tt.name, func(t *testing.T) {
			f := &faults{}
			db, dir := newDB(t, Options{wrapSegment: f.hook}, CreateOptions{})
			commitN(t, db, 0, 10)
			tt.arm(f)
			if _, err := db.Commit(txOf("k10", "v10")); !errors.Is(err, tt.want) {
				t.Fatalf("Commit = %v, want %v", err, tt.want)
			}
			if _, err := db.Commit(txOf("k11", "v11")); !errors.Is(err, ErrClosed) || !errors.Is(err, tt.want) {
				t.Fatalf("the commit after a failed one = %v, want ErrClosed and the same cause", err)
			}
			db.Close()
			re := reopen(t, dir, Options{})
			if n, err := re.Check(); err != nil || n < 10 {
				t.Fatalf("after reopen: Check = %d, %v; want the 10 acknowledged frames, verified", n, err)
			}
			if got := mustGet(t, re, "k9"); got != "v9" {
				t.Fatalf("k9 = %q after reopen", got)
			}
			if _, err := re.Commit(txOf("k12", "v12")); err != nil {
				t.Fatalf("commit after reopen: %v", err)
			}
		})
	}
}

// applyModes are the two ways a restore hands frames to the database.
var applyModes = map[string]func(db *DB, prev txframe.Hash, frames []byte) (uint64, error){
	"ApplyVerified": func(db *DB, prev txframe.Hash, frames []byte) (uint64, error) {
		return db.ApplyVerified(prev, frames)
	},
	"StageVerified then Sync": func(db *DB, prev txframe.Hash, frames []byte) (uint64, error) {
		if _, err := db.StageVerified(prev, frames); err != nil {
			return 0, err
		}
		return db.Sync()
	},
}

// TestApplyFaults: a restore that cannot write or fsync the frames it
// applies gets the cause; the database reopens at a verified prefix of what
// was applied, at least every LSN reported durable, and the restore resumes
// from there.
func TestApplyFaults(t *testing.T) {
	_, frames := source(t, 20)
	parts := splitFrames(t, frames)
	for mode, apply := range applyModes {
		for _, tt := range faultCases {
			t.Run(mode+"/"+tt.name, func(t *testing.T) {
				f := &faults{}
				db, dir := newDB(t, Options{wrapSegment: f.hook}, CreateOptions{Replica: true})
				durable, err := apply(db, txframe.Hash{}, cat(parts[:8]...))
				if err != nil || durable != 8 {
					t.Fatalf("%s = %d, %v", mode, durable, err)
				}
				tt.arm(f)
				reported, err := apply(db, txframe.StoredHash(parts[7]), cat(parts[8:]...))
				if !errors.Is(err, tt.want) {
					t.Fatalf("%s = %v, want %v", mode, err, tt.want)
				}
				db.Close()
				re := reopen(t, dir, Options{})
				n, err := re.Check()
				if err != nil || n < max(durable, reported) || n > 20 {
					t.Fatalf("after reopen: Check = %d, %v; want a verified prefix of at least LSN %d", n, err, max(durable, reported))
				}
				if _, err := re.Apply(cat(parts[n:]...)); err != nil {
					t.Fatalf("resuming the restore at LSN %d: %v", n+1, err)
				}
			})
		}
	}
}

func txOf(k, v string) []txframe.Entry { return []txframe.Entry{put(k, v)} }

// TestCloseReportsStagedFramesItCouldNotSync: Close makes staged frames
// durable; when the fsync fails it says so instead of returning nil.
func TestCloseReportsStagedFramesItCouldNotSync(t *testing.T) {
	_, frames := source(t, 5)
	f := &faults{}
	db, _ := newDB(t, Options{wrapSegment: f.hook}, CreateOptions{Replica: true})
	if _, err := db.StageVerified(txframe.Hash{}, frames); err != nil {
		t.Fatal(err)
	}
	f.syncErr = syscall.EIO
	if err := db.Close(); !errors.Is(err, syscall.EIO) {
		t.Fatalf("Close = %v, want the fsync's EIO", err)
	}
}
