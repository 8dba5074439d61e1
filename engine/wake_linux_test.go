//go:build linux

package engine

import (
	"encoding/binary"
	"testing"

	"golang.org/x/sys/unix"
)

func inotifyEvent(mask uint32, name string) []byte {
	n := 0
	if name != "" {
		n = (len(name) + 16) &^ 15
	}
	b := make([]byte, unix.SizeofInotifyEvent+n)
	binary.NativeEndian.PutUint32(b[4:], mask)
	binary.NativeEndian.PutUint32(b[12:], uint32(n))
	copy(b[unix.SizeofInotifyEvent:], name)
	return b
}

func TestParseEvents(t *testing.T) {
	join := func(bs ...[]byte) []byte {
		var all []byte
		for _, b := range bs {
			all = append(all, b...)
		}
		return all
	}
	for _, tc := range []struct {
		name           string
		b              []byte
		modified, gone bool
	}{
		{name: "modify", b: inotifyEvent(unix.IN_MODIFY, ""), modified: true},
		{name: "two modifies", b: join(inotifyEvent(unix.IN_MODIFY, ""), inotifyEvent(unix.IN_MODIFY, "")), modified: true},
		{name: "overflow", b: inotifyEvent(unix.IN_Q_OVERFLOW, ""), modified: true},
		{name: "unlinked", b: inotifyEvent(unix.IN_ATTRIB, ""), gone: true},
		{name: "modified then deleted", b: join(inotifyEvent(unix.IN_MODIFY, ""), inotifyEvent(unix.IN_DELETE_SELF, ""),
			inotifyEvent(unix.IN_IGNORED, "")), modified: true, gone: true},
		{name: "moved", b: inotifyEvent(unix.IN_MOVE_SELF, ""), gone: true},
		{name: "name longer than the buffer", b: inotifyEvent(unix.IN_MODIFY, "DURABLE")[:unix.SizeofInotifyEvent+4], gone: true},
		{name: "short", b: make([]byte, 3)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, g := parseEvents(tc.b)
			if m != tc.modified || g != tc.gone {
				t.Fatalf("parseEvents = modified %v, gone %v; want %v, %v", m, g, tc.modified, tc.gone)
			}
		})
	}
}
