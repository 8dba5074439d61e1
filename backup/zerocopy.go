package backup

import (
	"fmt"
	"io"
	"os"

	"github.com/hotpipe/hotpipe/engine"
)

// zeroCopier is an output that can move a block from the database's file
// instead of writing it: offer says where the block about to be written
// lies, and Write moves it when it is handed exactly that block.
type zeroCopier interface {
	io.Writer
	offer(src *os.File, off int64, block []byte)
}

// errShortSource: a segment file ended before the frames that were checked
// in it, which only a file cut under the backup does.
var errShortSource = fmt.Errorf("%w: the segment file ends before its checked frames", io.ErrUnexpectedEOF)

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
		j.zc, j.out = s, s
	}
}

// zeroCopyFile makes the output of File or Append, when it is not
// encrypted, a rangeOut: frame blocks are copied file to file by the
// kernel (see rangeOut).
func (j *job) zeroCopyFile(o *outFile) {
	if len(j.opts.Recipients) > 0 || j.opts.plain {
		return
	}
	if r := newRangeOut(o); r != nil {
		r.spliced = j.opts.spliced
		if j.opts.copyRange != nil {
			r.copyFn = j.opts.copyRange
		}
		j.zc, j.out = r, r
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
