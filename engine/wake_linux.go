//go:build linux

package engine

import (
	"errors"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// watchFile watches path with inotify and calls event after each write to
// it, coalesced: one call for the writes made since the last read of the
// watch. It calls ended once, and stops, when the file is removed, renamed
// or its watch fails; Close stops it without calling ended. The inotify
// descriptor is non-blocking and read through Go's poller, so a waiting
// watch holds no thread.
func watchFile(path string, event, ended func()) (watchCloser, error) {
	fd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err != nil {
		return nil, os.NewSyscallError("inotify_init1", err)
	}
	const mask = unix.IN_MODIFY | unix.IN_ATTRIB | unix.IN_DELETE_SELF | unix.IN_MOVE_SELF
	if _, err := unix.InotifyAddWatch(fd, path, mask); err != nil {
		unix.Close(fd)
		return nil, &os.PathError{Op: "inotify_add_watch", Path: path, Err: err}
	}
	f := os.NewFile(uintptr(fd), "inotify:"+path)
	w := &inotifyWatch{f: f, done: make(chan struct{})}
	go w.run(event, ended)
	return w, nil
}

type inotifyWatch struct {
	f    *os.File
	done chan struct{} // closed when run returns
}

// run reads events until the file goes or the watch is closed.
func (w *inotifyWatch) run(event, ended func()) {
	defer close(w.done)
	var buf [4096]byte
	for {
		n, err := w.f.Read(buf[:])
		if errors.Is(err, os.ErrClosed) {
			return // Close: no callback
		}
		if err != nil || n < unix.SizeofInotifyEvent {
			w.f.Close()
			ended()
			return
		}
		modified, gone := parseEvents(buf[:n])
		if modified {
			event()
		}
		if gone {
			w.f.Close()
			ended()
			return
		}
	}
}

// parseEvents reads a buffer of inotify events: whether the file was
// written, and whether it (or the watch) is gone. A link count change
// (IN_ATTRIB) counts as gone: the file may have been unlinked, and the
// next watch is set on whatever the path names then.
func parseEvents(b []byte) (modified, gone bool) {
	for len(b) >= unix.SizeofInotifyEvent {
		ev := (*unix.InotifyEvent)(unsafe.Pointer(&b[0]))
		size := unix.SizeofInotifyEvent + int(ev.Len)
		if size > len(b) {
			return modified, true // never from the kernel: stop watching
		}
		switch {
		case ev.Mask&unix.IN_Q_OVERFLOW != 0:
			modified = true
		case ev.Mask&(unix.IN_ATTRIB|unix.IN_DELETE_SELF|unix.IN_MOVE_SELF|unix.IN_IGNORED|unix.IN_UNMOUNT) != 0:
			gone = true
		case ev.Mask&unix.IN_MODIFY != 0:
			modified = true
		}
		b = b[size:]
	}
	return modified, gone
}

// Close stops the watch and waits for its goroutine.
func (w *inotifyWatch) Close() error {
	err := w.f.Close()
	<-w.done
	if errors.Is(err, os.ErrClosed) {
		err = nil // run closed it when the file went
	}
	return err
}
