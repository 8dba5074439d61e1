package engine

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"github.com/hotpipe/hotpipe/txframe"
)

// writer appends frames for the process holding the lock. Committers encode
// their frame into pending under mu; the first committer to find no fsync in
// flight becomes the leader, writes everything pending, fsyncs once, publishes
// the watermark and wakes the others (group commit).
type writer struct {
	db *DB

	mu      sync.Mutex
	cond    sync.Cond
	meta    Meta
	next    watermark // position after the last frame assigned an LSN
	written watermark // position after the last frame written to its segment
	durable watermark // position after the last durable frame
	pending []byte    // encoded frames not yet written
	cuts    []cut     // new segments starting inside pending
	spare   []byte
	syncing bool  // a leader is writing and fsyncing
	behind  bool  // a write-behind goroutine runs (see QueueVerified)
	unseen  bool  // err came from a write-behind and no call has returned it yet
	err     error // sticky: a failed write or fsync ends all writing
	cleared bool  // after err: nothing past durable is left on disk (see abandon)
	closed  bool
	sealed  bool // the segment at next is sealed: the next frame starts a new one

	seg  segmentFile // current segment, written only by the leader
	mark *watermarkFile
}

// cut marks where in pending a new segment file, named first, begins. at is
// the last frame of the segment it ends, which is sealed there unless it
// already was.
type cut struct {
	off    int
	first  uint64
	at     watermark
	sealed bool
}

// errNotCommitted marks the error of a commit refused or failed because a
// write or fsync failed: the transaction is not in the database, and
// recovery cuts back whatever of it reached the segment. Its text is part of
// the sentence that says so.
var errNotCommitted = errors.New("not committed")

// spareLimit caps the buffer kept for reuse after a large batch.
const spareLimit = 8 << 20

// Commit appends one transaction and returns its LSN once it is durable.
func (db *DB) Commit(entries []txframe.Entry) (uint64, error) {
	if db.w == nil {
		return 0, ErrReadOnly
	}
	w := db.w
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.usable(); err != nil {
		return 0, w.told(fmt.Errorf("%w (the transaction was %w)", err, errNotCommitted))
	}
	if w.meta.Replica {
		return 0, fmt.Errorf("%s: %w", db.name, ErrReplica)
	}
	lsn := w.next.lsn + 1
	t := max(db.opts.Now().UnixNano(), w.next.time)
	start := len(w.pending)
	pending, h, err := txframe.Append(w.pending, w.next.hash, lsn, t, entries)
	if err != nil {
		return 0, err
	}
	size := len(pending) - start
	w.pending = pending
	w.reserve(start, lsn, size)
	w.next.hash = h
	w.advance(lsn, t, size)
	return lsn, w.waitDurable(lsn)
}

// told returns err, which carries the writer's failure to a caller, and
// marks the failure as told, so that Close does not report it a second
// time. Every call that returns the failure passes it through here.
// Called with mu held.
func (w *writer) told(err error) error {
	w.unseen = false
	return err
}

func (w *writer) usable() error {
	switch {
	case w.closed:
		return ErrClosed
	case w.err != nil:
		return fmt.Errorf("%s: %w for writing: an earlier write or fsync failed (reopen to recover): %w", w.db.name, ErrClosed, w.err)
	}
	return nil
}

// reserve starts a new segment at the frame for lsn, of size bytes at off in
// pending, if it and the seal would overflow the current one, or the
// current one is sealed already. Called before next moves to the frame.
func (w *writer) reserve(off int, lsn uint64, size int) {
	if w.next.end > 0 && (w.sealed || w.next.end+int64(size)+sealSize > w.db.opts.SegmentSize) {
		w.cuts = append(w.cuts, cut{off: off, first: lsn, at: w.next, sealed: w.sealed})
		w.next.seg, w.next.end, w.sealed = lsn, 0, false
	}
}

func (w *writer) advance(lsn uint64, t int64, size int) {
	w.next.lsn, w.next.time = lsn, t
	w.next.frameOff = w.next.end
	w.next.end += int64(size)
}

