//go:build !unix

package main

import "os"

// isTerminalPath reports whether path names a terminal (on Windows, a
// console such as CONOUT$). Only a character device is opened to ask.
// There is no O_NOCTTY here, nor a controlling terminal for an open to
// acquire.
func isTerminalPath(path string) bool {
	fi, err := os.Stat(path)
	if err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		return false
	}
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return false
	}
	defer f.Close()
	return isTerminal(f)
}
