package backup

import "io"

// aheadBatch is how much an aheadWriter gathers before it hands a batch
// on.
const aheadBatch = 1 << 20

// aheadWriter writes to w (age's writer, which encrypts) on a goroutine
// of its own, a batch at a time, so that the encryption of one batch runs
// beside the reading and checking of the next on another core. One batch
// is in flight at most, and the next waits for it, so w sees the bytes in
// order and from one goroutine at a time, and a job that stops leaves no
// goroutine behind once that write returns. A failed write is returned by
// the next Write or by Close; what the failed batch held is lost, as it
// would be in age's own buffer.
type aheadWriter struct {
	w          io.WriteCloser
	buf, spare []byte
	done       chan error // the batch in flight's; nil when none is
	err        error
}

func newAheadWriter(w io.WriteCloser) *aheadWriter {
	return &aheadWriter{w: w, buf: make([]byte, 0, aheadBatch), spare: make([]byte, 0, aheadBatch)}
}

func (a *aheadWriter) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 && a.err == nil {
		k := copy(a.buf[len(a.buf):cap(a.buf)], p)
		a.buf, p, n = a.buf[:len(a.buf)+k], p[k:], n+k
		if len(a.buf) == cap(a.buf) {
			a.send()
		}
	}
	return n, a.err
}

// send hands the gathered batch to a goroutine, once the one before it
// has been written.
func (a *aheadWriter) send() {
	a.wait()
	if a.err != nil {
		return
	}
	b := a.buf
	a.buf, a.spare = a.spare[:0], b
	done := make(chan error, 1)
	go func() {
		_, err := a.w.Write(b)
		done <- err
	}()
	a.done = done
}

// wait waits for the batch in flight, if any.
func (a *aheadWriter) wait() {
	if a.done == nil {
		return
	}
	if err := <-a.done; err != nil && a.err == nil {
		a.err = err
	}
	a.done = nil
}

// Close writes what is gathered, waits for it, and closes w: age's last
// chunk, sealed.
func (a *aheadWriter) Close() error {
	if len(a.buf) > 0 {
		a.send()
	}
	a.wait()
	if a.err != nil {
		return a.err
	}
	return a.w.Close()
}
