package engine

import "os"

// segmentFile is what the writer does to the segment it appends to. It is
// an interface so that tests can fail the next write or fsync, or store
// only part of a buffer, and prove what the engine does then.
type segmentFile interface {
	WriteAt(b []byte, off int64) (int, error)
	Datasync() error
	// StartWriteback asks the kernel to start writing n bytes at off to
	// the device without waiting for them.
	StartWriteback(off, n int64) error
	Close() error
}

// osSegment is a segmentFile on disk.
type osSegment struct{ *os.File }

func (f osSegment) Datasync() error { return syncData(f.File) }

func (f osSegment) StartWriteback(off, n int64) error { return startWriteback(f.File, off, n) }

// segment wraps an open segment file for the writer, through the test
// hook when one is set.
func (db *DB) segment(f *os.File) segmentFile {
	if db.opts.wrapSegment != nil {
		return db.opts.wrapSegment(osSegment{f})
	}
	return osSegment{f}
}
