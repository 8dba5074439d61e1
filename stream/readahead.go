package stream

import (
	"io"
	"runtime"
	"runtime/debug"
	"sync"

	"github.com/hotpipe/hotpipe/txframe"
)

// readAheadBlock is the least a read-ahead block holds before it is handed on
// (more when one record is larger): large enough that handing blocks
// between goroutines costs nothing next to checking them, small enough
// that the blocks in flight stay in the caches. Measured (perf stat
// task-clock, verify of 256 MiB of 64 KiB frames, two cores): 256 KiB
// 379/383 ms of CPU, 1 MiB 423/468, 2 MiB 462/474, 64 KiB 409/390; the
// serial reader 355/350. At 2 MiB the first pass over a block (the CRC)
// read it from memory, not from the cache the read had just filled.
var readAheadBlock = 256 << 10 // a variable for tests of blocks smaller than a frame

// ahead reads one input ahead of the Reader, on a goroutine of its own,
// into blocks, and checks the CRC and hashes the body of every whole frame
// it finds in them on all cores (Options.ReadAhead). What it learns is a
// hint: a fact about the bytes at an input offset (the frame of n bytes
// there passes txframe.Peek with this header, and its body's SHA-256 is
// this), which the Reader's sequential check uses when it reaches a frame
// at that offset with that length, and otherwise ignores. So the hints
// need not follow the stream's structure to be right: the Reader's checks,
// their order, and every error and its place stay those of the serial
// path, which the Reader takes for any frame without a hint.
//
// Memory is bounded by the blocks in flight, GOMAXPROCS+2 of readAheadBlock
// bytes, or of the largest record when one is larger.
type readAhead struct {
	src   io.Reader
	quick bool // Options.Quick: CRCs only, no body hashed
	size  int  // readAheadBlock when the read-ahead started

	out  chan *scanned // filled blocks, in input order
	work chan *scanned // filled blocks, to the hashing workers
	free chan []byte   // buffers handed back by the Reader
	stop chan struct{}
	once sync.Once
	wg   sync.WaitGroup // the goroutines
	err  error          // how the input ended (nil: at its end); read after out is closed

	// a mapped input (Options.MapFiles): m is the input's bytes in whole,
	// the mapping (unmapped by close), tail the file past it; dropped is
	// how far (input offset) pages were dropped, on the Reader's goroutine
	m, whole []byte
	tail     io.Reader
	dropped  int
}

// block is a run of an input's bytes, cut after the last whole record the
// scan found in it, and the hints for its frames once done is closed.
type scanned struct {
	data  []byte
	off   int64 // input offset of data[0]
	hints []hint
	done  chan struct{}
	// mapped: data is a slice of the mapping, and spare is the free
	// list's buffer (or nil) the block holds its place in flight with
	mapped bool
	spare  []byte
}

// hint is what a worker learned of the frame of hdr.Len bytes at input
// offset off: txframe.Peek accepts it with header hdr, and, unless the
// read is Quick, sum is the SHA-256 of its body.
type hint struct {
	off int64
	hdr txframe.Header
	sum txframe.Hash
}

// newReadAhead starts reading src ahead.
func newReadAhead(src io.Reader, quick bool) *readAhead {
	return startReadAhead(&readAhead{src: src, quick: quick})
}

// newMappedReadAhead starts reading ahead m, the mapped part of an input,
// and then tail, the input past it; whole is the mapping.
func newMappedReadAhead(m, whole []byte, tail io.Reader, quick bool) *readAhead {
	return startReadAhead(&readAhead{src: tail, quick: quick, m: m, whole: whole, tail: tail})
}

func startReadAhead(a *readAhead) *readAhead {
	workers := runtime.GOMAXPROCS(0)
	a.size, a.out, a.work = readAheadBlock, make(chan *scanned, workers+2), make(chan *scanned, workers+2)
	a.free, a.stop = make(chan []byte, workers+3), make(chan struct{})
	for i := 0; i < workers+2; i++ {
		a.free <- nil // a token: the buffer is made when first needed
	}
	a.wg.Add(1 + workers)
	go a.read()
	for i := 0; i < workers; i++ {
		go a.hash()
	}
	return a
}

