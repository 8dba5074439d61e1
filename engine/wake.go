package engine

import (
	"os"
	"sync"
	"sync/atomic"
)

// durableWake tells the handle's WaitDurable callers that the durable
// watermark may have moved, so that a follower wakes when the writer
// publishes instead of on its next poll. A writer handle is told by its own
// commits (broadcast after each flush); a read-only handle watches DURABLE
// for the writer's stores (inotify on Linux, see watchFile). Without a
// watch (another platform, a watch that failed or ended) WaitDurable
// polls, as it always did.
type durableWake struct {
	mu      sync.Mutex
	ch      chan struct{} // closed at the next change; nil until asked for
	watch   watchCloser   // the watch on DURABLE, nil when none runs
	file    *os.File      // DURABLE, opened after the watch was set; nil without one
	tried   bool          // a watch was tried since the last one ended
	stopped bool          // the handle is closed: no new watch

	// Counted for tests: changes the watch reported, and polls made.
	events, polls atomic.Int64
}

// watchCloser ends a watch; its goroutine calls no callback after Close
// returns.
type watchCloser interface{ Close() error }

// changed returns a channel closed at the next change, and whether the
// caller must poll as well: nothing will report the change otherwise.
func (n *durableWake) changed(db *DB) (<-chan struct{}, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.ch == nil {
		n.ch = make(chan struct{})
	}
	if db.w != nil {
		return n.ch, false // the writer's flush broadcasts
	}
	if n.watch == nil && !n.tried && !n.stopped {
		n.tried = true
		watch := watchFile
		if db.opts.watch != nil {
			watch = db.opts.watch
		}
		path := durablePath(db.dir)
		if w, err := watch(path, n.event, n.ended); err == nil {
			n.watch = w
			// Opened after the watch was set: if the file was replaced
			// in between, the watch reports it, and both go.
			n.file, _ = os.Open(path)
		}
	}
	return n.ch, n.watch == nil
}

// broadcast wakes every caller waiting on a channel changed returned.
func (n *durableWake) broadcast() {
	n.mu.Lock()
	if n.ch != nil {
		close(n.ch)
		n.ch = nil
	}
	n.mu.Unlock()
}

// event is the watch's report of a store into DURABLE.
func (n *durableWake) event() {
	n.events.Add(1)
	n.broadcast()
}

// ended is the watch's report that it stopped (DURABLE was removed,
// renamed or the watch failed): waiters wake and look again, and the next
// one tries a new watch.
func (n *durableWake) ended() {
	n.mu.Lock()
	n.watch, n.tried = nil, false
	n.dropFile()
	n.mu.Unlock()
	n.broadcast()
}

// read returns the newest valid watermark in DURABLE through the file
// opened with the watch, which saves a follower an open and a close at
// each look. ok is false without a watch (the file may then have been
// replaced unseen: the caller opens it by name) or when no slot was whole.
func (n *durableWake) read() (w watermark, ok bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.file == nil {
		return w, false
	}
	return readSlots(n.file)
}

func (n *durableWake) dropFile() {
	if n.file != nil {
		n.file.Close()
		n.file = nil
	}
}

// close stops the watch and wakes the waiters, who then find the handle
// closed.
func (n *durableWake) close() {
	n.mu.Lock()
	w := n.watch
	n.watch, n.stopped = nil, true
	n.dropFile()
	n.mu.Unlock()
	if w != nil {
		_ = w.Close()
	}
	n.broadcast()
}
