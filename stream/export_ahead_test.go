package stream

// SetAheadBlock sets the read-ahead's block size for a test, and returns
// the function that puts it back.
func SetAheadBlock(n int) (restore func()) {
	old := aheadBlock
	aheadBlock = n
	return func() { aheadBlock = old }
}

// Hinted returns how many frames r checked with a read-ahead's hint.
func Hinted(r *Reader) uint64 { return r.hinted }
