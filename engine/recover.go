package engine

import (
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
	w := &writer{db: db, meta: meta}
	w.cond.L = &w.mu
	if w.mark, err = openWatermark(db.dir); err != nil {
		return nil, err
	}
	// Holding the lock, nobody else writes DURABLE: one read says what it
	// holds (nothing, when recovery just created it).
	mark, ok := readSlots(w.mark.f)
	pos, err := recoverLog(db, mark, ok, meta.Replica)
	if err != nil {
		w.mark.f.Close()
		return nil, err
	}
	seg, err := os.OpenFile(filepath.Join(db.dir, segName(pos.seg)), os.O_WRONLY, 0)
	if err == nil {
		err = syncData(seg) // frames found past an old watermark become durable now
	}
	if err != nil {
		w.mark.f.Close()
		return nil, err
	}
	w.seg = db.segment(seg)
	w.mark.last.seq = pos.seq
	if err := w.mark.store(pos); err != nil {
		w.close()
		return nil, err
	}
	w.next, w.written, w.durable = pos, pos, pos
	return w, nil
}

// recoverLog finds the end of the valid log. It starts from the published
// watermark, whose last frame must be intact, and accepts the whole frames
// that follow it. Past the watermark nothing was acknowledged, so a damaged
// tail there is truncated and reported. Without a readable watermark it
// scans from the start and truncates only a frame cut short at the very end.
// A replica may lose any damaged tail past its watermark, valid frames
// after it included: every frame it holds came from a stream, and the next
// hot-restore --append applies and verifies them again.
func recoverLog(db *DB, mark watermark, haveMark, replica bool) (watermark, error) {
	segs, err := listSegments(db.dir)
	if err != nil {
		return watermark{}, err
	}
	if len(segs) == 0 {
		return watermark{}, &CorruptionError{Path: db.dir, Err: errors.New("no segment files")}
	}
	r := &recovery{db: db, segs: segs, replica: replica}
	if haveMark {
		r.pos, r.trusted = mark, true
	} else {
		db.notify(fmt.Sprintf("%s: %s holds no valid watermark; scanning the whole log", db.name, durableFile))
		r.pos = watermark{seg: segs[0]}
	}
	return r.run()
}

type recovery struct {
	db      *DB
	segs    []uint64
	pos     watermark // the last good frame found so far
	trusted bool      // pos came from the watermark: damage after it is a torn tail
	replica bool      // its frames come from a stream: a repair may drop damage
	buf     []byte
}

func (r *recovery) run() (watermark, error) {
	i := segmentFor(r.segs, r.pos.seg)
	if i < 0 || r.segs[i] != r.pos.seg {
		return watermark{}, r.corrupt(r.path(r.pos.seg), 0, r.pos.lsn, errors.New("segment named by the watermark is missing"))
	}
	if err := r.dropEmptyTail(i); err != nil {
		return watermark{}, err
	}
	off := r.pos.end
	if r.trusted && r.pos.lsn > 0 {
		if err := r.checkWatermarkFrame(); err != nil {
			return watermark{}, err
		}
	}
	for ; i < len(r.segs); i, off = i+1, 0 {
		if r.segs[i] != r.pos.seg && r.segs[i] != r.pos.lsn+1 {
			return watermark{}, r.corrupt(r.path(r.segs[i]), 0, r.pos.lsn+1, fmt.Errorf("segment does not start at LSN %d", r.pos.lsn+1))
		}
		t, err := r.scanSegment(r.segs[i], off)
		if err != nil {
			return watermark{}, err
		}
		if t != nil {
			return r.pos, r.repair(t, i)
		}
	}
	return r.pos, nil
}

func (r *recovery) path(seg uint64) string { return filepath.Join(r.db.dir, segName(seg)) }

// tear is where scanning a segment stopped on bytes that are not a valid
// next frame.
type tear struct {
	path      string
	off, size int64
	cause     error
}

// repair cuts the log at the tear in segment i, or reports corruption and
// changes nothing. A tear is torn tail only when no valid later frame follows
// it (a crash writes nothing after what it tore, while damage leaves whole
// frames behind) and every later segment is empty. Without a watermark it
// must also be a frame cut short by the end of the file, or zeros. The cut
// removes the later segments, and the torn one too if it holds no accepted
// frame, before truncating, so a crash part-way leaves what the next
// recovery repeats.
func (r *recovery) repair(t *tear, i int) error {
	damage := r.checkTorn(t, i)
	if damage != nil && !r.replica {
		return damage
	}
	gone := r.segs[i+1:]
	keepTorn := r.segs[i] == r.pos.seg
	if !keepTorn {
		gone = r.segs[i:]
	}
	if err := r.remove(gone); err != nil {
		return err
	}
	if keepTorn {
		if err := truncateSync(t.path, t.off); err != nil {
			return err
		}
	}
	if damage != nil {
		r.db.notify(fmt.Sprintf("%s: dropped the replica's log after LSN %d, from %s offset %d on (%v); hot-restore --append applies it again",
			r.db.name, r.pos.lsn, filepath.Base(t.path), t.off, damage))
		return nil
	}
	r.db.notify(fmt.Sprintf("%s: recovered from a crash: truncated %d unacknowledged bytes at %s offset %d after LSN %d (%v)",
		r.db.name, t.size-t.off, filepath.Base(t.path), t.off, r.pos.lsn, t.cause))
	return nil
}