// waitDurable returns once lsn is durable, leading a flush when none is in
// flight. Called with mu held.
func (w *writer) waitDurable(lsn uint64) error {
	for w.durable.lsn < lsn {
		if w.err != nil {
			return w.told(fmt.Errorf("%s: LSN %d was %w: %w", w.db.name, lsn, errNotCommitted, w.err))
		}
		if w.syncing {
			if w.db.opts.durableWait != nil {
				w.db.opts.durableWait()
			}
			w.cond.Wait()
			continue
		}
		w.flush(true)
	}
	return nil
}

// waitWritten returns once lsn is written to its segment, not necessarily
// durable. Called with mu held.
func (w *writer) waitWritten(lsn uint64) error {
	for w.written.lsn < lsn {
		if w.err != nil {
			return w.told(fmt.Errorf("%s: LSN %d was not written: %w", w.db.name, w.written.lsn+1, w.err))
		}
		if w.syncing {
			w.cond.Wait()
			continue
		}
		w.flush(false)
	}
	return nil
}

// flush writes everything pending, and with sync fsyncs it and whatever was
// written before it, with mu released during I/O.
func (w *writer) flush(sync bool) {
	buf, cuts, target := w.pending, w.cuts, w.next
	w.pending, w.cuts = w.spare[:0], nil
	w.syncing = true
	w.mu.Unlock()
	synced, err := w.writeOut(buf, cuts, target, sync)
	var cleanup error
	if err != nil {
		if synced { // only publishing failed: the frames are durable, and readers may have seen them
			w.mu.Lock()
			w.written, w.durable = target, target
			w.mu.Unlock()
		}
		cleanup = w.abandon()
	}
	w.mu.Lock()
	w.syncing = false
	if cap(buf) <= spareLimit {
		w.spare = buf[:0]
	} else {
		w.spare = nil
	}
	switch {
	case err != nil:
		w.fail(err, cleanup)
	case sync:
		w.written, w.durable = target, target
	default:
		w.written = target
	}
	w.cond.Broadcast()
	w.db.wake.broadcast() // a follower of this handle looks at the watermark again
}

// fail ends all writing after a failed write or fsync. When abandon
// cleared everything past the durable watermark, the writer's position goes
// back to it and the frames queued since are dropped: their commits fail,
// and the metadata may still be changed (a restore switches replica mode
// off on its way out).
func (w *writer) fail(err, cleanup error) {
	if cleanup != nil {
		err = fmt.Errorf("%w (and clearing the unacknowledged frames failed: %w)", err, cleanup)
	}
	w.err, w.cleared = err, cleanup == nil
	if w.cleared {
		w.next, w.written = w.durable, w.durable
		w.pending, w.cuts, w.sealed = w.pending[:0], nil, false
	}
}

// abandon undoes what a failed flush may have left past the durable
// watermark. After a failed write or fsync the kernel may have marked the
// pages clean although the device never stored them, so the bytes would
// still read back, in this process and the next, until a reboot turns them
// to zeros: nothing written since the last successful fsync may survive
// (PostgreSQL's "fsyncgate"). It records a fenced watermark in DURABLE,
// fsynced, which makes recovery cut the log there, then cuts the durable
// segment back to the watermark and removes the segments started since.
// Called by the leader, with mu released.
func (w *writer) abandon() error {
	d := w.durable
	fenced := d
	fenced.fence = true
	if err := errors.Join(w.mark.storeDurable(fenced), w.db.sameDir()); err != nil {
		return err
	}
	segs, err := listSegments(w.db.dir)
	if err != nil {
		return err
	}
	later := segs[segmentFor(segs, d.seg)+1:]
	return errors.Join(removeSegments(w.db.dir, later), truncateSync(filepath.Join(w.db.dir, segName(d.seg)), d.end))
}

// writeOut appends buf to the segments (starting new ones at cuts, each
// finished segment sealed and fsynced first). With sync it fsyncs the last
// one and publishes target as the durable watermark; without, it asks the
// kernel to start writing buf back, so that the fsync to come finds little
// to do.
//
// synced reports that everything up to target reached the device, so that
// an error after it (publishing the watermark) takes nothing back: those
// frames are committed, and readers may already have read them.
func (w *writer) writeOut(buf []byte, cuts []cut, target watermark, sync bool) (synced bool, err error) {
	start := 0
	off := w.written.end
	for _, c := range cuts {
		if err := w.write(buf[start:c.off], off); err != nil {
			return false, err
		}
		if !c.sealed {
			if err := w.write(encodeSeal(c.at.seg, c.at), c.at.end); err != nil {
				return false, err
			}
		}
		if err := w.seg.Datasync(); err != nil {
			return false, err
		}
		if err := w.startSegment(c.first); err != nil {
			return false, err
		}
		start, off = c.off, 0
	}
	if err := w.write(buf[start:], off); err != nil {
		return false, err
	}
	if !sync {
		return false, w.seg.StartWriteback(off, int64(len(buf)-start))
	}
	if len(buf) > 0 || w.written.lsn > w.durable.lsn {
		if err := w.seg.Datasync(); err != nil {
			return false, err
		}
	}
	return true, w.mark.publish(target)
}

