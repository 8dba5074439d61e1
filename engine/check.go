package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/hotpipe/hotpipe/txframe"
)

// CheckReport sums up a check of a database's durable prefix.
type CheckReport struct {
	Segments int          // segment files read
	Frames   uint64       // frames that passed every check
	Bytes    int64        // bytes of frames read
	Last     uint64       // the last durable LSN
	Hash     txframe.Hash // h(Last) as the last frame stores it
	Problems int          // findings reported
}

// Check reads the whole durable prefix and verifies every frame: bounds,
// CRC, body, contiguous LSNs, non-decreasing commit times and the chained
// hash from h(0), and every seal against its segment. It returns the number
// of frames checked, or the first problem as a *CorruptionError. It never
// writes.
func (db *DB) Check() (uint64, error) {
	var first error
	rep, err := db.CheckAll(context.Background(), func(p *CorruptionError) {
		if first == nil {
			first = p
		}
	})
	if err == nil {
		err = first
	}
	return rep.Frames, err
}

// CheckAll is Check reporting every problem, in log order, to found, like
// bbolt's check: after a damaged frame whose length still reads, it goes on
// with the next frame; when even that is lost, with the next segment. The
// error is for what stopped the check itself (I/O, cancellation).
func (db *DB) CheckAll(ctx context.Context, found func(*CorruptionError)) (CheckReport, error) {
	mark, err := db.durable()
	if err != nil {
		return CheckReport{}, err
	}
	segs, err := listSegments(db.dir)
	if err != nil {
		return CheckReport{}, err
	}
	c := &checker{db: db, found: found, rep: CheckReport{Last: mark.lsn}}
	for _, s := range segs {
		if s > mark.seg {
			break // not durable yet
		}
		if err := ctx.Err(); err != nil {
			return c.rep, err
		}
		if err := c.segment(s, mark); err != nil {
			return c.rep, err
		}
	}
	if p := c.prev; p.lsn != mark.lsn || p.hash != mark.hash || p.time != mark.time || mark.lsn > 0 && p.frameOff != mark.frameOff {
		c.report(filepath.Join(db.dir, durableFile), 0, mark.lsn, fmt.Errorf("the watermark says LSN %d at offset %d, h %s; the log ends with LSN %d at %d, h %s",
			mark.lsn, mark.frameOff, mark.hash, p.lsn, p.frameOff, p.hash))
	}
	c.rep.Hash = c.prev.hash
	return c.rep, nil
}

type checker struct {
	db      *DB
	found   func(*CorruptionError)
	rep     CheckReport
	prev    watermark // the frame checked last
	unknown bool      // prev.hash is not known: do not check the next chain step
	buf     []byte
}

func (c *checker) report(path string, off int64, lsn uint64, err error) {
	c.rep.Problems++
	c.found(&CorruptionError{Path: path, Offset: off, LSN: lsn, Err: err})
}

// segment checks the frames of segment s, up to the watermark if it is the
// watermark's, else up to its seal, and the seal against them.
func (c *checker) segment(s uint64, mark watermark) error {
	path := filepath.Join(c.db.dir, segName(s))
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	c.rep.Segments++
	if s != c.prev.lsn+1 {
		c.report(path, 0, c.prev.lsn+1, fmt.Errorf("%w: segment starts at LSN %d, expected %d", ErrGap, s, c.prev.lsn+1))
		c.prev, c.unknown = watermark{lsn: s - 1}, true
	}
	limit, seal, sealErr := mark.end, watermark{}, error(nil)
	if s != mark.seg {
		if seal, sealErr = readSeal(f, s); sealErr != nil {
			c.report(path, 0, s, sealErr)
			fi, err := f.Stat()
			if err != nil {
				return err
			}
			limit = max(fi.Size()-sealSize, 0) // where frames end if only the seal is damaged
		} else {
			limit = seal.end
		}
	}
	if err := c.frames(f, path, limit); err != nil {
		return err
	}
	if s != mark.seg && sealErr == nil && (seal.lsn != c.prev.lsn || seal.hash != c.prev.hash || seal.time != c.prev.time || seal.frameOff != c.prev.frameOff) {
		c.report(path, seal.end, seal.lsn, fmt.Errorf("%w: the seal says the last frame is LSN %d at offset %d, h %s; it is LSN %d at %d, h %s",
			errUnsealed, seal.lsn, seal.frameOff, seal.hash, c.prev.lsn, c.prev.frameOff, c.prev.hash))
	}
	return nil
}

// frames checks every frame of f up to limit.
func (c *checker) frames(f *os.File, path string, limit int64) error {
	s := newSegScanner(f, 0, limit, c.buf)
	defer func() { c.buf = s.buf }()
	for {
		off := s.offset()
		frame, h, err := s.next()
		switch {
		case err == io.EOF:
			return nil
		case err != nil && !errors.Is(err, txframe.ErrIncomplete) && !isFrameDamage(err):
			return err // reading failed
		case err != nil:
			c.report(path, off, c.prev.lsn+1, err)
			if !s.skip() {
				return nil // its length is lost too: nothing more of this segment can be read
			}
			c.prev, c.unknown = watermark{lsn: c.prev.lsn + 1, frameOff: off, end: s.offset()}, true
			continue
		}
		if err := follows(c.prev, frame, h, !c.unknown); err != nil {
			c.report(path, off, c.prev.lsn+1, err)
		} else {
			c.rep.Frames++
			c.rep.Bytes += int64(h.Len)
		}
		c.prev = watermark{lsn: h.LSN, time: h.Time, frameOff: off, end: s.offset(), hash: h.Hash}
		c.unknown = false
	}
}

// isFrameDamage reports whether err is about the bytes of a frame rather
// than about reading them.
func isFrameDamage(err error) bool {
	for _, e := range []error{txframe.ErrMagic, txframe.ErrTooLarge, txframe.ErrChecksum, txframe.ErrMalformed, txframe.ErrChain, ErrGap} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}
