package replica

import "golang.org/x/sys/unix"

// bytesReady asks how many bytes fd has ready to read: FIONREAD, which
// Linux names TIOCINQ, answers for pipes, sockets and terminals.
func bytesReady(fd uintptr) (int, bool) {
	n, err := unix.IoctlGetInt(int(fd), unix.TIOCINQ)
	return n, err == nil
}
