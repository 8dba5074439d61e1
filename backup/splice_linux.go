//go:build linux

package backup

import (
	"errors"
	"io"
	"os"
	"syscall"
)

// spliceOut moves checked frame blocks from the database's segment files
// into a pipe with splice(2), so that their bytes reach the pipe without
// being copied from user space: the page-cache pages themselves are put in
// the pipe. Everything else the stream writer writes (header, end record)
// is written as before.
//
// The frames are still checked first: the engine's FrameReader reads them
// (pread into its buffer) and checks each frame's bounds, CRC and LSN; the
// job then offers the block with the file and offset it was read from, and
// when the stream writer, having checked the LSNs again, writes exactly
// that slice, the same file range is spliced instead. The range is below
// the durable watermark of an append-only file, so its bytes are the ones
// checked. pread was chosen over mmap: it keeps one checked reader for
// every path, and a mapped file that shrinks under a damaged filesystem
// kills the process with SIGBUS, where a read returns an error.
//
// The first splice that the kernel refuses before moving anything (EINVAL:
// a file system or pipe that cannot splice; ENOSYS) turns the path off,
// and that block and all after it are written from the buffer.
type spliceOut struct {
	dst *os.File
	rc  syscall.RawConn

	src   *os.File // the offered block's file, nil when none is offered
	off   int64
	block []byte

	refusedOnce bool                                              // splice refused once: write from now on
	ahead       bool                                              // splice blocks after the first on a goroutine (splice_ahead_linux.go)
	spliceOK    bool                                              // a block has spliced whole
	pending     chan spliceDone                                   // the block spliced ahead, nil when none
	failed      error                                             // the failure of a block spliced ahead: every Write's after it
	dup, dupSrc *os.File                                          // the descriptor spliced ahead from, and whose duplicate it is
	spliced     func(n int)                                       // told of each block spliced (tests); may be nil
	spliceFn    func(src *os.File, off int64, n int) (int, error) // s.splice; tests fail it
}

// newSpliceOut returns a splicer into f when f is a pipe, else nil.
func newSpliceOut(f *os.File) *spliceOut {
	fi, err := f.Stat()
	if err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
		return nil
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return nil
	}
	s := &spliceOut{dst: f, rc: rc}
	s.spliceFn = s.splice
	return s
}

// offer says that block, about to be written, holds the bytes of src at
// off.
func (s *spliceOut) offer(src *os.File, off int64, block []byte) {
	s.src, s.off, s.block = src, off, block
}

// Write splices p from its file when p is the block offered, and writes
// it otherwise.
func (s *spliceOut) Write(p []byte) (int, error) {
	src, off, block := s.src, s.off, s.block
	s.src, s.block = nil, nil
	if err := s.wait(); err != nil {
		return 0, err
	}
	if s.refusedOnce || src == nil || len(p) == 0 || len(p) != len(block) || &p[0] != &block[0] {
		return s.dst.Write(p)
	}
	if s.ahead && s.spliceOK {
		return s.start(src, off, len(p))
	}
	n, err := s.spliceFn(src, off, len(p))
	if err == nil && s.spliced != nil {
		s.spliced(n)
	}
	s.spliceOK = s.spliceOK || err == nil
	if err != nil && refused(err) {
		s.refusedOnce = true // the rest of the block, and all after it, from the buffer
		m, werr := s.dst.Write(p[n:])
		return n + m, werr
	}
	return n, err
}

// refused reports whether a splice error means that this source or
// destination cannot splice, rather than that the write failed.
func refused(err error) bool {
	return errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.ENOSYS) || errors.Is(err, syscall.EOPNOTSUPP)
}

// spliceMax bounds one splice call: the kernel moves at most the pipe's
// free room per call anyway.
const spliceMax = 1 << 30

// splice moves n bytes of src from off into the pipe, waiting for room in
// a non-blocking pipe, until all are moved or an error. A source that ends
// early is io.ErrUnexpectedEOF: the bytes were checked, so they are there
// unless the file was cut under the backup.
func (s *spliceOut) splice(src *os.File, off int64, n int) (int, error) {
	srcRC, err := src.SyscallConn()
	if err != nil {
		return 0, err
	}
	done := 0
	var serr error
	cerr := srcRC.Control(func(sfd uintptr) {
		werr := s.rc.Write(func(dfd uintptr) bool {
			for done < n {
				o := off + int64(done)
				m, err := syscall.Splice(int(sfd), &o, int(dfd), nil, min(n-done, spliceMax), spliceMoreFlags)
				switch {
				case err == syscall.EINTR:
					continue
				case err == syscall.EAGAIN:
					return false // wait for room in a non-blocking pipe
				case err != nil:
					serr = &os.SyscallError{Syscall: "splice", Err: err}
					return true
				case m == 0:
					serr = io.ErrUnexpectedEOF
					return true
				}
				done += int(m)
			}
			return true
		})
		if serr == nil {
			serr = werr
		}
	})
	if cerr != nil {
		return done, cerr
	}
	return done, serr
}

// spliceMoreFlags: SPLICE_F_MOVE is only a hint; no SPLICE_F_NONBLOCK, so
// that a blocking pipe blocks in the kernel rather than spinning.
const spliceMoreFlags = 0x1
