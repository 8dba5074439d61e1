package main

import (
	"sync"
	"sync/atomic"

	"github.com/hotpipe/hotpipe/txframe"
)

// applyBatch caps how many bytes of frames one Apply (one fsync) takes. With
// the block that crosses it, a batch stays within the buffer the engine keeps
// for reuse.
const applyBatch = 7 << 20

// queueDepth bounds the blocks read ahead of the database, so memory stays
// a few blocks (each at most a reader buffer or one frame) whatever the
// stream's size.
const queueDepth = 4

// applier applies blocks of frames in a goroutine of its own. Each Apply
// takes everything queued since the last one finished, so batches grow
// while an fsync is in flight and stay small when frames trickle in (a
// --follow stream): large batches in bulk, low latency when following.
type applier struct {
	db     applyTarget
	queue  chan block
	done   chan struct{}
	failed atomic.Bool
	err    error
	pool   sync.Pool
}

// block is a run of frames whose chained hashes the stream reader verified
// from prev.
type block struct {
	prev   txframe.Hash
	frames []byte
}

// applyTarget is what the applier writes to: the database (ApplyVerified
// commits blocks of frames, verified from prev, with one fsync).
type applyTarget interface {
	ApplyVerified(prev txframe.Hash, blocks ...[]byte) (uint64, error)
}

func startApplier(db applyTarget) *applier {
	a := &applier{db: db, queue: make(chan block, queueDepth), done: make(chan struct{})}
	go a.run()
	return a
}

// add queues a copy of frames, verified from prev; it returns the first
// Apply error, if any. After an error the applier drains the queue without
// applying, so add never blocks on it.
func (a *applier) add(prev txframe.Hash, frames []byte) error {
	if a.failed.Load() {
		return a.err // written before failed was set
	}
	b, _ := a.pool.Get().([]byte)
	a.queue <- block{prev: prev, frames: append(b[:0], frames...)}
	return nil
}

// close waits for the queued blocks to be applied and returns the first
// error.
func (a *applier) close() error {
	close(a.queue)
	<-a.done
	return a.err
}

func (a *applier) run() {
	defer close(a.done)
	var batch [][]byte
	for b := range a.queue {
		batch = a.gather(append(batch[:0], b.frames))
		if a.err == nil {
			if _, err := a.db.ApplyVerified(b.prev, batch...); err != nil {
				a.err = err
				a.failed.Store(true)
			}
		}
		for _, b := range batch {
			a.pool.Put(b[:0]) //nolint:staticcheck // slices are what the pool holds
		}
	}
}

// gather adds the blocks already queued, up to applyBatch bytes. The blocks
// go to the database as they are: it copies them once, into its own buffer.
func (a *applier) gather(batch [][]byte) [][]byte {
	size := len(batch[0])
	for size < applyBatch {
		select {
		case b, ok := <-a.queue:
			if !ok {
				return batch
			}
			batch, size = append(batch, b.frames), size+len(b.frames)
		default:
			return batch
		}
	}
	return batch
}
