package backup

import (
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
