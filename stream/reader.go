package stream

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"runtime/debug"

	"filippo.io/age"

	"github.com/hotpipe/hotpipe/txframe"
)

// Kind says what an Event carries.
type Kind int

// Event kinds, in the order a segment yields them.
const (
	KindHeader Kind = iota + 1
	KindFrames
	KindEnd
)

// Event is one step through a stream. Frames alias the reader's buffer and
// are valid until the next call to Next.
type Event struct {
	Kind   Kind
	Source string // input name
	Offset int64  // offset of the header, first frame or end record
	Header Header // the current segment's header
	// KindFrames: whole frames, each checked (CRC, body, contiguous LSN,
	// commit time, chained hash), all new to the stream.
	Frames      []byte
	First, Last uint64
	Prev        txframe.Hash // h(First-1), from which the frames were verified
	LastHash    txframe.Hash
	FirstTime   int64 // the commit time of First
	LastTime    int64
	End         End // KindEnd
}

// Options tune a Reader.
type Options struct {
	// XZDictMax bounds the dictionary an xz input may need; 0 means
	// DefaultXZDictMax.
	XZDictMax int
	// Identities decrypt age input. An age input that none of them
	// decrypts (or any, when there are none) is refused with an
	// *EncryptedError (ErrNoIdentity); damaged ciphertext is ErrDecrypt.
	Identities []age.Identity
	// KeepGoing is for checkers that report every problem: a segment that
	// does not join the stream (a gap, another history) is reported, and
	// then read on from its own base, so its frames and the joins after it
	// are still checked.
	KeepGoing bool
	// ParallelHash hashes frame bodies on all cores ahead of the sequential
	// chain check. It suits a reader that does nothing else (verify); a
	// restore leaves the other core to the database's writes (measured: no
	// faster with it on two cores).
	ParallelHash bool
	// Quick skips recomputing the SHA-256 of frame bodies: every record's
	// and frame's CRC32C, the format, LSN contiguity and commit times are
	// still checked, and the stored hashes are compared wherever two
	// records state the same h (a segment's base against the stream so
	// far, an end record against its last frame, overlapping segments
	// where they meet). It does not prove content: a body rewritten with a
	// recomputed CRC, or with its stored h(n) rewritten too, reads clean.
	Quick bool
	// ReadAhead reads each input ahead on a goroutine of its own and checks
	// the CRCs and hashes the bodies of its frames on all cores, while the
	// sequential checks run on the caller's goroutine: the whole of two
	// cores for a reader that does nothing else (verify). It changes no
	// check, no error and no place an error is reported at. Call Close
	// when done with a Reader that reads ahead.
	ReadAhead bool
	// MapFiles, with ReadAhead, maps an input that is a regular file
	// holding a plain stream instead of copying it in: the CRCs and hashes
	// read the file's pages in place. A file that shrinks while it is read
	// ends the input there (ErrTruncated), on the Reader's goroutine as on
	// the read-ahead's. Event.Frames may then alias the mapping: a caller
	// that reads them after Next returned must not mind a fault if the
	// file shrinks meanwhile (verify reads only the Event's fields).
	// Quick reads are not mapped: measured (perf stat, verify --quick of
	// 256 MiB, three runs of five each), the CRCs alone read mapped pages
	// at more CPU than the copy costs (193-241 ms against 165-204).
	MapFiles bool
	// raw reads inputs as they are, never decompressed: ReadTail's
	// offsets are the file's, and a file is not a backup by decompressing.
	raw bool
}

// Reader reads a stream from one or more inputs in order, checking every
// record and frame as it goes and the continuity between segments. Memory
// is bounded by the largest frame.
type Reader struct {
	inputs []Input
	opts   Options
	idx    int
	in     *input
	buf    []byte

	// the current segment
	inSeg    bool
	hdr      Header
	segStart int64
	next     uint64       // next LSN expected
	prev     txframe.Hash // h(next-1)
	prevTime int64

	// the stream so far
	started   bool
	origin    txframe.Origin
	last      uint64 // highest LSN yielded
	lastHash  txframe.Hash
	lastTime  int64                   // its commit time
	skipTo    uint64                  // overlap: frames <= skipTo are checked, not yielded
	untied    bool                    // an overlap whose base is no boundary seen: its h(base) proves nothing yet
	bounds    map[uint64]txframe.Hash // h at every segment boundary seen
	failed    error                   // reported after the good frames before it
	saidEmpty bool                    // ErrEmpty was reported: once is enough
	rejoined  bool                    // the last error left the reader inside a segment
	pending   *Event                  // the header event of a rejoined segment, given next
	pre       prehashed               // body sums of the buffered frames, hashed in parallel
	hinted    uint64                  // frames checked with a read-ahead's hint (for tests)
	mapped    int                     // inputs mapped (Options.MapFiles; for tests)
}

