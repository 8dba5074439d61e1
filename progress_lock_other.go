//go:build !unix || aix || solaris

package main

import "os"

// ttyLock is a terminal's lock (see progress_lock_unix.go). Here there is
// none (syscall has no flock on this system): progress draws without one,
// and two processes of a pipeline may both draw on one terminal.
type ttyLock interface {
	tryLock() bool
	unlock()
}

func openTTYLock(*os.File) ttyLock { return nil }
