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

// Extent returns the open segment file, the offset of the next frame the
// reader would return, and where the segment's durable frames end (its
// seal's end, or the durable watermark in the last segment), or a nil file
// when none is open. A caller may check and move the frames of
// [off, limit) itself, through a mapping of the file, as backup's
// zero-copy path does; the same rules as BlockFile's hold for the file.
func (r *FrameReader) Extent() (f *os.File, off, limit int64) {
	if r.f == nil {
		return nil, 0, 0
	}
	return r.f, r.s.offset(), r.s.limit
}
