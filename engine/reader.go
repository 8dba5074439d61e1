package engine

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/hotpipe/hotpipe/txframe"
)

// FrameReader returns the durable frames of an LSN range in order, in blocks
// of whole frames read straight from the segment files. Each frame's bounds
// and CRC are checked and LSNs must be contiguous; damage is reported as a
// *CorruptionError. It reads the durable prefix as of its creation, so a
// writer appending meanwhile never shows it a torn frame.
type FrameReader struct {
	dir        string
	mark       watermark
	segs       []uint64
	i          int // index in segs of the open segment
	f          *os.File
	s          *segScanner
	next, last uint64
	blockSeg   uint64
	blockOff   int64
	failed     error // reported after the good frames before it
}

// Frames returns a reader of LSNs from..to inclusive. to == 0 means the last
// durable LSN now; from may be one past it, for an empty range.
func (db *DB) Frames(from, to uint64) (*FrameReader, error) {
	mark, err := db.durable()
	if err != nil {
		return nil, err
	}
	return db.framesIn(mark, from, to, Position{})
}

// FramesFrom is Frames starting at a position a previous reader stopped at
// (see FrameReader.Stop), which it reaches without scanning its segment: a
// follower reading a few new frames at a time stays O(new frames).
func (db *DB) FramesFrom(p Position, to uint64) (*FrameReader, error) {
	mark, err := db.durable()
	if err != nil {
		return nil, err
	}
	return db.framesIn(mark, p.lsn, to, p)
}

// framesIn reads from..to of the prefix up to mark, starting at position at
// when it is the position of from.
func (db *DB) framesIn(mark watermark, from, to uint64, at Position) (*FrameReader, error) {
	if to == 0 {
		to = mark.lsn
	}
	if from == 0 || to > mark.lsn || from > to+1 {
		return nil, fmt.Errorf("%s: %w: frames %d..%d asked, database holds 1..%d", db.name, ErrLSNRange, from, to, mark.lsn)
	}
	segs := []uint64{mark.seg} // a follower's read lies in the last segment
	if at.lsn != from || at.seg != mark.seg {
		var err error
		if segs, err = listSegments(db.dir); err != nil {
			return nil, err
		}
	}
	r := &FrameReader{dir: db.dir, mark: mark, segs: segs, next: from, last: to}
	if from > to {
		return r, nil
	}
	if err := r.open(segmentFor(segs, from)); err != nil {
		return nil, err
	}
	if at.lsn == from && at.seg == r.segs[r.i] {
		r.s.base = at.off
		return r, nil
	}
	return r, r.skipTo(from)
}

// Position is where a reader stopped: the next LSN and where its frame
// starts. A later reader given it starts there instead of scanning.
type Position struct {
	lsn uint64
	seg uint64
	off int64
}

// LSN returns the LSN of the frame at the position.
func (p Position) LSN() uint64 { return p.lsn }

// Stop returns the position after the last frame read.
func (r *FrameReader) Stop() Position {
	if r.s == nil {
		return Position{lsn: r.next}
	}
	return Position{lsn: r.next, seg: r.segs[r.i], off: r.s.offset()}
}

// open starts reading segment i, up to the watermark if it is the last.
func (r *FrameReader) open(i int) error {
	if i < 0 || i >= len(r.segs) || r.segs[i] > r.mark.lsn {
		return r.corrupt(r.dir, 0, errors.New("no segment file holds this LSN"))
	}
	path := filepath.Join(r.dir, segName(r.segs[i]))
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	limit := r.mark.end
	if r.segs[i] != r.mark.seg { // a finished segment: its seal says where its frames end
		seal, err := readSeal(f, r.segs[i])
		if err != nil {
			f.Close()
			return &CorruptionError{Path: path, LSN: r.next, Err: err}
		}
		limit = seal.end
	}
	var buf []byte
	if r.s != nil {
		buf = r.s.buf
	}
	if r.f != nil {
		r.f.Close()
	}
	r.i, r.f, r.s = i, f, newSegScanner(f, 0, limit, buf)
	return nil
}