// close stops the read-ahead; the goroutines end once what they are in
// returns (a read blocked on a pipe returns when the pipe does).
// A mapped input's goroutines end at once (a file does not block), and
// the mapping is undone after them.
func (a *readAhead) close() {
	a.once.Do(func() {
		close(a.stop)
		if a.whole != nil {
			a.wg.Wait()
			unmapFile(a.whole)
		}
	})
}

// next returns the next block with its hints, or nil after the last.
func (a *readAhead) next() *scanned {
	select {
	case b, ok := <-a.out:
		if !ok {
			return nil
		}
		select {
		case <-b.done:
			return b
		case <-a.stop:
			return nil
		}
	case <-a.stop:
		return nil
	}
}

// release hands a block's buffer back for reading into.
func (a *readAhead) release(b *scanned) {
	if b == nil {
		return
	}
	if b.mapped {
		a.releaseMapped(b)
		return
	}
	select {
	case a.free <- b.data[:cap(b.data)]:
	default: // cannot happen: as many tokens as buffers
	}
}

// take returns a free buffer of at least n bytes, or nil once stopped.
func (a *readAhead) take(n int) []byte {
	select {
	case buf := <-a.free:
		if buf == nil || cap(buf) < n {
			buf = make([]byte, max(n, a.size))
		}
		return buf[:cap(buf)]
	case <-a.stop:
		return nil
	}
}

// read is the read-ahead goroutine: it fills buffers from src, cuts each
// after the last whole record found, carries the rest into the next one,
// and hands the blocks on in order.
func (a *readAhead) read() {
	defer a.wg.Done()
	defer close(a.work)
	defer close(a.out)
	var off int64 // input offset of buf[0]
	w, p := 0, 0  // bytes in buf; end of the whole records scanned
	var carry []byte
	if a.m != nil {
		var ok bool
		if carry, off, ok = a.readMappedSafe(); !ok {
			return
		}
	}
	buf := a.take(max(a.size, len(carry)))
	if buf != nil {
		w = copy(buf, carry)
	}
	for buf != nil {
		if w == len(buf) { // full, and no record whole: one larger than it, grown as its bytes come
			_, need := scanRecords(buf, 0)
			grown := make([]byte, min(max(need, w+1), 2*len(buf)))
			copy(grown, buf)
			buf = grown
		}
		m, err := a.src.Read(buf[w:])
		w += m
		p, _ = scanRecords(buf[:w], p)
		if err != nil {
			if err != io.EOF {
				a.err = err
			}
			a.send(buf[:w], off, p)
			return
		}
		if p == 0 {
			continue // nothing whole yet
		}
		next := a.take(w - p)
		if next == nil {
			return
		}
		carry := copy(next, buf[p:w])
		if !a.send(buf[:p], off, p) {
			return
		}
		buf, off, w, p = next, off+int64(p), carry, 0
	}
}

// send hands data on, its whole records being data[:whole], for hashing
// and to the Reader. It reports false once stopped.
func (a *readAhead) send(data []byte, off int64, whole int) bool {
	return a.hand(&scanned{data: data, off: off, done: make(chan struct{})}, whole)
}

// hand lists the frames of b's whole records, b.data[:whole], and hands b
// on. It reports false once stopped.
func (a *readAhead) hand(b *scanned, whole int) bool {
	b.hints = frameHints(b.data[:whole], b.off, b.hints)
	select {
	case a.out <- b:
	case <-a.stop:
		return false
	}
	select {
	case a.work <- b:
		return true
	case <-a.stop:
		return false
	}
}

// hash is a worker: it checks and hashes the frames of each block it
// takes.
func (a *readAhead) hash() {
	defer a.wg.Done()
	if a.whole != nil {
		debug.SetPanicOnFault(true) // the file may shrink under its mapping
	}
	for b := range a.work {
		if b.mapped && a.faultSafe(func() { a.hints(b) }) {
			b.hints = b.hints[:0]
		} else if !b.mapped {
			a.hints(b)
		}
		close(b.done)
	}
}