// NewReader returns a Reader of inputs, read in order as one stream.
func NewReader(inputs []Input, opts Options) *Reader {
	if opts.XZDictMax == 0 {
		opts.XZDictMax = DefaultXZDictMax
	}
	return &Reader{inputs: inputs, opts: opts, bounds: make(map[uint64]txframe.Hash)}
}

// Last returns the highest LSN yielded so far and its hash.
func (r *Reader) Last() (uint64, txframe.Hash) { return r.last, r.lastHash }

// Next returns the next event, or io.EOF after the last segment of the last
// input. Problems are *Error values wrapping this package's sentinels or
// txframe's.
func (r *Reader) Next() (ev *Event, err error) {
	if r.opts.MapFiles {
		defer r.guard(debug.SetPanicOnFault(true), r.position(), &ev, &err)
	}
	if r.failed != nil {
		return nil, r.failed
	}
	if ev := r.pending; ev != nil {
		r.pending = nil
		return ev, nil
	}
	for {
		if r.in == nil {
			if err := r.openNext(); err != nil {
				return nil, err
			}
		}
		if r.inSeg {
			return r.inSegment()
		}
		ok, err := r.in.fill(4)
		if err != nil { // a compressed input cut short, or a read error
			return nil, r.errAt(r.in.off, r.expected(), truncated(err, "input stops where a segment header should start"))
		}
		if !ok && len(r.in.buffered()) == 0 {
			r.drop()
			continue
		}
		return r.header()
	}
}

// openNext starts the next input, or reports the end of the stream.
func (r *Reader) openNext() error {
	if r.idx == len(r.inputs) {
		if !r.started && !r.saidEmpty {
			r.saidEmpty = true
			return r.errAt(0, 0, ErrEmpty)
		}
		return io.EOF
	}
	in := r.inputs[r.idx]
	r.idx++
	if err := r.openInput(in); err != nil {
		r.saidEmpty = true // the input's own error says enough
		return &Error{Source: in.Name, Err: err}
	}
	if ok, err := r.in.fill(1); !ok && err == nil {
		r.saidEmpty = true
		r.drop()
		return &Error{Source: in.Name, Err: ErrEmpty}
	}
	return nil
}

// openInput makes r.in of in: mapped, read ahead, or read as it comes,
// decompressed and decrypted as it needs.
func (r *Reader) openInput(in Input) error {
	if r.opts.MapFiles && r.opts.ReadAhead && !r.opts.Quick && !r.opts.raw {
		if m, whole, tail, ok := mapInput(in.R); ok {
			r.in = &input{name: in.Name, ra: newMappedReadAhead(m, whole, tail, r.opts.Quick)}
			r.mapped++
			return nil
		}
	}
	src, err := in.R, error(nil)
	if !r.opts.raw {
		src, err = open(in.R, r.opts.Identities, r.opts.XZDictMax)
	}
	if err != nil {
		return err
	}
	if r.opts.ReadAhead {
		r.in = &input{name: in.Name, ra: newReadAhead(src, r.opts.Quick)}
	} else {
		r.in = newInput(in.Name, src, r.buf)
	}
	return nil
}

// drop is done with the current input, keeping its buffer for the next
// unless the buffer belongs to a read-ahead.
func (r *Reader) drop() {
	if r.in.ra == nil {
		r.buf = r.in.buf
	}
	r.in.close()
	r.in = nil
}

// Close stops reading ahead (Options.ReadAhead); a Reader without it has
// nothing to stop. Next is not to be called after Close.
func (r *Reader) Close() {
	r.in.close()
}

// expected is the LSN the stream expects next, for errors between
// segments: none before its first header.
func (r *Reader) expected() uint64 {
	if !r.started {
		return 0
	}
	return r.last + 1
}

