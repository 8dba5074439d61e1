//go:build unix && !aix && !solaris

package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// ttyLock is a terminal's lock: the processes of a pipeline that share a
// terminal as stderr take it to draw their progress line, one at a time.
// flock belongs to an open file description, and fd 2 is one description
// shared by every process of the pipeline (each inherited it), so the lock
// is taken on a new open of the terminal, one per process.
type ttyLock interface {
	tryLock() bool // takes the lock if no other process holds it
	unlock()       // lets it go
}

type flockTTY struct{ f *os.File }

// openTTYLock opens the terminal f is anew, for its lock; nil when it
// cannot (then progress draws without one). Processes lock the same
// terminal only when they name it the same way: one writing to /dev/tty
// and one to /dev/pts/3 lock different files.
func openTTYLock(f *os.File) ttyLock {
	fi, err := f.Stat()
	if err != nil {
		return nil
	}
	open := func(path string) ttyLock {
		t, err := os.OpenFile(path, os.O_WRONLY|syscall.O_NOCTTY, 0)
		if err != nil {
			return nil
		}
		if ti, err := t.Stat(); err == nil && os.SameFile(fi, ti) {
			return &flockTTY{f: t}
		}
		t.Close()
		return nil
	}
	var l ttyLock
	withFd(f, func(fd int) { l = open("/proc/self/fd/" + strconv.Itoa(fd)) })
	if l != nil {
		return l
	}
	for _, path := range ttyPaths(fi) {
		if l = open(path); l != nil {
			return l
		}
	}
	return nil
}

// ttyPaths finds the terminal fi names among /dev's terminals, for systems
// without /proc (where /dev/fd/N would be the same description again).
func ttyPaths(fi os.FileInfo) []string {
	var found []string
	for _, dir := range []string{"/dev/pts", "/dev"} {
		entries, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, e := range entries {
			if dir == "/dev" && !strings.HasPrefix(e.Name(), "tty") {
				continue
			}
			path := filepath.Join(dir, e.Name())
			if di, err := os.Stat(path); err == nil && os.SameFile(fi, di) {
				found = append(found, path)
			}
		}
	}
	return found
}

func (t *flockTTY) tryLock() bool {
	ok := false
	withFd(t.f, func(fd int) { ok = syscall.Flock(fd, syscall.LOCK_EX|syscall.LOCK_NB) == nil })
	return ok
}

// unlock closes the file, which lets the lock go.
func (t *flockTTY) unlock() { t.f.Close() }