// hints checks the CRC and hashes the body of each frame of b, and keeps
// the hints of those that pass.
func (a *readAhead) hints(b *scanned) {
	n := 0
	for _, h := range b.hints {
		f := b.data[h.off-b.off : h.off-b.off+int64(h.hdr.Len)]
		// The body's SHA-256 first: it is bound by its computing, not by
		// memory, so it takes a mapped frame from memory at no cost, and
		// the CRC then reads it from the cache. Measured (perf record,
		// verify of 256 MiB mapped): the CRC first took 16% of the
		// samples, reading memory; after the hash, 5%.
		if !a.quick {
			h.sum = txframe.BodySum(f)
		}
		hdr, err := txframe.Peek(f)
		if err != nil {
			continue // no hint: the Reader finds the error itself
		}
		h.hdr = hdr
		b.hints[n] = h
		n++
	}
	b.hints = b.hints[:n]
}

// frameHints lists the frames scanRecords finds in data, whole records
// from input offset off, with their lengths, for the workers to fill in.
func frameHints(data []byte, off int64, hints []hint) []hint {
	for p := 0; p+4 <= len(data); {
		n, isFrame := recordLen(data[p:])
		if n == 0 || p+n > len(data) {
			p++
			continue
		}
		if isFrame {
			hints = append(hints, hint{off: off + int64(p), hdr: txframe.Header{Len: n}})
		}
		p += n
	}
	return hints
}

// scanRecords moves p over the whole records at data[p:], and over bytes
// that start no record (they are passed on unhinted), and returns where it
// stopped and how many bytes the record there needs (0 when unknown).
func scanRecords(data []byte, p int) (int, int) {
	for p+4 <= len(data) {
		n, _ := recordLen(data[p:])
		switch {
		case n == 0 && len(data)-p >= txframe.HeaderSize:
			p++ // not a record: passed on as it is
		case n == 0:
			return p, txframe.HeaderSize
		case p+n > len(data):
			return p, n
		default:
			p += n
		}
	}
	return p, 4
}

// recordLen returns the length of the record that starts b (at least 4
// bytes), and whether it is a frame; 0 when b starts no record, or not
// enough of one to tell.
func recordLen(b []byte) (int, bool) {
	switch [4]byte(b[:4]) { // one compare each, not bytes.Equal's call (1.4% of verify's samples)
	case frameMagic:
		n, err := txframe.FrameLen(b)
		if err != nil {
			return 0, false
		}
		return n, true
	case headerMagic:
		return HeaderSize, false
	case endMagic:
		return EndSize, false
	}
	return 0, false
}

// fillReadAhead is fill for an input read ahead: it takes the next block in
// place of the buffer when the buffer is used up, and joins the two only
// when a record runs across them (the scan cut elsewhere than the Reader
// reads, as around damage).
func (in *input) fillReadAhead(n int) (bool, error) {
	for in.w-in.r < n {
		if in.eof {
			return false, in.err
		}
		b := in.ra.next()
		if b == nil {
			in.eof, in.err = true, in.ra.err
			continue
		}
		if in.r == in.w {
			in.ra.release(in.blk)
			in.blk, in.buf, in.r, in.w = b, b.data, 0, len(b.data)
			in.hints, in.hi = b.hints, 0
			continue
		}
		joined := make([]byte, in.w-in.r+len(b.data))
		copy(joined[copy(joined, in.buf[in.r:in.w]):], b.data)
		in.hints = append(append([]hint(nil), in.hints[in.hi:]...), b.hints...)
		in.ra.release(in.blk)
		in.ra.release(b)
		in.blk, in.buf, in.r, in.w, in.hi = nil, joined, 0, len(joined), 0
	}
	return true, nil
}

// hint returns what the read-ahead learned of the frame of n bytes at the
// read position, if it learned anything.
func (in *input) hint(n int) (hint, bool) {
	for in.hi < len(in.hints) && in.hints[in.hi].off < in.off {
		in.hi++
	}
	if in.hi == len(in.hints) {
		return hint{}, false
	}
	h := in.hints[in.hi]
	return h, h.off == in.off && h.hdr.Len == n
}

// close stops the input's read-ahead, if it has one.
func (in *input) close() {
	if in != nil && in.ra != nil {
		in.ra.close()
	}
}
