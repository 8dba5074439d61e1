//go:build !linux

package engine

import "errors"

// watchFile has no watch to offer here: WaitDurable polls.
func watchFile(path string, event, ended func()) (watchCloser, error) {
	return nil, errors.New("no file watch on this platform")
}
