//go:build linux

package backup

import (
	"fmt"
	"os"
	"sync/atomic"
	"syscall"

	"github.com/hotpipe/hotpipe/txframe"
)

// Splicing ahead: once a block has been spliced into the pipe, later
// blocks are spliced on a goroutine while the backup reads and checks the
// next block, so that a pipe whose reader is behind stops the splice but
// not the check. One block is in flight at a time, and every other write
// (the end record, a written block) waits for it first, so the stream's
// order is the write path's. A block is offered only after the engine's
// reader checked every frame of it, so nothing unchecked leaves sooner.
//
// The in-flight splice reads a duplicate of the segment file's descriptor,
// so the reader may close its file and open the next one meanwhile. Its
// failure is returned by the next Write (or by finish), wrapped in an
// *aheadError so that the backup can take that block out of its Result.

// spliceDone is what a splice ahead returns.
type spliceDone struct {
	n   int
	err error
}

// aheadRunning counts the goroutines splicing ahead (tests: none is left
// after a backup returns).
var aheadRunning atomic.Int64

// start splices n bytes of src at off on a goroutine and returns at once.
func (s *spliceOut) start(src *os.File, off int64, n int) (int, error) {
	f, err := s.dupOf(src)
	if err != nil {
		return 0, err
	}
	done := make(chan spliceDone, 1)
	s.pending = done
	aheadRunning.Add(1)
	go func() {
		m, err := s.spliceFn(f, off, n)
		if s.spliced != nil && (err == nil || m > 0 && refused(err)) {
			s.spliced(m) // the bytes spliced, not those written after a refusal
		}
		if err != nil && refused(err) {
			var w int
			w, err = s.writeChecked(f, off+int64(m), off, n)
			m += w
		}
		aheadRunning.Add(-1) // before the send: a receiver sees it
		done <- spliceDone{m, err}
	}()
	return n, nil
}

// wait returns when no splice is in flight, with the failure of the one
// that was, if it failed.
func (s *spliceOut) wait() error {
	if s.pending == nil {
		return nil
	}
	d := <-s.pending
	s.pending = nil
	if d.err != nil {
		s.failed = &aheadError{d.err}
	}
	return s.failed
}

// finish waits for the splice in flight and releases the duplicate
// descriptor. The spliceOut writes nothing after it.
func (s *spliceOut) finish() error {
	err := s.wait()
	if s.dup != nil {
		s.dup.Close()
		s.dup, s.dupSrc = nil, nil
	}
	return err
}

// dupOf returns a descriptor of src's file that the spliceOut owns, made
// once per file.
func (s *spliceOut) dupOf(src *os.File) (*os.File, error) {
	if s.dupSrc == src {
		return s.dup, nil
	}
	rc, err := src.SyscallConn()
	if err != nil {
		return nil, err
	}
	nfd, serr := -1, error(nil)
	if err := rc.Control(func(fd uintptr) {
		r, _, errno := syscall.Syscall(syscall.SYS_FCNTL, fd, syscall.F_DUPFD_CLOEXEC, 0)
		if errno != 0 {
			serr = &os.SyscallError{Syscall: "fcntl", Err: errno}
			return
		}
		nfd = int(r)
	}); err != nil {
		return nil, err
	}
	if serr != nil {
		return nil, serr
	}
	if s.dup != nil {
		s.dup.Close()
	}
	s.dup, s.dupSrc = os.NewFile(uintptr(nfd), src.Name()), src
	return s.dup, nil
}

// writeChecked writes bytes from..off+n of f after a refused splice moved
// those before from: the spliceOut no longer has the checked block, so it
// reads the block again and checks its frames' CRCs before writing any of
// it, as the engine's reader did.
func (s *spliceOut) writeChecked(f *os.File, from, off int64, n int) (int, error) {
	s.refusedOnce = true // the blocks after this one are written from the reader's buffer
	b := make([]byte, n)
	if _, err := f.ReadAt(b, off); err != nil {
		return 0, fmt.Errorf("reading a block again after a refused splice: %w", err)
	}
	for p := 0; p < n; {
		h, err := txframe.Peek(b[p:])
		if err != nil {
			return 0, fmt.Errorf("%s offset %d, read again after a refused splice: %w", f.Name(), off+int64(p), err)
		}
		p += h.Len
	}
	return s.dst.Write(b[from-off:])
}

// wrap wraps the splice call (tests).
func (s *spliceOut) wrap(w func(func(*os.File, int64, int) (int, error)) func(*os.File, int64, int) (int, error)) {
	s.spliceFn = w(s.spliceFn)
}
