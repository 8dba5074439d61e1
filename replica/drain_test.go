package replica

import (
	"io"
	"os"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/hotpipe/hotpipe/txframe"
)

// countingTarget stages nothing and counts syncs, telling the test of each
// on synced.
type countingTarget struct {
	mu       sync.Mutex
	staged   int
	syncs    int
	synced   chan int // the staged bytes at each sync, if set
	stagedAt chan int // the staged bytes after each StageVerified, if set
}

func (c *countingTarget) StageVerified(_ txframe.Hash, blocks ...[]byte) (uint64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, b := range blocks {
		c.staged += len(b)
	}
	if c.stagedAt != nil {
		c.stagedAt <- c.staged
	}
	return 0, nil
}

func (c *countingTarget) Sync() (uint64, error) {
	c.mu.Lock()
	c.syncs++
	staged := c.staged
	c.mu.Unlock()
	if c.synced != nil {
		c.synced <- staged
	}
	return 0, nil
}

func (c *countingTarget) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.syncs
}

// slowApplier starts an applier whose timers would sync only after an
// hour: a sync it makes is one the drain asked for.
func slowApplier(t *testing.T, db applyTarget, d *Drain) *applier {
	t.Helper()
	a := newApplier(db, d)
	a.idle, a.latency = time.Hour, time.Hour
	go a.run()
	return a
}

func needLinux(t *testing.T) {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("the bytes a pipe has ready are asked for on Linux only")
	}
}

func pipe(t *testing.T) (*os.File, *os.File) {
	t.Helper()
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pr.Close(); pw.Close() })
	return pr, pw
}

// TestDrainSyncsWhenTheInputDrains: a block staged while its pipe has
// nothing more is synced as soon as the reader waits on the empty pipe,
// not after the timers (an hour here).
func TestDrainSyncsWhenTheInputDrains(t *testing.T) {
	needLinux(t)
	pr, pw := pipe(t)
	d := NewDrain()
	r := d.Reader(pr, pr)
	if _, ok := r.(*drainReader); !ok {
		t.Fatalf("a pipe read unwatched (%T)", r)
	}
	target := &countingTarget{synced: make(chan int, 4)}
	a := slowApplier(t, target, d)
	if err := a.add(txframe.Hash{}, make([]byte, 100)); err != nil {
		t.Fatal(err)
	}
	read := make(chan error, 1)
	go func() { // the stream reader, reading on after the block
		_, err := r.Read(make([]byte, 10))
		read <- err
	}()
	if staged := <-target.synced; staged != 100 {
		t.Fatalf("synced with %d bytes staged, want 100", staged)
	}
	if _, err := pw.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	if err := <-read; err != nil {
		t.Fatal(err)
	}
	if d.drained() {
		t.Fatal("still drained after the read returned")
	}
	if err := a.close(); err != nil {
		t.Fatal(err)
	}
	if n := target.count(); n != 1 {
		t.Fatalf("%d syncs, want 1 (nothing staged since)", n)
	}
}

// TestDrainNotWhileBytesAreReady: reads that find bytes ready in the pipe
// (bulk input) never count as drained, so the applier syncs by size and
// at the end only.
func TestDrainNotWhileBytesAreReady(t *testing.T) {
	needLinux(t)
	pr, pw := pipe(t)
	d := NewDrain()
	r := d.Reader(pr, pr)
	target := &countingTarget{}
	a := slowApplier(t, target, d)
	buf := make([]byte, 64)
	for range 50 {
		if _, err := pw.Write(make([]byte, 64)); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(r, buf); err != nil {
			t.Fatal(err)
		}
		if err := a.add(txframe.Hash{}, buf); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.close(); err != nil {
		t.Fatal(err)
	}
	if n, reads := target.count(), d.reads.Load(); n != 1 || reads != 0 {
		t.Fatalf("%d syncs, %d drained reads; want the one at the end and none", n, reads)
	}
}

// TestDrainNotForBulk: a drain with syncTrickle bytes or more staged (a
// bulk restore whose pipe ran dry a moment) syncs nothing: bulk input is
// synced by size, at the pause timer and at the end, as before.
func TestDrainNotForBulk(t *testing.T) {
	target := &countingTarget{stagedAt: make(chan int)}
	d := NewDrain()
	d.blocked.Store(true) // the reader waits on an empty input throughout
	d.wake <- struct{}{}
	a := slowApplier(t, target, d)
	for i, size := range []int{syncTrickle, 10, 10} {
		if err := a.add(txframe.Hash{}, make([]byte, size)); err != nil {
			t.Fatal(err)
		}
		<-target.stagedAt // each block staged alone: the next one waited for it
		if i > 0 {
			select {
			case d.wake <- struct{}{}:
			default:
			}
		}
	}
	// The applier went through next after the second block before it took
	// the third: a sync on the drain would have come there.
	if n := target.count(); n != 0 {
		t.Fatalf("%d syncs while bulk input drained, want 0", n)
	}
	d.blocked.Store(false)
	if err := a.close(); err != nil {
		t.Fatal(err)
	}
	if n := target.count(); n != 1 {
		t.Fatalf("%d syncs, want the one at the end", n)
	}
}

// TestDrainQueuedBlocksFirst: a drain while blocks are still queued syncs
// only once they are staged: a sync covers everything read.
func TestDrainQueuedBlocksFirst(t *testing.T) {
	target := &countingTarget{synced: make(chan int, 4)}
	d := NewDrain()
	a := newApplier(target, d)
	a.idle, a.latency = time.Hour, time.Hour
	for range 3 {
		a.queue <- block{frames: make([]byte, 10)}
	}
	d.blocked.Store(true) // the reader waits on an empty input
	d.wake <- struct{}{}
	go a.run()
	if staged := <-target.synced; staged != 30 {
		t.Fatalf("synced with %d bytes staged, want all 30", staged)
	}
	d.blocked.Store(false)
	if err := a.close(); err != nil {
		t.Fatal(err)
	}
}

// TestDrainRegularFileUnwatched: a regular file never drains before its
// end, so it is read as it is, without a question per read.
func TestDrainRegularFileUnwatched(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "in")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if r := NewDrain().Reader(f, f); r != io.Reader(f) {
		t.Fatalf("a regular file read through %T", r)
	}
}

// TestNoDrainKeepsTheTimers: without a Drain, a trickle is still synced
// by syncLatency (the fallback for inputs whose drains are not known).
func TestNoDrainKeepsTheTimers(t *testing.T) {
	target := &countingTarget{synced: make(chan int, 4)}
	a := newApplier(target, nil)
	a.idle, a.latency = time.Hour, time.Millisecond
	go a.run()
	if err := a.add(txframe.Hash{}, make([]byte, 10)); err != nil {
		t.Fatal(err)
	}
	if staged := <-target.synced; staged != 10 {
		t.Fatalf("synced with %d bytes staged, want 10", staged)
	}
	if err := a.close(); err != nil {
		t.Fatal(err)
	}
}
