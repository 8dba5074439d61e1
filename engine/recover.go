package engine

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/hotpipe/hotpipe/txframe"
)

// openWriter reads the metadata and recovers the log for a writer.
func openWriter(db *DB) (*writer, error) {
	meta, err := readMeta(db.dir)
	if err != nil {
		return nil, err
	}
	if db.opts.SegmentSize <= 0 {
		db.opts.SegmentSize = cmp.Or(meta.SegmentSize, DefaultSegmentSize)
	}
	w := &writer{db: db, meta: meta}
	w.cond.L = &w.mu
	if w.mark, err = openWatermark(db.dir, db.opts.syncMark); err != nil {
		return nil, err
	}
	// Holding the lock, nobody else writes DURABLE: one read says what it
	// holds (nothing, when recovery just created it).
	mark, ok := readSlots(w.mark.f)
	r, err := recoverLog(db, mark, ok)
	if err != nil {
		w.mark.f.Close()
		return nil, err
	}
	pos := r.pos
	pos.fence = false // the cut is done: slots from now on say where the log is, nothing more
	seg, err := os.OpenFile(filepath.Join(db.dir, segName(pos.seg)), os.O_WRONLY, 0)
	if err == nil {
		err = syncData(seg) // frames found past an old watermark become durable now
	}
	if err != nil {
		w.mark.f.Close()
		return nil, err
	}
	w.seg, w.sealed = db.segment(seg), r.sealed
	w.mark.last.seq = mark.seq
	// Durable at once: a fence, or a watermark a power loss left behind,
	// must never be read again as the newest slot.
	if err := w.mark.storeDurable(pos); err != nil {
		w.err = err // close must not fsync DURABLE again: a failed fsync is never retried
		w.close()
		return nil, err
	}
	w.next, w.written, w.durable = pos, pos, pos
	return w, nil
}

// recovery finds the end of the valid log when a writer opens it.
//
// Every segment but the last must be sealed, and the seals must tie the
// segments into one run of LSNs from 1: a sealed segment was fsynced whole
// before the next was created, so damage to one is damage to acknowledged
// bytes, refused whatever it is. The last segment is read from the newer of
// the watermark in DURABLE and the last seal. Every frame up to the
// watermark was acknowledged, so the frame it names must be intact. Past it
// nothing is known: DURABLE is not fsynced on every commit, so whole frames
// that continue the chain may have been acknowledged and are kept; the first
// bytes that are not such a frame end the log. A power loss can persist the
// unsynced tail out of order, leaving a hole and then whole frames, but an
// acknowledged frame can never follow a hole (the fsync that acknowledged it
// would have made the hole durable), so everything from the first bad byte
// on is dropped, and said so. Nothing is inferred from what the bytes after
// it look like: they may be payload.
type recovery struct {
	db       *DB
	segs     []uint64
	pos      watermark // the last good frame found so far
	haveMark bool      // a watermark was read: bytes past it were never known to be acknowledged
	sealed   bool      // the segment at pos is sealed: the next frame starts a new one
	buf      []byte
}

func recoverLog(db *DB, mark watermark, haveMark bool) (*recovery, error) {
	segs, err := listSegments(db.dir)
	if err != nil {
		return nil, err
	}
	if len(segs) == 0 {
		return nil, &CorruptionError{Path: db.dir, Err: errors.New("no segment files")}
	}
	r := &recovery{db: db, segs: segs, haveMark: haveMark}
	if err := r.dropEmptyTail(mark, haveMark); err != nil {
		return nil, err
	}
	if haveMark && mark.fence {
		if err := r.cutAtFence(mark); err != nil {
			return nil, err
		}
	}
	sealed, err := r.checkStructure()
	if err != nil {
		return nil, err
	}
	r.pos = sealed
	if haveMark {
		err = r.startAt(mark, sealed)
	} else {
		db.notify(fmt.Sprintf("%s: %s holds no valid watermark; scanning the whole log from the last sealed segment on (LSN %d)", db.name, durableFile, sealed.lsn+1))
	}
	if err != nil {
		return nil, err
	}
	return r, r.scanLast()
}

func (r *recovery) path(seg uint64) string { return filepath.Join(r.db.dir, segName(seg)) }

func (r *recovery) last() uint64 { return r.segs[len(r.segs)-1] }

// checkStructure proves from their names and seals alone that the segments
// hold one run of LSNs from 1, every one but the last sealed, and returns
// the position of the last sealed frame (LSN 0 in segment 1 when there is
// none). It reads one seal per segment, never a frame.
func (r *recovery) checkStructure() (watermark, error) {
	pos := watermark{seg: 1}
	for i, s := range r.segs {
		if s != pos.lsn+1 {
			return pos, r.corrupt(r.path(s), 0, pos.lsn+1, fmt.Errorf("segment %s starts at LSN %d: %w", segName(s), s, &txframe.GapError{From: pos.lsn + 1, To: s - 1}))
		}
		if i == len(r.segs)-1 {
			return pos, nil
		}
		seal, err := sealOf(r.path(s), s)
		if err != nil {
			return pos, r.corrupt(r.path(s), 0, s, err)
		}
		pos = seal
	}
	return pos, nil
}

