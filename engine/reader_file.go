package engine

import "os"

// BlockFile returns the open segment file that holds the block last
// returned by Next, at the offset Position gives, or nil before the first
// block and after Close. The bytes of that range are durable and never
// change, so a caller that has the checked block may move the same range
// out of the file with the kernel instead of writing its copy (backup's
// zero-copy path). The file stays owned by the reader: do not close it, and
// use it only with offsets (pread, splice, copy_file_range), never its
// file position, until the next call to Next or Close.
func (r *FrameReader) BlockFile() *os.File { return r.f }
