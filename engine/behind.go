package engine

import (
	"fmt"

	"github.com/hotpipe/hotpipe/txframe"
)

// QueueVerified is StageVerified that does not wait for the write: the
// frames are checked as StageVerified checks them and queued, and the
// database writes them to their segment behind the caller (write-behind),
// asking the kernel to start writing them back as StageVerified does. A
// restore thus checks its next batch while the last one is written,
// instead of one after the other. It returns the last LSN queued.
//
// At most one batch waits behind the one being written: a call that finds
// frames still queued waits until they are being written, so memory stays
// two batches. A failed write is returned by the next QueueVerified or
// Sync (and Close), with the LSN it reached and the cause; the frames
// queued since the last Sync are then not in the database, as after a
// failed StageVerified. Sync waits for the queued frames to be written
// and makes them durable.
func (db *DB) QueueVerified(prev txframe.Hash, blocks ...[]byte) (uint64, error) {
	if db.w == nil {
		return 0, ErrReadOnly
	}
	w := db.w
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.behindDone(); err != nil {
		return w.written.lsn, err
	}
	bad, err := w.queue(&prev, blocks)
	if err != nil {
		return w.written.lsn, err
	}
	w.startBehind()
	return w.next.lsn, bad
}

// behindDone waits until the frames queued by the last QueueVerified are
// being written or written, and returns the writer's failure, if any,
// naming the first LSN that was not written. Called with mu held.
func (w *writer) behindDone() error {
	for len(w.pending) > 0 && w.err == nil {
		if !w.syncing {
			w.flush(false) // no write-behind in flight (Sync led the last one): write them here
			continue
		}
		if w.db.opts.behindWait != nil {
			w.db.opts.behindWait()
		}
		w.cond.Wait()
	}
	if err := w.usable(); err != nil {
		if w.err != nil && !w.closed {
			err = fmt.Errorf("%s: LSN %d and after were %w: %w", w.db.name, w.written.lsn+1, errNotCommitted, w.err)
		}
		return w.told(err)
	}
	return nil
}

// startBehind starts writing what is pending in a goroutine of its own,
// unless a write is in flight: its leader writes what was queued
// meanwhile when it is done, or the next caller does. Called with mu held.
func (w *writer) startBehind() {
	if len(w.pending) == 0 || w.syncing || w.behind {
		return
	}
	w.behind = true
	w.syncing = true // claimed now, so that no one else leads before the goroutine runs
	go w.writeBehind()
}

// writeBehind writes what is pending, and what is queued while it
// writes, then ends. A failure is recorded in w.err by flush.
func (w *writer) writeBehind() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.syncing = false // flush claims it again
	for len(w.pending) > 0 && w.err == nil && !w.closed {
		w.flush(false)
		w.unseen = w.err != nil // until a call returns it (told) or Close does
	}
	w.behind = false
	w.cond.Broadcast()
}
