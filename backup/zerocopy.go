package backup

import (
	"errors"
	"io"
	"os"

	"github.com/hotpipe/hotpipe/engine"
)

// RangeWriter is an output that can send a frame block from the segment
// file it was read from (with sendfile or splice) instead of writing the
// copy in the buffer: the server's socket streams are one. Backup offers
// it every frame block of a plain backup; an encrypted one writes
// ciphertext, which is not in any file, and offers none.
type RangeWriter interface {
	io.Writer
	// OfferRange says that block, about to be written, holds the bytes
	// of f at off, read from there by the engine's reader, which checked
	// every frame's bounds, CRC and LSN. The range is durable and never
	// changes; f is the reader's, valid until the Write of block returns,
	// and must be used only with offsets. A Write of anything but exactly
	// block (the same slice) must write what it is given.
	OfferRange(f *os.File, off int64, block []byte)
}

// offerer is told where each frame block about to be written lies; finish
// waits for what it still sends (a block spliced ahead) and says how that
// ended.
type offerer interface {
	offer(f *os.File, off int64, block []byte)
	finish() error
}

// rangeOfferer passes the offers on to a RangeWriter.
type rangeOfferer struct{ w RangeWriter }

func (r rangeOfferer) offer(f *os.File, off int64, block []byte) { r.w.OfferRange(f, off, block) }

// finish: a RangeWriter sends each block within its Write.
func (r rangeOfferer) finish() error { return nil }

// zeroCopy makes the output of a plain backup into a pipe a spliceOut, so
// that frame blocks move from the segment files into the pipe without a
// copy through user space (see spliceOut), and offers the frame blocks to
// a RangeWriter. An encrypted backup writes ciphertext, which is not in
// any file, and other outputs are written.
func (j *job) zeroCopy(w io.Writer) {
	if j.enc != nil || j.opts.plain {
		return
	}
	if rw, ok := w.(RangeWriter); ok {
		j.zc = rangeOfferer{rw}
		return
	}
	f, ok := w.(*os.File)
	if !ok {
		return
	}
	if s := newSpliceOut(f); s != nil {
		s.spliced = j.opts.spliced
		s.ahead = true
		if j.opts.spliceWrap != nil {
			s.wrap(j.opts.spliceWrap)
		}
		j.zc, j.out = s, s
	}
}

// offer tells the zero-copy output where the block about to be written
// lies in the database's files.
func (j *job) offer(r *engine.FrameReader, block []byte) {
	if j.zc == nil {
		return
	}
	if f := r.BlockFile(); f != nil {
		_, off := r.Position()
		j.zc.offer(f, off, block)
	}
}

// aheadError is the failure of a block spliced ahead (splice_ahead_linux.go),
// returned by the write after it.
type aheadError struct{ err error }

func (e *aheadError) Error() string { return e.err.Error() }
func (e *aheadError) Unwrap() error { return e.err }

// sent notes what the Result said before the block just written: while
// that block is spliced ahead, it is not yet known to have left.
func (j *job) sent(before Result) {
	if j.zc != nil {
		j.before = before
	}
}

// unsent takes the block spliced ahead out of the Result when its splice
// failed, so that the Result says how far the output got.
func (j *job) unsent(err error) {
	var ae *aheadError
	if j.zc == nil || !errors.As(err, &ae) {
		return
	}
	j.res.Last, j.res.LastTime, j.res.Frames, j.res.Bytes = j.before.Last, j.before.LastTime, j.before.Frames, j.before.Bytes
}

// finishZeroCopy waits for the block spliced ahead, if any, and releases
// what the splicer holds; err is the backup's outcome so far.
func (j *job) finishZeroCopy(err error) error {
	if j.zc == nil {
		return err
	}
	if ferr := j.zc.finish(); ferr != nil {
		j.unsent(ferr)
		if err == nil {
			j.res.Ended = false
			return j.writeErr(ferr)
		}
	}
	return err
}
