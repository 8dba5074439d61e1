//go:build unix

package main

import (
	"os"
	"syscall"
)

// isTerminalPath reports whether path names a terminal. Only a character
// device is opened to ask, with O_NOCTTY so that opening it cannot make it
// this process's controlling terminal.
func isTerminalPath(path string) bool {
	fi, err := os.Stat(path)
	if err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		return false
	}
	f, err := os.OpenFile(path, os.O_WRONLY|syscall.O_NOCTTY, 0)
	if err != nil {
		return false
	}
	defer f.Close()
	return isTerminal(f)
}
