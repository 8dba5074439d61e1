//go:build linux

// openPTY and ioctl are signals_test.go's.

package main

import (
	"slices"
	"syscall"
	"testing"
	"unsafe"
)

// TestTTYLock: two opens of one terminal exclude each other, as two
// processes of a pipeline do; letting go lets the other draw.
func TestTTYLock(t *testing.T) {
	tty := openPTY(t)
	a, b := openTTYLock(tty), openTTYLock(tty)
	if a == nil || b == nil {
		t.Fatalf("cannot open %s anew for its lock", tty.Name())
	}
	defer b.unlock()
	if !a.tryLock() {
		t.Fatal("the first cannot take a free terminal")
	}
	if b.tryLock() {
		t.Fatal("the second took the terminal the first holds")
	}
	if !a.tryLock() {
		t.Fatal("the holder cannot take it again")
	}
	a.unlock()
	if !b.tryLock() {
		t.Fatal("the second cannot take the terminal the first let go")
	}
}

// TestTTYPaths finds a terminal by its device, as systems without /proc do.
func TestTTYPaths(t *testing.T) {
	tty := openPTY(t)
	fi, err := tty.Stat()
	if err != nil {
		t.Fatal(err)
	}
	if got := ttyPaths(fi); !slices.Contains(got, tty.Name()) {
		t.Fatalf("ttyPaths = %q, want %s among them", got, tty.Name())
	}
}

func TestTerminalWidth(t *testing.T) {
	tty := openPTY(t)
	t.Setenv("COLUMNS", "")
	if w := terminalWidth(tty); w != 80 {
		t.Errorf("a terminal of no size and no $COLUMNS: width %d, want 80", w)
	}
	t.Setenv("COLUMNS", "40")
	if w := terminalWidth(tty); w != 40 {
		t.Errorf("a terminal of no size and COLUMNS=40: width %d, want 40", w)
	}
	ws := struct{ rows, cols, x, y uint16 }{rows: 24, cols: 132}
	if err := ioctl(tty, syscall.TIOCSWINSZ, unsafe.Pointer(&ws)); err != nil {
		t.Fatal(err)
	}
	if w := terminalWidth(tty); w != 132 {
		t.Errorf("a 132-column terminal: width %d, want 132", w)
	}
}