func sealOf(path string, seg uint64) (watermark, error) {
	f, err := os.Open(path)
	if err != nil {
		return watermark{}, err
	}
	defer f.Close()
	return readSeal(f, seg)
}

// startAt checks the watermark against the seals: the frame it names must
// be intact. When it lies in the last segment the scan starts after it;
// when it lags behind the last seal (DURABLE is not fsynced on every
// commit, so a power loss can leave it behind) the scan starts at the seal.
func (r *recovery) startAt(mark, sealed watermark) error {
	i := segmentFor(r.segs, mark.seg)
	if i < 0 || r.segs[i] != mark.seg {
		return r.corrupt(r.path(mark.seg), 0, mark.lsn, errors.New("segment named by the watermark is missing"))
	}
	if mark.lsn > 0 {
		if err := r.checkWatermarkFrame(mark); err != nil {
			return err
		}
	}
	if mark.seg == r.last() {
		r.pos = mark
		return nil
	}
	if seal, err := sealOf(r.path(mark.seg), mark.seg); err != nil || mark.lsn > seal.lsn {
		return r.corrupt(r.path(mark.seg), mark.frameOff, mark.lsn, fmt.Errorf("the watermark names LSN %d, past the segment's seal", mark.lsn))
	}
	return nil
}

// cutAtFence drops everything past a fenced watermark: the last writer
// failed to write or fsync after it, and what it wrote may read back whole
// from the page cache although the device never stored it.
func (r *recovery) cutAtFence(mark watermark) error {
	i := segmentFor(r.segs, mark.seg)
	if i < 0 || r.segs[i] != mark.seg {
		return r.corrupt(r.path(mark.seg), 0, mark.lsn, errors.New("segment named by the fenced watermark is missing"))
	}
	fi, err := os.Stat(r.path(mark.seg))
	if err != nil {
		return err
	}
	if fi.Size() < mark.end {
		return r.corrupt(r.path(mark.seg), fi.Size(), mark.lsn, fmt.Errorf("file is %d bytes, but frames up to offset %d were acknowledged", fi.Size(), mark.end))
	}
	later := r.segs[i+1:]
	if fi.Size() == mark.end && len(later) == 0 {
		return nil
	}
	if err := r.remove(later); err != nil {
		return err
	}
	r.segs = r.segs[:i+1]
	if err := truncateSync(r.path(mark.seg), mark.end); err != nil {
		return err
	}
	r.db.notify(fmt.Sprintf("%s: the last writer failed to write or fsync after LSN %d; dropped what it wrote after that (from %s offset %d)",
		r.db.name, mark.lsn, segName(mark.seg), mark.end))
	return nil
}

// dropEmptyTail removes empty segment files at the end of the log (but the
// first, and the watermark's, which holds acknowledged frames unless it is
// damaged): a writer creates a segment before it writes into it, so a crash
// can leave one empty, and whatever its name it holds nothing. The next
// commit starts it again.
func (r *recovery) dropEmptyTail(mark watermark, haveMark bool) error {
	n := len(r.segs)
	for ; n > 1 && !(haveMark && r.segs[n-1] == mark.seg); n-- {
		fi, err := os.Stat(r.path(r.segs[n-1]))
		if err != nil {
			return err
		}
		if fi.Size() > 0 {
			break
		}
	}
	err := r.remove(r.segs[n:])
	r.segs = r.segs[:n]
	return err
}

// scanLast accepts the frames of the last segment that follow pos and
// settles what comes after them.
func (r *recovery) scanLast() error {
	seg := r.last()
	off := int64(0)
	if r.pos.seg == seg {
		off = r.pos.end
	}
	t, err := r.scanSegment(seg, off)
	if err != nil {
		return err
	}
	if t != nil {
		if err := r.settle(t); err != nil {
			return err
		}
	}
	if r.pos.seg != seg { // it holds no frame: the next commit starts it again
		r.sealed = true
		return r.remove([]uint64{seg})
	}
	return nil
}

// tear is where scanning a segment stopped on bytes that are not a valid
// next frame.
type tear struct {
	path      string
	seg       uint64
	off, size int64
	cause     error
}

