//go:build linux

package backup

import (
	"os"
	"syscall"
	"unsafe"
)

// ppoll event bits (poll(2)).
const (
	pollOut = 0x4
	pollErr = 0x8
	pollHup = 0x10
)

// readerGone reports whether f is a pipe (or socket) whose reading end has
// closed. A following backup writes only when there is something to send;
// this lets it notice, while idle, that nobody is listening.
func readerGone(f *os.File) bool {
	rc, err := f.SyscallConn()
	if err != nil {
		return false
	}
	gone := false
	rc.Control(func(fd uintptr) {
		fds := [1]struct {
			fd              int32
			events, revents int16
		}{{fd: int32(fd), events: pollOut}}
		var zero syscall.Timespec
		n, _, errno := syscall.Syscall6(syscall.SYS_PPOLL, uintptr(unsafe.Pointer(&fds[0])), 1, uintptr(unsafe.Pointer(&zero)), 0, 0, 0)
		gone = errno == 0 && n == 1 && fds[0].revents&(pollErr|pollHup) != 0
	})
	return gone
}

// fSetPipeSz is fcntl's F_SETPIPE_SZ (Linux).
const fSetPipeSz = 1031

// widenPipe asks for a 1 MiB pipe buffer when f is a pipe, so that a backup
// writing 1 MiB blocks hands each to its reader in one step instead of
// sixteen 64 KiB ones. It is best effort: a smaller limit is fine.
func widenPipe(f *os.File) {
	if fi, err := f.Stat(); err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
		return
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return
	}
	rc.Control(func(fd uintptr) {
		syscall.Syscall(syscall.SYS_FCNTL, fd, fSetPipeSz, 1<<20)
	})
}
