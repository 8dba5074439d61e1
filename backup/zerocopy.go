package backup

import (
	"errors"
	"io"
	"os"

	"github.com/hotpipe/hotpipe/engine"
)

// zeroCopy makes the output of a plain backup into a pipe a spliceOut, so
// that frame blocks move from the segment files into the pipe without a
// copy through user space (see spliceOut). An encrypted backup writes
// ciphertext, which is not in any file, and other outputs are written.
func (j *job) zeroCopy(w io.Writer) {
	f, ok := w.(*os.File)
	if !ok || j.enc != nil || j.opts.plain {
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
