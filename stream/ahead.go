package stream

import (
	"io"
	"sync"
)

// aheadBatch is the plaintext one fill decrypts: 8 age chunks. A reader
// holds two batches, the one Read returns from and the one being
// decrypted, so an encrypted input is decrypted at most 2×aheadBatch
// (1 MiB, the size of a Reader's own buffer) ahead of its reader.
const aheadBatch = 8 * ageChunk

// ahead reads src (age's plaintext) one batch ahead of its reader, in a
// goroutine per batch, so that decryption runs on one core while the
// reader checks and applies the plaintext before it on another. Read
// returns whole decrypted batches, as many as fit in p, waiting only when
// none is ready: the reader gets blocks of at least aheadBatch bytes, as
// from a file, not age's 64 KiB chunks one by one (which made a restore
// queue and write one small block per chunk, and its queue of blocks
// shallow). The cost is that input trickling in is passed on a batch at a
// time; hot-backup refuses to follow into age (age holds back 64 KiB
// chunks already), so encrypted input is bulk input.
//
// A fill never waits for the reader: it reads at most aheadBatch bytes and
// ends, and only Read starts the next. A reader abandoned mid-stream
// leaves at most one fill running, which ends as soon as its read of src
// returns (at once for a file; for a pipe when it delivers or is closed),
// so nothing leaks and no Close is needed. Plaintext and errors come
// through in src's order: all plaintext before an error is returned, then
// the error, which stays.
type ahead struct {
	src   io.Reader
	cur   *fill          // the batch Read returns from: its fill has ended
	r     int            // bytes of cur returned
	next  *fill          // the batch after cur, being read or read
	spare []byte         // the buffer of the batch before cur, all returned
	wg    sync.WaitGroup // the fills running: tests wait on it
}

// fill is one batch read from src into buf by a goroutine of its own. n
// and err (nil when buf filled) say how the read ended; they are set
// before done is closed.
type fill struct {
	buf  []byte
	n    int
	err  error
	done chan struct{}
}

func newAhead(src io.Reader) *ahead { return &ahead{src: src} }

// start begins the fill of the batch after the last one started, into the
// spare buffer if there is one.
func (a *ahead) start() *fill {
	buf := a.spare
	a.spare = nil
	if buf == nil {
		buf = make([]byte, aheadBatch)
	}
	f := &fill{buf: buf, done: make(chan struct{})}
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		defer close(f.done)
		f.n, f.err = readFull(a.src, f.buf)
	}()
	return f
}

// readFull reads src into b until b is full, or src ends or fails.
func readFull(src io.Reader, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		m, err := src.Read(b[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// Read returns the plaintext of the batches whose fill has ended, up to
// len(p), waiting only while there is none. When it takes up a batch, it
// starts the fill of the one after it.
func (a *ahead) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	n := 0
	for n < len(p) {
		if a.cur != nil && a.r < a.cur.n {
			c := copy(p[n:], a.cur.buf[a.r:a.cur.n])
			n, a.r = n+c, a.r+c
			continue
		}
		if a.cur != nil && a.cur.err != nil { // all of cur returned, and src ended there
			if n > 0 {
				return n, nil
			}
			return 0, a.cur.err
		}
		if a.next == nil { // the first Read
			a.next = a.start()
		}
		if n > 0 && !a.next.ended() {
			return n, nil
		}
		<-a.next.done
		if a.cur != nil {
			a.spare = a.cur.buf
		}
		a.cur, a.next, a.r = a.next, nil, 0
		if a.cur.err == nil {
			a.next = a.start()
		}
	}
	return n, nil
}

// ended reports whether f's read has ended.
func (f *fill) ended() bool {
	select {
	case <-f.done:
		return true
	default:
		return false
	}
}
