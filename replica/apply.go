package replica

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/hotpipe/hotpipe/txframe"
)

// syncEvery is how many staged bytes the applier lets the kernel write back
// before it waits for them with an fsync. It also syncs whenever it has
// caught up with its input, so a --follow standby is durable promptly.
// Each fsync stops the applier while the device flushes its cache (and,
// on ext4 without a journal, writes the inode synchronously); the kernel
// writes the bytes back meanwhile anyway (StartWriteback), so a bulk
// restore syncs rarely: 256 MiB restored 1.2× faster than 32 MiB, side by
// side, and a killed restore redoes at most this much. Page cache, not
// the process's memory.
const syncEvery = 256 << 20

// syncIdle is how long the applier waits for more input before it syncs
// what it has staged: longer than a reader takes to refill a block in
// bulk, short beside a standby's tolerance.
const syncIdle = 5 * time.Millisecond

// syncTrickle and syncLatency keep a standby's lag short under a steady
// load: frames that trickle in (fewer than syncTrickle bytes staged) are
// synced at most syncLatency after the first of them was staged, even
// when the input never pauses for syncIdle. Bulk input stages more than
// syncTrickle well within syncLatency, so it syncs by size as before.
const (
	syncTrickle = 256 << 10
	syncLatency = 2 * time.Millisecond
)

// applyBatch caps how many bytes of frames one batch stages. With
// the block that crosses it, a batch stays within the buffer the engine keeps
// for reuse.
const applyBatch = 7 << 20

// queueDepth bounds the blocks read ahead of the database, so memory stays
// a few blocks (each at most a reader buffer or one frame) whatever the
// stream's size.
const queueDepth = 4

// applier applies blocks of frames in a goroutine of its own. Each batch
// takes everything queued since the last one was staged, so batches grow
// while the database is busy and stay small when frames trickle in (a
// --follow stream). Staged frames are synced every syncEvery bytes,
// whenever the input pauses for syncIdle, and, while fewer than
// syncTrickle bytes are staged, as soon as the input drains (see Drain)
// with nothing left queued.
type applier struct {
	db     applyTarget
	drain  *Drain // nil: the input's drains are not known
	queue  chan block
	done   chan struct{}
	failed atomic.Bool
	err    error
	pool   sync.Pool

	idle, latency time.Duration // syncIdle and syncLatency; tests lengthen them
}

// block is a run of frames whose chained hashes the stream reader verified
// from prev.
type block struct {
	prev   txframe.Hash
	frames []byte
}

// applyTarget is what the applier writes to: the database, which stages
// blocks of frames verified from prev and makes them durable on Sync.
type applyTarget interface {
	StageVerified(prev txframe.Hash, blocks ...[]byte) (uint64, error)
	Sync() (uint64, error)
}

// queueTarget is an applyTarget that can also queue blocks and write them
// behind the caller (engine.DB.QueueVerified), so that the applier checks
// the next batch while the last one is written.
type queueTarget interface {
	QueueVerified(prev txframe.Hash, blocks ...[]byte) (uint64, error)
}

func startApplier(db applyTarget, drain *Drain) *applier {
	a := newApplier(db, drain)
	go a.run()
	return a
}

func newApplier(db applyTarget, drain *Drain) *applier {
	return &applier{db: db, drain: drain, queue: make(chan block, queueDepth), done: make(chan struct{}),
		idle: syncIdle, latency: syncLatency}
}

// add queues a copy of frames, verified from prev; it returns the first
// staging or sync error, if any. After an error the applier drains the
// queue without applying, so add never blocks on it.
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
	unsynced := 0
	var since time.Time // when the first unsynced frame was staged
	for {
		b, ok := a.next(unsynced, since)
		if !ok {
			break
		}
		if b.frames == nil { // caught up, or trickling for syncLatency: what is staged becomes durable
			a.check(a.db.Sync())
			unsynced = 0
			continue
		}
		batch = a.gather(append(batch[:0], b.frames))
		if a.err == nil {
			a.check(a.stage(b.prev, batch))
			if unsynced == 0 {
				since = time.Now()
			}
			for _, f := range batch {
				unsynced += len(f)
			}
			if unsynced >= syncEvery || unsynced < syncTrickle && time.Since(since) >= a.latency {
				a.check(a.db.Sync())
				unsynced = 0
			}
		}
		for _, f := range batch {
			a.pool.Put(f[:0]) //nolint:staticcheck // slices are what the pool holds
		}
	}
	if unsynced > 0 {
		a.check(a.db.Sync())
	}
}

// next returns the next queued block; when frames are staged and none
// arrives within syncIdle (or, while they are fewer than syncTrickle
// bytes, before syncLatency after the first was staged, or as soon as the
// input drains with nothing queued), it returns an empty block first so
// that the caller syncs them. Bulk input, which stages more than
// syncTrickle, syncs by size as before, even when its pipe runs dry now
// and then.
func (a *applier) next(unsynced int, since time.Time) (block, bool) {
	if unsynced == 0 {
		b, ok := <-a.queue
		return b, ok
	}
	trickle := unsynced < syncTrickle
	if trickle && a.caughtUp() {
		return block{}, true
	}
	wait := a.idle
	var drained <-chan struct{}
	if trickle {
		wait = min(wait, max(a.latency-time.Since(since), 0))
		drained = a.drain.woken()
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	for {
		select {
		case b, ok := <-a.queue:
			return b, ok
		case <-t.C:
			return block{}, true
		case <-drained:
			if a.caughtUp() {
				return block{}, true
			}
		}
	}
}

// caughtUp reports whether everything read is staged: nothing queued, and
// the input's reader waits for bytes that are not there yet. A read that
// drained before the last blocks were queued counts too: the reader queues
// a block before it reads on.
func (a *applier) caughtUp() bool { return len(a.queue) == 0 && a.drain.drained() }

// stage hands a batch to the database: queued to be written behind, where
// the database can, else written before it returns.
func (a *applier) stage(prev txframe.Hash, batch [][]byte) (uint64, error) {
	if q, ok := a.db.(queueTarget); ok {
		return q.QueueVerified(prev, batch...)
	}
	return a.db.StageVerified(prev, batch...)
}

// check records the first error.
func (a *applier) check(_ uint64, err error) {
	if err != nil && a.err == nil {
		a.err = err
		a.failed.Store(true)
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
