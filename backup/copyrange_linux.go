//go:build linux

package backup

import (
	"errors"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// rangeOut moves checked frame blocks from the database's segment files
// into a backup file (File, Append) with copy_file_range(2): the kernel
// copies page-cache pages file to file (or shares the blocks, a reflink,
// where the file system can and the ranges allow), and no byte goes
// through user space. The header and end records are written as before.
//
// It writes through the outFile's books: each block counts in its size,
// a failed copy is its fault like a failed write (nothing is synced after
// it, and the file is taken back), and the fsync rules of File and Append
// are unchanged: copied bytes are durable only after the file's fsync, as
// written ones. A copy the kernel refuses before it moved anything
// (EXDEV, EINVAL, ENOSYS, EOPNOTSUPP: file systems that cannot) turns the
// path off, and that block and all after it are written.
type rangeOut struct {
	o *outFile

	src   *os.File
	off   int64
	block []byte

	refusedOnce bool
	spliced     func(n int)                                       // told of each block copied (tests); may be nil
	copyFn      func(src *os.File, off int64, n int) (int, error) // r.copy; tests fail it
}

// newRangeOut returns the zero-copy path into o, or nil when o is written
// through a test's seam.
func newRangeOut(o *outFile) *rangeOut {
	if o.w != syncWriter(o.f) {
		return nil
	}
	r := &rangeOut{o: o}
	r.copyFn = r.copy
	return r
}

func (r *rangeOut) offer(src *os.File, off int64, block []byte) {
	r.src, r.off, r.block = src, off, block
}

// Write copies p from its file when p is the block offered, and writes it
// otherwise.
func (r *rangeOut) Write(p []byte) (int, error) {
	src, off, block := r.src, r.off, r.block
	r.src, r.block = nil, nil
	o := r.o
	if r.refusedOnce || o.fault != nil || src == nil || len(p) == 0 || len(p) != len(block) || &p[0] != &block[0] {
		return o.Write(p)
	}
	n, err := r.copyFn(src, off, len(p))
	o.size += int64(n)
	if err != nil && refusedRange(err) {
		r.refusedOnce = true
		m, werr := o.Write(p[n:])
		return n + m, werr
	}
	if err != nil {
		o.fault = err
		return n, err
	}
	if r.spliced != nil {
		r.spliced(n)
	}
	return n, nil
}

// refusedRange reports whether a copy_file_range error means that these
// files cannot be copied between, rather than that the write failed.
func refusedRange(err error) bool {
	return errors.Is(err, syscall.EXDEV) || errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.ENOSYS) ||
		errors.Is(err, syscall.EOPNOTSUPP)
}

// copy copies n bytes of src from off to the backup file at its file
// position, which it advances. A source that ends early is
// io.ErrUnexpectedEOF, as in splice.
func (r *rangeOut) copy(src *os.File, off int64, n int) (int, error) {
	sfd, dfd := int(src.Fd()), int(r.o.f.Fd())
	done := 0
	for done < n {
		o := off + int64(done)
		m, err := unix.CopyFileRange(sfd, &o, dfd, nil, n-done, 0)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return done, &os.SyscallError{Syscall: "copy_file_range", Err: err}
		}
		if m == 0 {
			return done, errShortSource
		}
		done += m
	}
	return done, nil
}