// settle decides what the bytes at a tear are: the segment's seal (a crash
// after sealing it, before the next segment was made), a tail never
// acknowledged (cut), or damage (refused, nothing changed). Without a
// watermark only a frame cut short by the end of the file, or zeros, is
// cut: nothing says where the acknowledged log ended. A seal at the end of
// the last segment proves nothing about the bytes before it: the writer
// writes it before the fsync that makes the segment durable, and a power
// loss can keep its page and lose earlier ones.
func (r *recovery) settle(t *tear) error {
	if r.isSeal(t) {
		r.sealed = true
		return nil
	}
	if !r.haveMark && !errors.Is(t.cause, txframe.ErrIncomplete) && !zeroFrom(t.path, t.off, t.size) {
		return r.corrupt(t.path, t.off, r.pos.lsn+1, fmt.Errorf("%w (no watermark says whether it was acknowledged)", t.cause))
	}
	if r.pos.seg == t.seg {
		if err := truncateSync(t.path, t.off); err != nil {
			return err
		}
	}
	r.db.notify(fmt.Sprintf("%s: recovered from a crash: truncated %d unacknowledged bytes at %s offset %d after LSN %d (%v)",
		r.db.name, t.size-t.off, filepath.Base(t.path), t.off, r.pos.lsn, t.cause))
	return nil
}

// isSeal reports whether the bytes at the tear are exactly the seal of the
// frames accepted before it.
func (r *recovery) isSeal(t *tear) bool {
	if r.pos.seg != t.seg || t.size-t.off != sealSize {
		return false
	}
	seal, err := sealOf(t.path, t.seg)
	return err == nil && seal.lsn == r.pos.lsn && seal.hash == r.pos.hash && seal.end == r.pos.end &&
		seal.frameOff == r.pos.frameOff && seal.time == r.pos.time
}

func (r *recovery) remove(segs []uint64) error { return removeSegments(r.db.dir, segs) }

// removeSegments deletes segment files of dir, last first (a crash part-way
// leaves a shorter log, never a gap), and makes that durable.
func removeSegments(dir string, segs []uint64) error {
	if len(segs) == 0 {
		return nil
	}
	for j := len(segs) - 1; j >= 0; j-- {
		if err := os.Remove(filepath.Join(dir, segName(segs[j]))); err != nil {
			return err
		}
	}
	return syncDir(dir)
}

func truncateSync(path string, size int64) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	err = f.Truncate(size)
	if err == nil {
		err = syncData(f)
	}
	return errors.Join(err, f.Close())
}

// checkWatermarkFrame proves the frame the watermark names is intact.
func (r *recovery) checkWatermarkFrame(mark watermark) error {
	path := r.path(mark.seg)
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	s := newSegScanner(f, mark.frameOff, mark.end, r.buf)
	r.buf = s.buf
	_, h, err := s.next()
	if err == nil && (h.LSN != mark.lsn || h.Hash != mark.hash || s.offset() != mark.end) {
		err = fmt.Errorf("frame is LSN %d, %d bytes, h %s; watermark says LSN %d ending at %d, h %s",
			h.LSN, h.Len, h.Hash, mark.lsn, mark.end, mark.hash)
	}
	if err != nil {
		return r.corrupt(path, mark.frameOff, mark.lsn, err)
	}
	return nil
}

// scanSegment accepts frames of segment seg from off on, and returns where
// it met bytes that are not a valid next frame, if it did.
func (r *recovery) scanSegment(seg uint64, off int64) (*tear, error) {
	path := r.path(seg)
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if fi.Size() < off {
		return nil, r.corrupt(path, fi.Size(), r.pos.lsn, fmt.Errorf("file is %d bytes, but frames up to offset %d were acknowledged", fi.Size(), off))
	}
	s := newSegScanner(f, off, fi.Size(), r.buf)
	r.buf = s.buf
	for {
		start := s.offset()
		frame, h, err := s.next()
		if err == io.EOF {
			return nil, nil
		}
		if err == nil {
			err = r.accept(seg, start, frame, h)
		}
		if err != nil {
			return &tear{path: path, seg: seg, off: start, size: fi.Size(), cause: err}, nil
		}
	}
}

// accept checks that frame continues the chain and advances pos past it.
func (r *recovery) accept(seg uint64, off int64, frame []byte, h txframe.Header) error {
	if err := follows(r.pos, frame, h, true); err != nil {
		return err
	}
	r.pos = watermark{lsn: h.LSN, time: h.Time, seg: seg, frameOff: off, end: off + int64(h.Len), hash: h.Hash}
	return nil
}

// zeroFrom reports whether f holds only zero bytes from off to size, as a
// file extended but never written by a crashed writer does.
func zeroFrom(path string, off, size int64) bool {
	if size-off > readBlock {
		return false
	}
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	b := make([]byte, size-off)
	if _, err := f.ReadAt(b, off); err != nil {
		return false
	}
	return strings.Trim(string(b), "\x00") == ""
}

func (r *recovery) corrupt(path string, off int64, lsn uint64, err error) error {
	return &CorruptionError{Path: path, Offset: off, LSN: lsn, Err: err}
}

func (db *DB) notify(msg string) {
	if db.opts.Notify != nil {
		db.opts.Notify(msg)
	}
}
