//go:build linux

package server

import (
	"errors"
	"io"
	"os"
	"syscall"
	"unsafe"
)

// rawSplice: a backup's answer comes on a connection of its own, to be
// spliced into a pipe (rawBackup).
const rawSplice = true

// splice(2) flags.
const (
	spliceMove     = 0x1
	spliceNonblock = 0x2
)

// poll(2) events.
const (
	pollIn  = 0x1
	pollOut = 0x4
)

// pollWait is how long one wait for the socket or the pipe lasts before
// the body's close is looked at again.
const pollWait = 100 // ms

// spliceTo moves the rest of the body into the pipe dst: each chunk's
// bytes that the reader's buffer holds are written, the rest spliced from
// the socket into the pipe, so that they never pass through user space.
// readErr is io.EOF at the body's end (the trailers read); writeErr is an
// error writing dst. A kernel that refuses to splice (EINVAL) gets the
// rest copied.
func (b *rawBody) spliceTo(dst *os.File) (n int64, readErr, writeErr error) {
	src, ok := b.conn.(syscall.Conn)
	if !ok {
		return copySides(b, dst)
	}
	srcRC, err := src.SyscallConn()
	if err != nil {
		return copySides(b, dst)
	}
	dstRC, err := dst.SyscallConn()
	if err != nil {
		return copySides(b, dst)
	}
	widen(dstRC)
	for {
		if b.left == 0 {
			if err := b.next(); err != nil {
				return n, err, nil
			}
		}
		if k := min(int64(b.br.Buffered()), b.left); k > 0 {
			p, _ := b.br.Peek(int(k))
			m, err := dst.Write(p)
			n += int64(m)
			_, _ = b.br.Discard(m)
			b.left -= int64(m)
			if err != nil {
				return n, nil, err
			}
			continue
		}
		m, rerr, werr := b.spliceChunk(srcRC, dstRC)
		n += m
		b.left -= m
		switch {
		case werr != nil:
			return n, nil, werr
		case rerr != nil && errors.Is(rerr, syscall.EINVAL) && m == 0:
			k, rerr, werr := copySides(b, dst)
			return n + k, rerr, werr
		case rerr != nil:
			b.err = rerr
			return n, rerr, nil
		}
	}
}

// spliceChunk splices what is left of the current chunk from the socket
// into the pipe, waiting (in poll, checking for a close every pollWait)
// while the socket is empty or the pipe full.
func (b *rawBody) spliceChunk(srcRC, dstRC syscall.RawConn) (n int64, readErr, writeErr error) {
	var cerr error
	err := srcRC.Control(func(sfd uintptr) {
		cerr = dstRC.Control(func(dfd uintptr) {
			for b.left-n > 0 {
				if b.closed.Load() {
					readErr = os.ErrClosed
					return
				}
				m, err := syscall.Splice(int(sfd), nil, int(dfd), nil, int(min(b.left-n, 1<<30)), spliceMove|spliceNonblock)
				switch {
				case err == syscall.EINTR:
				case err == syscall.EAGAIN:
					readErr = waitFor(int(sfd), pollIn)
					if readErr == nil {
						writeErr = waitFor(int(dfd), pollOut)
					}
					if readErr != nil || writeErr != nil {
						return
					}
				case err == syscall.EPIPE:
					writeErr = &os.PathError{Op: "write", Path: "pipe", Err: err}
					return
				case err != nil:
					readErr = &os.SyscallError{Syscall: "splice", Err: err}
					return
				case m == 0:
					readErr = io.ErrUnexpectedEOF
					return
				default:
					n += m
				}
			}
		})
	})
	if readErr == nil && writeErr == nil {
		readErr = errors.Join(err, cerr)
	}
	return n, readErr, writeErr
}

// waitFor waits until fd is ready for events (or has an error or hang-up,
// which the next splice reports), pollWait at a time.
func waitFor(fd int, events int16) error {
	fds := [1]struct {
		fd              int32
		events, revents int16
	}{{fd: int32(fd), events: events}}
	ts := syscall.NsecToTimespec(pollWait * 1e6)
	for {
		n, _, errno := syscall.Syscall6(syscall.SYS_PPOLL, uintptr(unsafe.Pointer(&fds[0])), 1, uintptr(unsafe.Pointer(&ts)), 0, 0, 0)
		switch {
		case errno == syscall.EINTR:
		case errno != 0:
			return &os.SyscallError{Syscall: "ppoll", Err: errno}
		case n > 0:
			return nil
		default:
			return nil // timed out: the caller looks at the close and splices again
		}
	}
}

// widen asks for a 1 MiB pipe buffer (F_SETPIPE_SZ), best effort.
func widen(rc syscall.RawConn) {
	_ = rc.Control(func(fd uintptr) { syscall.Syscall(syscall.SYS_FCNTL, fd, 1031, 1<<20) })
}