// skipTo passes over the frames of the open segment before LSN from.
func (r *FrameReader) skipTo(from uint64) error {
	for lsn := r.segs[r.i]; lsn < from; lsn++ {
		off := r.s.offset()
		_, h, err := r.s.next()
		if err == io.EOF {
			err = fmt.Errorf("segment ends before LSN %d", lsn)
		}
		if err == nil && h.LSN != lsn {
			err = fmt.Errorf("%w: expected LSN %d, found %d", ErrGap, lsn, h.LSN)
		}
		if err != nil {
			return r.corruptAt(off, lsn, err)
		}
	}
	return nil
}

// Next returns the next block of one or more whole frames, or io.EOF after
// the last. The block is valid until the next call.
func (r *FrameReader) Next() ([]byte, error) {
	if r.f == nil && r.next <= r.last {
		return nil, ErrClosed
	}
	if r.failed != nil {
		return nil, r.failed
	}
	for r.next <= r.last {
		start, off := r.s.r, r.s.offset()
		for r.next <= r.last {
			frameOff := r.s.offset()
			_, h, ok, err := r.s.buffered()
			if err == nil && ok && h.LSN != r.next {
				err = fmt.Errorf("%w: expected LSN %d, found %d", ErrGap, r.next, h.LSN)
				r.s.r -= h.Len // the frame is not taken
			}
			if err != nil {
				r.failed = r.corruptAt(frameOff, r.next, err)
				if r.s.r == start {
					return nil, r.failed
				}
				break // yield the good frames first
			}
			if !ok {
				break
			}
			r.next++
		}
		if r.s.r > start {
			r.blockSeg, r.blockOff = r.segs[r.i], off
			return r.s.buf[start:r.s.r], nil
		}
		if err := r.advance(); err != nil {
			return nil, err
		}
	}
	return nil, io.EOF
}

// advance reads more of the open segment, or opens the next one.
func (r *FrameReader) advance() error {
	err := r.s.fill()
	if err == nil {
		return nil
	}
	if err != io.EOF {
		return r.corruptAt(r.s.offset(), r.next, err)
	}
	if r.i+1 >= len(r.segs) || r.segs[r.i+1] != r.next {
		return r.corruptAt(r.s.offset(), r.next, fmt.Errorf("segment ends before LSN %d and no segment starts there", r.next))
	}
	return r.open(r.i + 1)
}

// Position returns the segment (by first LSN) and file offset of the block
// last returned by Next.
func (r *FrameReader) Position() (seg uint64, off int64) { return r.blockSeg, r.blockOff }

// Close releases the reader's file and buffer; blocks it returned are no
// longer valid.
func (r *FrameReader) Close() error {
	if r.f == nil {
		return nil
	}
	err := r.f.Close()
	r.f = nil
	putBlock(r.s.buf)
	r.s.buf = nil
	return err
}

func (r *FrameReader) corruptAt(off int64, lsn uint64, err error) error {
	return &CorruptionError{Path: r.f.Name(), Offset: off, LSN: lsn, Err: err}
}

func (r *FrameReader) corrupt(path string, off int64, err error) error {
	return &CorruptionError{Path: path, Offset: off, LSN: r.next, Err: err}
}

// HashAt returns h(n), the state hash after LSN n, for n up to the last
// durable LSN; h(0) is all zeros.
func (db *DB) HashAt(n uint64) (txframe.Hash, error) {
	if n == 0 {
		return txframe.Hash{}, nil
	}
	r, err := db.Frames(n, n)
	if err != nil {
		return txframe.Hash{}, err
	}
	defer r.Close()
	block, err := r.Next()
	if err != nil {
		return txframe.Hash{}, err
	}
	return txframe.StoredHash(block), nil
}