func (r *Reader) header() (*Event, error) {
	off := r.in.off
	lsn := r.expected()
	if ok, err := r.in.fill(HeaderSize); !ok {
		if b := r.in.buffered(); len(b) >= 4 && !bytes.Equal(b[:4], headerMagic[:]) {
			return nil, r.errAt(off, lsn, fmt.Errorf("%w: no segment header (bytes % x)", ErrFormat, b[:4]))
		}
		return nil, r.errAt(off, lsn, truncated(err, "input ends inside a segment header"))
	}
	h, err := DecodeHeader(r.in.buffered())
	if err != nil {
		return nil, r.errAt(off, lsn, err)
	}
	var joinErr error
	if err := r.join(h); err != nil {
		if !r.opts.KeepGoing {
			return nil, r.errAt(off, h.Base, err)
		}
		joinErr, r.rejoined = r.errAt(off, h.Base, err), true
		r.skipTo, r.untied, r.last, r.lastHash, r.lastTime = 0, false, h.Base, h.BaseHash, 0
	}
	r.in.consume(HeaderSize)
	r.inSeg, r.hdr, r.segStart = true, h, off
	r.next, r.prev, r.prevTime = h.Base+1, h.BaseHash, 0
	if h.Base == r.last {
		r.prevTime = r.lastTime // commit times go on from where the stream is
	}
	if !r.untied {
		r.bounds[h.Base] = h.BaseHash
	}
	if !r.started {
		r.started, r.origin, r.last, r.lastHash = true, h.Origin, h.Base, h.BaseHash
	}
	ev := &Event{Kind: KindHeader, Source: r.in.name, Offset: off, Header: h}
	if joinErr != nil {
		r.pending = ev
		return nil, joinErr
	}
	return ev, nil
}

// join checks that a segment with header h continues the stream so far:
// its base is where the stream ends, or inside it with the same history.
func (r *Reader) join(h Header) error {
	r.skipTo, r.untied = 0, false
	if err := checkBase(h); err != nil || !r.started {
		return err
	}
	if err := continues(h, r.origin, r.last, r.lastHash); err != nil {
		return err
	}
	known, ok := r.bounds[h.Base]
	if ok && known != h.BaseHash {
		return txframe.SameHash(h.Base, h.BaseHash, known, "the segment's base", "the stream so far")
	}
	if h.Base < r.last {
		r.skipTo, r.untied = r.last, !ok
	}
	return nil
}

// checkBase refuses a header based at LSN 0 with a hash other than h(0).
func checkBase(h Header) error {
	if h.Base == 0 && h.BaseHash != (txframe.Hash{}) {
		return fmt.Errorf("%w: a segment based at LSN 0 must carry h(0) = 32 zero bytes, not %s", ErrFormat, h.BaseHash)
	}
	return nil
}

// continues checks that a segment with header h can follow a stream of
// origin that ends at LSN last with h(last) = lastHash: the same origin, a
// base not past last, and the same hash when the base is last. A base
// before last is an overlap, whose hashes the reader checks as it reads.
func continues(h Header, origin txframe.Origin, last uint64, lastHash txframe.Hash) error {
	if err := txframe.SameOrigin(h.Origin, origin, "this segment", "the stream so far"); err != nil {
		return err
	}
	switch {
	case h.Base > last:
		return fmt.Errorf("%w: segment starts after LSN %d, but the stream so far ends at LSN %d: %w",
			ErrGap, h.Base, last, &txframe.GapError{From: last + 1, To: h.Base})
	case h.Base == last:
		return txframe.SameHash(h.Base, h.BaseHash, lastHash, "the segment's base", "the stream so far")
	}
	return nil
}

