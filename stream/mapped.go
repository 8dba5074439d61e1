package stream

import (
	"errors"
	"io"
	"math"
	"os"
	"runtime"
	"runtime/debug"
	"unsafe"

	"github.com/hotpipe/hotpipe/txframe"
)

// mapMin is the least a file must hold to be mapped (Options.MapFiles):
// below it, mapping costs more than the copy it saves. A variable for
// tests.
var mapMin int64 = 4 << 20

// mapMax is the most of a file mapped; what lies past it is read as it
// comes, as are the bytes a file gains while it is read. A variable for
// tests of that path.
var mapMax int64 = math.MaxInt

// errShrank is the cause given when a mapped file shrinks while it is
// read: the bytes the reader was at are gone.
var errShrank = errors.New("the file shrank while it was read (is it being rewritten?)")

// mapInput maps what remains of r when r is a regular file of at least
// mapMin bytes from its offset that starts with a segment header (a plain
// stream: not compressed, not encrypted), and returns the mapping of those
// bytes, the whole mapping (for unmapping), and a reader of what the file
// holds past them (it may grow while it is read). ok is false when r is
// read as it is.
func mapInput(r io.Reader) (rest, whole []byte, tail io.Reader, ok bool) {
	f, isFile := r.(*os.File)
	if !isFile {
		return nil, nil, nil, false
	}
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		return nil, nil, nil, false
	}
	pos, err := f.Seek(0, io.SeekCurrent)
	size := fi.Size()
	if err != nil || size-pos < mapMin || size > math.MaxInt {
		return nil, nil, nil, false
	}
	var head [4]byte
	if _, err := f.ReadAt(head[:], pos); err != nil || head != headerMagic {
		return nil, nil, nil, false
	}
	// the mapping starts at offset 0: mmap's offset must be page-aligned
	size = min(size, pos+mapMax)
	m, err := mapFile(f, size)
	if err != nil {
		return nil, nil, nil, false
	}
	return m[pos:], m, io.NewSectionReader(f, size, math.MaxInt64-size), true
}

// within reports whether the fault p (a recovered panic) happened inside
// mapping m: the file under it shrank. Any other panic is not ours to
// handle.
func within(p any, m []byte) bool {
	re, isRuntime := p.(runtime.Error)
	fault, hasAddr := p.(interface{ Addr() uintptr })
	if !isRuntime || re == nil || !hasAddr || len(m) == 0 {
		return false
	}
	start := uintptr(unsafe.Pointer(unsafe.SliceData(m)))
	return fault.Addr() >= start && fault.Addr()-start < uintptr(len(m))
}

// guard runs on the Reader's goroutine around every step that may touch a
// mapped input: a fault inside the mapping (the file shrank under it)
// becomes an error at the place the Reader was, ErrTruncated with the
// cause, and the input is dropped; the stream goes on with the next one.
// It is deferred, with the result of debug.SetPanicOnFault(true) and the
// position when the step began: the frames a step checked before the fault
// were never given, so the Reader goes back to what it had given. The
// error is the step's result (ev, err), or, for a step that returns none
// (Resync), what Next says next.
func (r *Reader) guard(old bool, at position, ev **Event, err *error) {
	debug.SetPanicOnFault(old)
	p := recover()
	if p == nil {
		return
	}
	if r.in == nil || r.in.ra == nil || !within(p, r.in.ra.whole) {
		panic(p)
	}
	r.next, r.prev, r.prevTime, r.last, r.lastHash, r.lastTime = at.next, at.prev, at.prevTime, at.last, at.lastHash, at.lastTime
	off := r.in.off
	if at.in == r.in {
		off = at.off
	}
	shrank := r.errAt(off, r.next, truncated(errShrank, "input ends at offset %d", off))
	r.failed, r.inSeg, r.rejoined, r.pending = nil, false, false, nil
	if ev == nil {
		r.failed = shrank
	} else {
		*ev, *err = nil, shrank
	}
	r.drop()
}

// position is where a Reader stands: what it has given of the stream, and
// the offset in its input.
type position struct {
	in                 *input
	off                int64
	next, last         uint64
	prev, lastHash     txframe.Hash
	prevTime, lastTime int64
}

func (r *Reader) position() position {
	at := position{in: r.in, next: r.next, last: r.last, prev: r.prev, lastHash: r.lastHash, prevTime: r.prevTime, lastTime: r.lastTime}
	if r.in != nil {
		at.off = r.in.off
	}
	return at
}

// readMapped is the read-ahead of the mapped part of an input: blocks cut
// after the last whole record, as read does, but slices of the mapping,
// copied nowhere. It returns the bytes after the last whole record (read
// goes on from them with the file past the mapping), and false once
// stopped.
func (a *readAhead) readMapped() ([]byte, int64, bool) {
	m := a.m
	pos := 0
	for pos < len(m) {
		end := min(pos+a.size, len(m))
		p, need := scanRecords(m[pos:end], 0)
		for p == 0 && end < len(m) { // a record larger than a block
			end = min(pos+max(need, 2*(end-pos)), len(m))
			p, need = scanRecords(m[pos:end], 0)
		}
		if p == 0 {
			break
		}
		tok, ok := a.token()
		if !ok || !a.sendMapped(m[pos:pos+p], int64(pos), tok) {
			return nil, 0, false
		}
		pos += p
	}
	return m[pos:], int64(pos), true
}

// token takes a place among the blocks in flight for a mapped block: the
// buffer it holds (nil or not) goes back to the free list when the block is
// released.
func (a *readAhead) token() ([]byte, bool) {
	select {
	case buf := <-a.free:
		return buf, true
	case <-a.stop:
		return nil, false
	}
}

func (a *readAhead) sendMapped(data []byte, off int64, tok []byte) bool {
	b := &scanned{data: data, off: off, done: make(chan struct{}), mapped: true, spare: tok}
	return a.hand(b, len(data))
}

// releaseMapped hands a mapped block's place back, and drops the whole
// pages before its end from the process's memory.
func (a *readAhead) releaseMapped(b *scanned) {
	select {
	case a.free <- b.spare:
	default:
	}
	end := int(b.off) + len(b.data)
	base := uintptr(unsafe.Pointer(unsafe.SliceData(a.whole)))
	at := uintptr(unsafe.Pointer(unsafe.SliceData(a.m))) - base // the input's offset 0 in the mapping
	page := uintptr(os.Getpagesize())
	from, to := (at+uintptr(a.dropped)+page-1)/page*page, (at+uintptr(end))/page*page
	if to >= from+dropBatch {
		dropPages(a.whole[from:to])
		a.dropped = int(to - at)
	}
}

// dropBatch is the least run of pages dropped at once: fewer, larger
// calls.
const dropBatch = 4 << 20

// faultSafe runs f, a worker's pass over a mapped block, and reports
// whether the file shrank under it (the block then gets no hints: the
// Reader finds out itself).
func (a *readAhead) faultSafe(f func()) (shrank bool) {
	defer func() {
		if p := recover(); p != nil {
			if !within(p, a.whole) {
				panic(p)
			}
			shrank = true
		}
	}()
	f()
	return false
}

// readMappedSafe is readMapped on a goroutine that survives the file
// shrinking under the mapping: the input then ends where the scan was,
// with errShrank.
func (a *readAhead) readMappedSafe() (carry []byte, off int64, ok bool) {
	debug.SetPanicOnFault(true)
	defer func() {
		if p := recover(); p != nil {
			if !within(p, a.whole) {
				panic(p)
			}
			a.err, ok = errShrank, false
		}
	}()
	return a.readMapped()
}
