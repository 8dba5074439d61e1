//go:build linux

package main

import (
	"io"
	"os"
	"syscall"
	"unsafe"
)

// isatty asks the terminal driver whether f is a terminal (TCGETS).
func isatty(f *os.File) bool {
	rc, err := f.SyscallConn()
	if err != nil {
		return false
	}
	tty := false
	rc.Control(func(fd uintptr) {
		var t syscall.Termios
		_, _, errno := syscall.Syscall(syscall.SYS_IOCTL, fd, syscall.TCGETS, uintptr(unsafe.Pointer(&t)))
		tty = errno == 0
	})
	return tty
}

// fSetPipeSz is fcntl's F_SETPIPE_SZ (Linux).
const fSetPipeSz = 1031

// widenPipe asks for a 1 MiB pipe buffer when w is a pipe, so that a backup
// writing 1 MiB blocks hands each to its reader in one step instead of
// sixteen 64 KiB ones. It is best effort: a smaller limit is fine.
func widenPipe(w io.Writer) {
	f, ok := w.(*os.File)
	if !ok {
		return
	}
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
