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

// WaitReadAhead waits for the goroutines of r's current input's read-ahead
// to end, after r.Close.
func WaitReadAhead(r *Reader) {
	if r.in != nil && r.in.ra != nil {
		r.in.ra.wg.Wait()
	}
}