// Resync moves on after Next returned an error, so that a checker can go on
// reporting: it skips to the next segment header in the current input that
// decodes (or to the end of the input) and returns how many bytes it
// skipped. What the stream had reached stays as it was, so the next
// segment's join is still checked and a hole left by the damage is reported
// as a gap.
func (r *Reader) Resync() (skipped int64) {
	if r.opts.MapFiles {
		defer r.guard(debug.SetPanicOnFault(true), r.position(), nil, nil) // a fault drops the input, as in Next
	}
	if r.rejoined { // KeepGoing took the segment on: read on inside it
		r.rejoined = false
		return 0
	}
	r.failed, r.inSeg = nil, false
	if r.in == nil {
		return 0
	}
	for first := true; ; first = false {
		b := r.in.buffered()
		from := 0
		if first && len(b) > 0 {
			from = 1 // never stop where the error was
		}
		if i := bytes.Index(b[from:], headerMagic[:]); i >= 0 {
			at := from + i
			r.in.consume(at)
			skipped += int64(at)
			if ok, _ := r.in.fill(HeaderSize); ok {
				if _, err := DecodeHeader(r.in.buffered()); err == nil {
					return skipped
				}
			}
			r.in.consume(1)
			skipped++
			continue
		}
		keep := min(len(b), len(headerMagic)-1)
		r.in.consume(len(b) - keep)
		skipped += int64(len(b) - keep)
		if ok, _ := r.in.fill(keep + 1); !ok {
			skipped += int64(len(r.in.buffered()))
			r.drop() // the rest of this input holds no header
			return skipped
		}
	}
}

// inSegment returns the next block of frames or the segment's end record.
func (r *Reader) inSegment() (*Event, error) {
	for {
		off := r.in.off
		ok, err := r.in.fill(4)
		if !ok {
			return nil, r.errAt(off, r.next, truncated(err, "input ends without the segment's end record, after LSN %d", r.next-1))
		}
		switch magic := r.in.buffered()[:4]; {
		case bytes.Equal(magic, frameMagic[:]):
			ev, err := r.frames(off)
			if ev != nil || err != nil {
				return ev, err
			}
		case bytes.Equal(magic, endMagic[:]):
			return r.end(off)
		default:
			return nil, r.errAt(off, r.next, fmt.Errorf("%w: expected a frame or an end record, found bytes % x", ErrFormat, magic))
		}
	}
}

// frames gathers the buffered run of whole frames starting at off. It
// returns no event when every frame it read was overlap.
func (r *Reader) frames(off int64) (*Event, error) {
	ev := &Event{Kind: KindFrames, Source: r.in.name, Header: r.hdr}
	start := -1
	r.prehash()
	for {
		b := r.in.buffered()
		if len(b) < 4 || !bytes.Equal(b[:4], frameMagic[:]) {
			break
		}
		n, err := txframe.FrameLen(b)
		if err == nil && len(b) < n {
			if start >= 0 {
				break // return what we have; the next call reads on
			}
			if ok, ferr := r.in.fill(n); !ok {
				return nil, r.errAt(r.in.off, r.next, truncated(ferr, "input ends inside the frame of LSN %d", r.next))
			}
			r.prehash() // the buffer moved and grew
			continue
		}
		if err != nil && !errors.Is(err, txframe.ErrIncomplete) {
			r.failed = r.errAt(r.in.off, r.next, err)
			if start < 0 {
				return nil, r.failed
			}
			break
		}
		if err != nil { // fewer than 8 bytes buffered
			if start >= 0 {
				break
			}
			if ok, ferr := r.in.fill(txframe.HeaderSize); !ok {
				return nil, r.errAt(r.in.off, r.next, truncated(ferr, "input ends inside the frame of LSN %d", r.next))
			}
			continue
		}
		hi, hinted := r.in.hint(n)
		if hinted {
			r.hinted++
		} else {
			hi.sum, hinted = r.sumAt(r.in.r, n)
			hi.hdr.Len = 0 // a body sum without a checked CRC
		}
		prev := r.prev
		h, err := r.check(b[:n], hi, hinted)
		if err != nil {
			r.failed = r.errAt(r.in.off, r.next, err)
			if start < 0 {
				return nil, r.failed
			}
			break // yield the good frames first
		}
		r.accept(h)
		if h.LSN <= r.skipTo { // overlap, all before the new frames
			r.in.consume(n)
			continue
		}
		if start < 0 {
			start, ev.Offset, ev.First, ev.Prev, ev.FirstTime = r.in.r, r.in.off, h.LSN, prev, h.Time
		}
		ev.Last, ev.LastHash, ev.LastTime = h.LSN, h.Hash, h.Time
		r.in.consume(n)
	}
	if start < 0 {
		return nil, nil
	}
	ev.Frames = r.in.buf[start:r.in.r]
	return ev, nil
}