func (w *writer) write(b []byte, off int64) error {
	if len(b) == 0 {
		return nil
	}
	_, err := w.seg.WriteAt(b, off)
	return err
}

// startSegment closes the current segment and creates the next, making its
// directory entry durable before any frame in it is acknowledged.
func (w *writer) startSegment(first uint64) error {
	if err := w.db.sameDir(); err != nil {
		return err
	}
	path := filepath.Join(w.db.dir, segName(first))
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, fileMode)
	if err != nil {
		return err
	}
	if err := syncDir(w.db.dir); err != nil {
		f.Close()
		return err
	}
	old := w.seg
	w.seg = w.db.segment(f)
	return old.Close()
}

// Apply commits blocks of whole frames produced elsewhere (by restore),
// exactly as they are, with one fsync for them all. Each frame must carry the
// next LSN, a commit time no earlier than the last, a valid body, and an h(n)
// that this database recomputes from its own chain; the first frame that
// fails stops the block and nothing after it is committed. Frames before it
// are made durable. Apply returns the last LSN that is durable.
func (db *DB) Apply(blocks ...[]byte) (uint64, error) {
	return db.apply(nil, blocks, true)
}

// ApplyVerified is Apply for frames whose chained hashes the caller has
// already verified, starting from prev (stream.Reader does, as it reads);
// the blocks together are one run of frames chained from prev.
// The database checks that prev is its own last h(n) and each frame's CRC,
// LSN, commit time and body, and takes each stored h(n) as given. Hashing
// every byte a second time would halve a restore's speed on two cores.
func (db *DB) ApplyVerified(prev txframe.Hash, blocks ...[]byte) (uint64, error) {
	return db.apply(&prev, blocks, true)
}

// StageVerified is ApplyVerified without waiting for the frames to be
// durable: they are written to their segment, the kernel is asked to start
// writing them back, and the next Sync (or Apply, or Close) makes them
// durable. It returns the last LSN written. Readers see them only once
// durable; a crash loses at most what was staged since the last Sync. A
// restore stages batch after batch and syncs now and then, so the device
// writes while the next batch is read and checked, as cp does.
func (db *DB) StageVerified(prev txframe.Hash, blocks ...[]byte) (uint64, error) {
	return db.apply(&prev, blocks, false)
}

// Sync makes every frame staged or committed so far durable and returns
// the last durable LSN.
func (db *DB) Sync() (uint64, error) {
	w, err := db.lockWriter()
	if err != nil {
		return 0, err
	}
	defer w.mu.Unlock()
	err = w.waitDurable(w.next.lsn)
	return w.durable.lsn, err
}

// lockWriter locks the writer for a change and returns it; the caller
// unlocks it.
func (db *DB) lockWriter() (*writer, error) {
	if db.w == nil {
		return nil, ErrReadOnly
	}
	db.w.mu.Lock()
	if err := db.w.usable(); err != nil {
		err = db.w.told(err)
		db.w.mu.Unlock()
		return nil, err
	}
	return db.w, nil
}

// apply commits blocks; with verifiedFrom set, the chain was checked by the
// caller from that hash. With durable it returns once they are durable,
// else once they are written.
func (db *DB) apply(verifiedFrom *txframe.Hash, blocks [][]byte, durable bool) (uint64, error) {
	w, err := db.lockWriter()
	if err != nil {
		return 0, err
	}
	defer w.mu.Unlock()
	bad, err := w.queue(verifiedFrom, blocks)
	if err != nil {
		return w.written.lsn, err
	}
	last := w.next.lsn // a failure moves next back: wait for what was queued
	if !durable {
		if err := w.waitWritten(last); err != nil {
			return w.written.lsn, err
		}
		return w.written.lsn, bad
	}
	if err := w.waitDurable(last); err != nil {
		return w.durable.lsn, err
	}
	return w.durable.lsn, bad
}

