//go:build linux

package server

import (
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"syscall"

	"github.com/hotpipe/hotpipe/backup"
)

// zeroCopyStream reports whether a backup answering r may send its frame
// blocks from the segment files into the connection (sockStream): plain
// HTTP/1.1 only, since TLS encrypts in user space and HTTP/2 has no
// connection to take over; and not a following or paced backup, which
// copies are not what bounds: their client, idle or slow for long, is
// better watched by net/http (which stops the request's context when it
// goes away, and closes its connection at Shutdown).
func zeroCopyStream(r *http.Request, opts backup.Options) bool {
	return r.TLS == nil && r.ProtoAtLeast(1, 1) && r.ProtoMajor == 1 && !opts.Follow && opts.MaxRate == 0
}

// sendMax bounds one sendfile call.
const sendMax = 1 << 30

// sendRange sends n bytes of src from off into conn with sendfile(2),
// waiting for room in the socket, until all are sent or an error. A
// source that ends early is io.ErrUnexpectedEOF: the bytes were checked,
// so they are there unless the file was cut under the backup.
func sendRange(conn net.Conn, src *os.File, off int64, n int) (int, error) {
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return 0, errors.ErrUnsupported
	}
	dst, err := sc.SyscallConn()
	if err != nil {
		return 0, err
	}
	srcRC, err := src.SyscallConn()
	if err != nil {
		return 0, err
	}
	done := 0
	var serr error
	cerr := srcRC.Control(func(sfd uintptr) {
		werr := dst.Write(func(dfd uintptr) bool {
			for done < n {
				o := off + int64(done)
				m, err := syscall.Sendfile(int(dfd), int(sfd), &o, min(n-done, sendMax))
				if err == nil {
					done += m
				}
				switch {
				case err == syscall.EINTR:
					continue
				case err == syscall.EAGAIN:
					return false // wait for room in the socket
				case err != nil:
					serr = &os.SyscallError{Syscall: "sendfile", Err: err}
					return true
				case m == 0:
					serr = io.ErrUnexpectedEOF
					return true
				}
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

// refused reports whether a sendfile error means that this source or
// connection cannot send files, rather than that the send failed.
func refused(err error) bool {
	return errors.Is(err, errors.ErrUnsupported) || errors.Is(err, syscall.EINVAL) ||
		errors.Is(err, syscall.ENOSYS) || errors.Is(err, syscall.EOPNOTSUPP)
}