// check verifies frame f against the segment so far. When known, pre is
// what was computed ahead: the SHA-256 of its body, and when pre.hdr.Len
// is not 0 its header as txframe.Peek returned it (CRC checked).
func (r *Reader) check(f []byte, pre hint, known bool) (txframe.Header, error) {
	h, bodySum := pre.hdr, pre.sum
	if !known || h.Len == 0 {
		var err error
		if h, err = txframe.Peek(f); err != nil {
			return h, err
		}
	}
	sum := &bodySum
	switch {
	case r.opts.Quick:
		sum = nil // the stored h(n) is taken as it is
	case !known:
		bodySum = txframe.BodySum(f)
	}
	if err := txframe.Follows(txframe.Tip{LSN: r.next - 1, Time: r.prevTime, Hash: r.prev}, f, h, sum); err != nil {
		return h, err
	}
	if h.LSN == r.skipTo {
		if err := txframe.SameHash(h.LSN, h.Hash, r.lastHash, "the overlapping segment", "the stream so far"); err != nil {
			return h, err
		}
	}
	if h.LSN == r.skipTo {
		r.tie() // its chain from h(base) reached h(T)
	}
	return h, nil
}

func (r *Reader) accept(h txframe.Header) {
	r.next++
	r.prev, r.prevTime = h.Hash, h.Time
	if h.LSN > r.last {
		r.last, r.lastHash, r.lastTime = h.LSN, h.Hash, h.Time
	}
}

func (r *Reader) end(off int64) (*Event, error) {
	if ok, err := r.in.fill(EndSize); !ok {
		return nil, r.errAt(off, r.next, truncated(err, "input ends inside an end record"))
	}
	e, err := DecodeEnd(r.in.buffered())
	if err != nil {
		return nil, r.errAt(off, r.next, err)
	}
	want := End{Frames: r.next - 1 - r.hdr.Base, First: r.hdr.Base + 1, Last: r.next - 1, LastHash: r.prev, Length: uint64(off - r.segStart)}
	if e != want {
		return nil, r.errAt(off, r.next, fmt.Errorf("%w: it says %d frames (LSN %d..%d, %d bytes), the segment holds %d (LSN %d..%d, %d bytes)",
			ErrEndMismatch, e.Frames, e.First, e.Last, e.Length, want.Frames, want.First, want.Last, want.Length))
	}
	known, ok := r.bounds[e.Last]
	if ok && known != e.LastHash {
		return nil, r.errAt(off, e.Last, txframe.SameHash(e.Last, e.LastHash, known, "the end record", "the stream so far"))
	}
	if !ok && r.skipTo > e.Last {
		return nil, r.errAt(off, e.Last, r.untiedErr(e))
	}
	r.tie() // it ends at a boundary seen, or past T
	r.bounds[e.Last] = e.LastHash
	r.in.consume(EndSize)
	r.inSeg = false
	return &Event{Kind: KindEnd, Source: r.in.name, Offset: off, Header: r.hdr, End: e}, nil
}

// truncated is ErrTruncated with what the input ended inside, and the
// cause when the input did not simply end (a decompression or read error),
// on one line.
func truncated(cause error, format string, args ...any) error {
	err := fmt.Errorf("%w: "+format, append([]any{ErrTruncated}, args...)...)
	if cause == nil {
		return err
	}
	return fmt.Errorf("%w: %w", err, cause)
}

// untiedErr refuses an overlapping segment that ends before the stream
// does at an LSN whose hash the reader does not know.
func (r *Reader) untiedErr(e End) error {
	if e.Frames == 0 {
		return fmt.Errorf("%w: a segment with no frames based at LSN %d, inside the stream read so far, which has no hash at LSN %d to check its base hash against; leave this input out",
			ErrHistory, e.Last, e.Last)
	}
	return fmt.Errorf("%w: the segment's LSNs %d..%d lie inside the stream read so far, which has no hash at LSN %d to check them against; leave this input out",
		ErrHistory, e.First, e.Last, e.Last)
}

// tie records the current segment's base as a boundary of the stream once
// its frames have proved h(base): the chain from it reached a hash the
// stream knows.
func (r *Reader) tie() {
	if r.untied {
		r.untied = false
		r.bounds[r.hdr.Base] = r.hdr.BaseHash
	}
}

func (r *Reader) errAt(off int64, lsn uint64, err error) error {
	name := ""
	if r.in != nil {
		name = r.in.name
	} else if r.idx > 0 {
		name = r.inputs[r.idx-1].Name
	}
	return &Error{Source: name, Offset: off, LSN: lsn, Err: err}
}
