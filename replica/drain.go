package replica

import (
	"io"
	"os"
	"sync/atomic"
	"syscall"
)

// Drain tells Restore when its input has no more bytes ready, so that a
// standby makes what it has staged durable at once instead of after
// syncLatency: what a --follow stream sent is then durable as soon as it
// is applied, the way PostgreSQL's walreceiver flushes when its socket has
// nothing more to read. Bulk input, whose pipe always has bytes ready, is
// synced by size as before. Pass one Drain in Options.Drain, and read the
// input through its Reader.
type Drain struct {
	blocked atomic.Bool   // the input's reader is in a read that found nothing ready
	wake    chan struct{} // a token when blocked is set, for an applier waiting
	reads   atomic.Int64  // reads that found nothing ready, for tests
}

// NewDrain returns a Drain that has seen no input yet.
func NewDrain() *Drain { return &Drain{wake: make(chan struct{}, 1)} }

// Reader returns r, read through so that d knows when it drains: before
// each read, it asks the system how many bytes c (the pipe, socket or
// terminal r reads from) has ready, and when none are, d counts the input
// as drained until the read returns. Where the system cannot say (a
// regular file, a system other than Linux), reads go to r unwatched, and
// Restore syncs by its timers.
func (d *Drain) Reader(c syscall.Conn, r io.Reader) io.Reader {
	if f, ok := c.(*os.File); ok {
		if fi, err := f.Stat(); err != nil || fi.Mode().IsRegular() {
			return r // never drains before its end
		}
	}
	rc, err := c.SyscallConn()
	if err != nil {
		return r
	}
	w := &drainReader{d: d, r: r, rc: rc}
	if _, ok := w.ready(); !ok {
		return r
	}
	return w
}

// drainReader is an input read through a Drain.
type drainReader struct {
	d      *Drain
	r      io.Reader
	rc     syscall.RawConn
	broken bool // the system stopped answering: read unwatched
}

func (w *drainReader) Read(p []byte) (int, error) {
	if !w.broken && len(p) > 0 {
		n, ok := w.ready()
		if !ok {
			w.broken = true
		} else if n == 0 {
			w.d.reads.Add(1)
			w.d.blocked.Store(true)
			select {
			case w.d.wake <- struct{}{}:
			default: // a token is waiting already
			}
			defer w.d.blocked.Store(false)
		}
	}
	return w.r.Read(p)
}

// ready returns how many bytes the input has ready to read, and whether
// the system could say.
func (w *drainReader) ready() (int, bool) {
	n, ok := 0, false
	err := w.rc.Control(func(fd uintptr) { n, ok = bytesReady(fd) })
	return n, err == nil && ok
}

// drained reports whether d's input has nothing ready and its reader is
// waiting for more; a nil Drain never drains.
func (d *Drain) drained() bool { return d != nil && d.blocked.Load() }

// woken is the channel that carries a token each time the input drains;
// nil (never ready) for a nil Drain.
func (d *Drain) woken() <-chan struct{} {
	if d == nil {
		return nil
	}
	return d.wake
}
