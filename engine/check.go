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

// CheckOptions tune CheckAll. The zero value checks everything and reports
// only in the returned CheckReport.
type CheckOptions struct {
	// Found, when set, is called with each problem, in log order, on the
	// checking goroutine.
	Found func(*CorruptionError)
	// Progress, when set, is called on the checking goroutine after about
	// every MiB of segment data checked (not per frame), and once more when
	// the check has read everything, with how far it has got.
	Progress func(CheckProgress)
}

// CheckProgress is how far CheckAll has got, and how far it will go: a
// display takes a percentage and an ETA from Bytes of TotalBytes (or LSN
// of End).
type CheckProgress struct {
	Path   string // the segment file being read
	Offset int64  // how far into it the check has got
	LSN    uint64 // the last LSN checked; 0 before the first frame
	Frames uint64 // frames that passed every check so far
	// Bytes is the segment data checked so far, damaged frames and what
	// damage made unreadable included, so that it ends at TotalBytes.
	Bytes int64
	// End is the last LSN the check will reach: the durable watermark's
	// at the start; 0 for an empty database.
	End uint64
	// TotalBytes is the segment data the check will read, known at the
	// start from the file sizes: every durable segment but the last up to
	// its seal, the last up to the watermark.
	TotalBytes int64
}

// checkStep is how much segment data the check reads between two looks at
// its context and two progress reports: one read block, 1-2 ms of
// checking, so that a cancellation takes effect at once whatever the
// segment size, at no cost per frame.
const checkStep = readBlock

// Check reads the whole durable prefix and verifies every frame: bounds,
// CRC, body, contiguous LSNs, non-decreasing commit times and the chained
// hash from h(0), and every seal against its segment. It returns the number
// of frames checked, or the first problem as a *CorruptionError. It never
// writes.
func (db *DB) Check() (uint64, error) {
	var first error
	rep, err := db.CheckAll(context.Background(), CheckOptions{Found: func(p *CorruptionError) {
		if first == nil {
			first = p
		}
	}})
	if err == nil {
		err = first
	}
	return rep.Frames, err
}

// CheckAll is Check reporting every problem, in log order, to opts.Found,
// like bbolt's check: after a damaged frame whose length still reads, it
// goes on with the next frame; when even that is lost, with the next
// segment. The error is for what stopped the check itself: I/O, or ctx's
// cancellation, heeded about every MiB. The report says how far the check
// got in every case.
func (db *DB) CheckAll(ctx context.Context, opts CheckOptions) (CheckReport, error) {
	mark, err := db.durable()
	if err != nil {
		return CheckReport{}, err
	}
	segs, err := listSegments(db.dir)
	if err != nil {
		return CheckReport{}, err
	}
	c := &checker{db: db, opts: opts, rep: CheckReport{Last: mark.lsn}, next: checkStep}
	if opts.Progress != nil {
		if c.total, err = durableBytes(db.dir, segs, mark); err != nil {
			return CheckReport{}, err
		}
	}
	for _, s := range segs {
		if s > mark.seg {
			break // not durable yet
		}
		if err := ctx.Err(); err != nil {
			return c.rep, err
		}
		if err := c.segment(ctx, s, mark); err != nil {
			return c.rep, err
		}
	}
	if p := c.prev; p.lsn != mark.lsn || p.hash != mark.hash || p.time != mark.time || mark.lsn > 0 && p.frameOff != mark.frameOff {
		c.report(filepath.Join(db.dir, durableFile), 0, mark.lsn, fmt.Errorf("the watermark says LSN %d at offset %d, h %s; the log ends with LSN %d at %d, h %s",
			mark.lsn, mark.frameOff, mark.hash, p.lsn, p.frameOff, p.hash))
	}
	c.rep.Hash = c.prev.hash
	c.progress(c.path, c.limit, c.done)
	return c.rep, nil
}

// durableBytes returns how many bytes of segment data a check up to mark
// reads, from the sizes of the segment files: one stat each.
func durableBytes(dir string, segs []uint64, mark watermark) (int64, error) {
	var n int64
	for _, s := range segs {
		switch {
		case s > mark.seg:
			return n, nil // the watermark's segment is missing: the check will say so
		case s == mark.seg:
			return n + mark.end, nil
		}
		fi, err := os.Stat(filepath.Join(dir, segName(s)))
		if err != nil {
			return 0, err
		}
		n += max(fi.Size()-sealSize, 0) // where a segment's frames end
	}
	return n, nil
}

type checker struct {
	db      *DB
	opts    CheckOptions
	rep     CheckReport
	prev    watermark // the frame checked last
	unknown bool      // prev.hash is not known: do not check the next chain step
	buf     []byte

	total int64  // CheckProgress.TotalBytes
	done  int64  // bytes of the segments finished
	next  int64  // at this many bytes checked, heed ctx and report progress
	path  string // the segment being read, or read last
	limit int64  // where its frames end
}

func (c *checker) report(path string, off int64, lsn uint64, err error) {
	c.rep.Problems++
	if c.opts.Found != nil {
		c.opts.Found(&CorruptionError{Path: path, Offset: off, LSN: lsn, Err: err})
	}
}

// progress reports having checked bytes in all, up to offset off of path.
func (c *checker) progress(path string, off, bytes int64) {
	if c.opts.Progress != nil {
		c.opts.Progress(CheckProgress{Path: path, Offset: off, LSN: c.prev.lsn, Frames: c.rep.Frames, Bytes: bytes,
			End: c.rep.Last, TotalBytes: c.total})
	}
}

// step is taken every checkStep bytes: it heeds a cancellation and reports
// progress, at offset off of the segment being read.
func (c *checker) step(ctx context.Context, off int64) error {
	c.next = c.done + off + checkStep
	if err := ctx.Err(); err != nil {
		return err
	}
	c.progress(c.path, off, c.done+off)
	return nil
}

// segment checks the frames of segment s, up to the watermark if it is the
// watermark's, else up to its seal, and the seal against them.
func (c *checker) segment(ctx context.Context, s uint64, mark watermark) error {
	path := filepath.Join(c.db.dir, segName(s))
	c.path, c.limit = path, 0
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
	c.limit = limit
	if err := c.frames(ctx, f, path, limit); err != nil {
		return err
	}
	c.done += limit // what damage left unread counts as read: Bytes ends at TotalBytes
	if s != mark.seg && sealErr == nil && (seal.lsn != c.prev.lsn || seal.hash != c.prev.hash || seal.time != c.prev.time || seal.frameOff != c.prev.frameOff) {
		c.report(path, seal.end, seal.lsn, fmt.Errorf("%w: the seal says the last frame is LSN %d at offset %d, h %s; it is LSN %d at %d, h %s",
			errUnsealed, seal.lsn, seal.frameOff, seal.hash, c.prev.lsn, c.prev.frameOff, c.prev.hash))
	}
	return nil
}

// frames checks every frame of f up to limit.
func (c *checker) frames(ctx context.Context, f *os.File, path string, limit int64) error {
	s := newSegScanner(f, 0, limit, c.buf)
	defer func() { c.buf = s.buf }()
	for {
		off := s.offset()
		if c.done+off >= c.next {
			if err := c.step(ctx, off); err != nil {
				return err
			}
		}
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
