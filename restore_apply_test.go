package main

import (
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hotpipe/hotpipe/txframe"
)

type failingTarget struct {
	calls atomic.Int32
	err   error
}

func (f *failingTarget) StageVerified(txframe.Hash, ...[]byte) (uint64, error) {
	f.calls.Add(1)
	time.Sleep(time.Millisecond)
	return 0, f.err
}

func (f *failingTarget) Sync() (uint64, error) { return 0, nil }

// TestApplierFailureNeverBlocksTheReader: once Apply fails (a full disk, a
// frame the database refuses), adding more blocks returns the error at once
// instead of waiting on a queue nobody applies.
func TestApplierFailureNeverBlocksTheReader(t *testing.T) {
	target := &failingTarget{err: errors.New("no space left on device")}
	a := startApplier(target)
	done := make(chan error, 1)
	go func() {
		var err error
		for i := 0; i < 100 && err == nil; i++ {
			err = a.add(txframe.Hash{}, make([]byte, 1024))
		}
		done <- errors.Join(err, a.close())
	}()
	select {
	case err := <-done:
		if !errors.Is(err, target.err) {
			t.Fatalf("err = %v, want the Apply error", err)
		}
		if n := target.calls.Load(); n != 1 {
			t.Fatalf("Apply called %d times after failing; want 1", n)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("adding blocks after a failed Apply blocked")
	}
}
