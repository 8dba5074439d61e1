//go:build !linux

package replica

// bytesReady cannot ask here: inputs are read unwatched.
func bytesReady(fd uintptr) (int, bool) { return 0, false }
