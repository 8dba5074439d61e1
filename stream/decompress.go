package stream

import "io"

// Decompress returns a reader of the stream bytes of one input, as
// NewReader reads each: xz, gzip, bzip2 and zstd are detected by their
// magic bytes and decompressed (an xz dictionary or zstd window of at most
// xzDictMax bytes; 0 means DefaultXZDictMax), anything else is read as it
// is. A client that sends a stream on (a remote restore) reads its inputs
// with it.
func Decompress(r io.Reader, xzDictMax int) (io.Reader, error) {
	if xzDictMax == 0 {
		xzDictMax = DefaultXZDictMax
	}
	return decompress(r, xzDictMax)
}