// queue checks blocks and appends them to pending, up to the first frame
// that fails (bad); err refuses them all: the database is not a replica,
// or verifiedFrom is not its last hash. Called with mu held.
func (w *writer) queue(verifiedFrom *txframe.Hash, blocks [][]byte) (bad, err error) {
	if !w.meta.Replica {
		return nil, fmt.Errorf("%s: %w", w.db.name, ErrNotReplica)
	}
	if verifiedFrom != nil && *verifiedFrom != w.next.hash {
		return nil, fmt.Errorf("%s: %w: frames verified from %s, the database's h(%d) is %s",
			w.db.name, ErrHistory, *verifiedFrom, w.next.lsn, w.next.hash)
	}
	w.growPending(blocks)
	for _, block := range blocks {
		for len(block) > 0 {
			n, err := w.applyOne(block, verifiedFrom == nil)
			if err != nil {
				return err, nil
			}
			block = block[n:]
		}
	}
	return nil, nil
}

// growPending makes room for blocks in pending at once, so a large batch is
// not copied again each time append outgrows it.
func (w *writer) growPending(blocks [][]byte) {
	n := 0
	for _, b := range blocks {
		n += len(b)
	}
	w.pending = slices.Grow(w.pending, n)
}

// applyOne checks the frame at the start of block against the chain (its
// h(n) too when rehash is set) and queues it; it returns the frame's length.
func (w *writer) applyOne(block []byte, rehash bool) (int, error) {
	lsn := w.next.lsn + 1
	h, err := txframe.Peek(block)
	if err != nil {
		return 0, fmt.Errorf("%s: frame for LSN %d: %w", w.db.name, lsn, err)
	}
	f := block[:h.Len]
	if err := follows(w.next, f, h, rehash); err != nil {
		if errors.Is(err, txframe.ErrChain) {
			err = fmt.Errorf("%w: %w", ErrHistory, err)
		}
		return 0, fmt.Errorf("%s: LSN %d: %w", w.db.name, lsn, err)
	}
	w.reserve(len(w.pending), lsn, h.Len)
	w.pending = append(w.pending, f...)
	w.next.hash = h.Hash
	w.advance(lsn, h.Time, h.Len)
	return h.Len, nil
}

// updateMeta applies change to the metadata and replaces META atomically.
func (w *writer) updateMeta(change func(*Meta) error) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	// A writer whose failure left nothing past the durable watermark
	// (cleared) may still change its metadata: a failed restore switches
	// replica mode off on its way out.
	if err := w.usable(); err != nil && (w.closed || !w.cleared) {
		return err
	}
	m := w.meta
	if err := change(&m); err != nil {
		return err
	}
	// Staged frames become durable first: a database switched off replica
	// mode must not lose them to a power loss.
	if err := w.waitDurable(w.next.lsn); err != nil {
		return err
	}
	if err := writeMeta(w.db.dir, m); err != nil {
		return fmt.Errorf("%s: write metadata: %w", w.db.name, err)
	}
	w.meta = m
	return nil
}

// close makes what is already queued durable, then refuses further writes.
func (w *writer) close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	failedBefore := w.err != nil && !w.unseen // and reported to the call that met it
	for w.syncing || (len(w.pending) > 0 || w.written.lsn > w.durable.lsn) && w.err == nil {
		if w.syncing {
			w.cond.Wait()
		} else {
			w.flush(true)
		}
	}
	if w.closed {
		return nil
	}
	w.closed = true
	var lost error
	if w.err != nil && !failedBefore {
		lost = fmt.Errorf("%s: nothing after LSN %d was committed: %w", w.db.name, w.durable.lsn, w.err)
	}
	// DURABLE is fsynced only once a second while committing; a writer
	// that closes makes it durable, so that readers after a power loss see
	// every commit it acknowledged without waiting for a writer's recovery.
	var marked error
	if w.err == nil && w.mark.dirty {
		marked = w.mark.sync()
	}
	return errors.Join(lost, marked, w.seg.Close(), w.mark.f.Close())
}
