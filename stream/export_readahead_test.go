package stream

// SetReadAheadBlock sets the read-ahead's block size for a test, and returns
// the function that puts it back.
func SetReadAheadBlock(n int) (restore func()) {
	old := readAheadBlock
	readAheadBlock = n
	return func() { readAheadBlock = old }
}

// Hinted returns how many frames r checked with a read-ahead's hint.
func Hinted(r *Reader) uint64 { return r.hinted }