// checkTorn returns the corruption error for a tear that is damage rather
// than a torn tail.
func (r *recovery) checkTorn(t *tear, i int) error {
	cutShort := errors.Is(t.cause, txframe.ErrIncomplete) || zeroFrom(t.path, t.off, t.size)
	if !r.trusted && !cutShort {
		return r.corrupt(t.path, t.off, r.pos.lsn+1, t.cause)
	}
	if frameAfter(t.path, t.off, t.size, r.pos.lsn) {
		return r.corrupt(t.path, t.off, r.pos.lsn+1, fmt.Errorf("%w, and valid frames follow it: this is damage, not a torn tail", t.cause))
	}
	for _, seg := range r.segs[i+1:] {
		if fi, err := os.Stat(r.path(seg)); err != nil || fi.Size() > 0 {
			return r.corrupt(t.path, t.off, r.pos.lsn+1, fmt.Errorf("%w, and %s after it holds data", t.cause, segName(seg)))
		}
	}
	return nil
}

// remove deletes segment files, last first, and makes that durable.
func (r *recovery) remove(segs []uint64) error {
	if len(segs) == 0 {
		return nil
	}
	for j := len(segs) - 1; j >= 0; j-- {
		if err := os.Remove(r.path(segs[j])); err != nil {
			return err
		}
	}
	return syncDir(r.db.dir)
}

// frameAfter reports whether a whole, CRC-valid frame with an LSN above
// after starts in the file between off and size.
func frameAfter(path string, off, size int64, after uint64) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	const chunk = 1 << 20
	buf := make([]byte, chunk)
	for pos := off + 1; pos < size; pos += chunk - int64(len(txframe.Magic)) + 1 {
		n, _ := f.ReadAt(buf, pos)
		for i := 0; i+len(txframe.Magic) <= n; i++ {
			if [4]byte(buf[i:i+4]) == txframe.Magic && validFrameAt(f, pos+int64(i), size, after) {
				return true
			}
		}
		if n < chunk {
			break
		}
	}
	return false
}

func validFrameAt(f *os.File, at, size int64, after uint64) bool {
	var head [txframe.HeaderSize]byte
	if _, err := f.ReadAt(head[:], at); err != nil {
		return false
	}
	n, err := txframe.FrameLen(head[:])
	if err != nil || at+int64(n) > size {
		return false
	}
	frame := make([]byte, n) // bounded by the bytes in the file
	if _, err := f.ReadAt(frame, at); err != nil {
		return false
	}
	h, err := txframe.Peek(frame)
	return err == nil && h.LSN > after
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
func (r *recovery) checkWatermarkFrame() error {
	path := filepath.Join(r.db.dir, segName(r.pos.seg))
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	s := newSegScanner(f, r.pos.frameOff, r.pos.end, nil)
	r.buf = s.buf
	_, h, err := s.next()
	if err == nil && (h.LSN != r.pos.lsn || h.Hash != r.pos.hash || s.offset() != r.pos.end) {
		err = fmt.Errorf("frame is LSN %d, %d bytes, h %s; watermark says LSN %d ending at %d, h %s",
			h.LSN, h.Len, h.Hash, r.pos.lsn, r.pos.end, r.pos.hash)
	}
	if err != nil {
		return r.corrupt(path, r.pos.frameOff, r.pos.lsn, err)
	}
	return nil
}

// scanSegment accepts frames of segment seg from off on, and returns where
// it met bytes that are not a valid next frame, if it did.
func (r *recovery) scanSegment(seg uint64, off int64) (*tear, error) {
	path := filepath.Join(r.db.dir, segName(seg))
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
			return &tear{path: path, off: start, size: fi.Size(), cause: err}, nil
		}
	}
}

// accept checks that frame continues the chain and advances pos past it.
func (r *recovery) accept(seg uint64, off int64, frame []byte, h txframe.Header) error {
	if err := follows(r.pos, frame, h, true); err != nil {
		return err
	}
	r.pos = watermark{seq: r.pos.seq, lsn: h.LSN, time: h.Time, seg: seg, frameOff: off, end: off + int64(h.Len), hash: h.Hash}
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

// dropEmptyTail removes the empty segment files at the end of the log after
// the watermark's segment (index i). The writer creates a segment, and makes
// its name durable, before it writes frames into it, so a crash can leave it
// empty; it holds nothing, whatever its name.
func (r *recovery) dropEmptyTail(i int) error {
	n := len(r.segs)
	for n-1 > i {
		fi, err := os.Stat(r.path(r.segs[n-1]))
		if err != nil {
			return err
		}
		if fi.Size() > 0 {
			break
		}
		n--
	}
	err := r.remove(r.segs[n:])
	r.segs = r.segs[:n]
	return err
}

func (r *recovery) corrupt(path string, off int64, lsn uint64, err error) error {
	return &CorruptionError{Path: path, Offset: off, LSN: lsn, Err: err}
}

func (db *DB) notify(msg string) {
	if db.opts.Notify != nil {
		db.opts.Notify(msg)
	}
}
