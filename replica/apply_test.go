package replica

import (
	"errors"
	"sync/atomic"
	"testing"

	"github.com/hotpipe/hotpipe/txframe"
)

// failingTarget fails its first StageVerified once the test releases it,
// so blocks pile up in the queue meanwhile.
type failingTarget struct {
	entered chan struct{} // closed when the first StageVerified starts
	release chan struct{} // closed by the test to let it fail
	calls   atomic.Int32
	err     error
}

func (f *failingTarget) StageVerified(txframe.Hash, ...[]byte) (uint64, error) {
	if f.calls.Add(1) == 1 {
		close(f.entered)
		<-f.release
	}
	return 0, f.err
}

func (f *failingTarget) Sync() (uint64, error) { return 0, nil }

// TestApplierFailureNeverBlocksTheReader: once staging fails (a full disk,
// a frame the database refuses), adding more blocks returns the error at
// once instead of waiting on a queue nobody applies, and nothing more is
// staged.
func TestApplierFailureNeverBlocksTheReader(t *testing.T) {
	target := &failingTarget{entered: make(chan struct{}), release: make(chan struct{}), err: errors.New("no space left on device")}
	a := startApplier(target, nil)
	if err := a.add(txframe.Hash{}, make([]byte, 1024)); err != nil {
		t.Fatal(err)
	}
	<-target.entered
	// Fill the queue while the first batch is being staged, then fail it.
	for range queueDepth {
		if err := a.add(txframe.Hash{}, make([]byte, 1024)); err != nil {
			t.Fatal(err)
		}
	}
	close(target.release)
	var err error
	for i := 0; i < 100 && err == nil; i++ {
		err = a.add(txframe.Hash{}, make([]byte, 1024))
	}
	if err = errors.Join(err, a.close()); !errors.Is(err, target.err) {
		t.Fatalf("err = %v, want the staging error", err)
	}
	if n := target.calls.Load(); n != 1 {
		t.Fatalf("StageVerified called %d times; want 1, the one that failed", n)
	}
}
