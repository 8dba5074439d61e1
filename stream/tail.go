package stream

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/hotpipe/hotpipe/txframe"
)

// Tail is how a backup file ends, as hot-backup --append needs to know it.
type Tail struct {
	Header   Header       // the last segment's header
	SegStart int64        // its offset
	Complete bool         // the last segment has a valid end record
	Last     uint64       // last LSN in the file (of the open segment, when it is open)
	LastHash txframe.Hash // h(Last)
	Keep     int64        // bytes to keep: through the last end record, or the last whole frame of an open segment
	Torn     int64        // bytes past Keep left by an interrupted backup
}

// Limits of what ReadTail takes for an interrupted write.
const (
	// minFrameLen is the smallest frame: a 28-byte body and 44 bytes of
	// header and trailer (FORMAT.md, "Limits").
	minFrameLen = 28 + txframe.Overhead
	// maxTornZeros bounds the zeros taken for space a crash extended but
	// never wrote: more than that is not one interrupted write.
	maxTornZeros = 1 << 20
	// fixedHeaderLen is the header's magic, version and length: bytes
	// every header starts with, and so the fewest that show that the
	// start of a file is the start of a header.
	fixedHeaderLen = 8
)

// ReadTail finds how the file f of size bytes ends. Nothing is inferred
// from bytes that could be payload (a frame's value may hold a whole
// backup file, headers, end records and all):
//
//   - A complete file is recognised by walking back from its last end
//     record, segment by segment (each end record's length leads to its
//     header, which must be at offset 0 or right after the previous
//     segment's end record, and each segment joins the one before it) to
//     offset 0 exactly: O(segments) small reads, no frame read.
//   - Anything else is scanned forward from offset 0 by the Reader, which
//     knows where every header, frame and end record starts. The bytes
//     after the last whole frame or end record are torn only if they are
//     the start of the record expected there, cut short by the end of the
//     file, or zeros (at most 1 MiB): what an interrupted backup leaves.
//     Anything else is damage, reported where it is, and nothing is cut.
//
// At the start of a file, only the header's fixed fields (or zeros) show
// that the bytes are a header an interrupted backup began: a file that
// shows neither is not a hotpipe backup, and is refused as ErrFormat.
func ReadTail(f io.ReaderAt, size int64, name string) (Tail, error) {
	if size <= 0 {
		return Tail{}, &Error{Source: name, Err: fmt.Errorf("%w: the file is empty", ErrFormat)}
	}
	if segs, ok := walkSegments(f, size); ok && joined(segs) {
		s := segs[len(segs)-1]
		return Tail{Header: s.Header, SegStart: s.Offset, Complete: true, Last: s.End.Last, LastHash: s.End.LastHash, Keep: size}, nil
	}
	return scanTail(f, size, name)
}

// Segment describes one segment of a file, from its header and end record.
type Segment struct {
	Offset int64
	Header Header
	End    End
}

// Segments lists the segments of a file of size bytes from its end records
// alone, walking back from the last to offset 0: O(segments), no frame is
// read. It reports false when the file does not allow it (a torn tail, or
// bytes that are not whole segments), and the caller must scan forward
// instead. It does not check that the segments join.
func Segments(f io.ReaderAt, size int64) ([]Segment, bool) {
	return walkSegments(f, size)
}

// LastLSN returns the last LSN of a file of whole segments, found by the
// same walk; false when the file ends otherwise (or is compressed).
func LastLSN(f io.ReaderAt, size int64) (uint64, bool) {
	segs, ok := walkSegments(f, size)
	if !ok {
		return 0, false
	}
	return segs[len(segs)-1].End.Last, true
}

// walkSegments walks back from the end of the file, segment by segment, and
// succeeds only if it reaches offset 0 exactly.
func walkSegments(f io.ReaderAt, size int64) ([]Segment, bool) {
	var segs []Segment
	for end := size; end > 0; {
		s, ok := segmentEndingAt(f, end)
		if !ok {
			return nil, false
		}
		segs = append(segs, s)
		end = s.Offset
	}
	slices.Reverse(segs)
	return segs, size > 0
}

// segmentEndingAt reads the end record that ends at offset end and the
// header its segment length leads to; both must decode and agree.
func segmentEndingAt(f io.ReaderAt, end int64) (Segment, bool) {
	if end < HeaderSize+EndSize {
		return Segment{}, false
	}
	var b [EndSize]byte
	if _, err := f.ReadAt(b[:], end-EndSize); err != nil {
		return Segment{}, false
	}
	e, err := DecodeEnd(b[:])
	if err != nil || e.Length > uint64(end-EndSize) || !fitsFrames(e) {
		return Segment{}, false
	}
	start := end - EndSize - int64(e.Length)
	var hb [HeaderSize]byte
	if _, err := f.ReadAt(hb[:], start); err != nil {
		return Segment{}, false
	}
	h, err := DecodeHeader(hb[:])
	if err != nil || h.Base+1 != e.First || e.Frames == 0 && h.BaseHash != e.LastHash {
		return Segment{}, false
	}
	return Segment{Offset: start, Header: h, End: e}, true
}

// fitsFrames reports whether an end record's frame count can fill its
// segment length: every frame takes minFrameLen to MaxFrameLen bytes.
func fitsFrames(e End) bool {
	body := e.Length - HeaderSize
	most := body / minFrameLen
	fewest := (body + txframe.MaxFrameLen - 1) / txframe.MaxFrameLen
	return e.Frames <= most && e.Frames >= fewest
}

// joined reports whether segments found by the walk read as one history in
// the way hot-backup --append writes them: one origin, and each segment
// based exactly where the one before it ends, with the same hash. Anything
// else (overlaps, for one) is left to the forward scan, which checks it.
func joined(segs []Segment) bool {
	if checkBase(segs[0].Header) != nil {
		return false
	}
	for i := 1; i < len(segs); i++ {
		prev, h := segs[i-1], segs[i].Header
		if h.Base != prev.End.Last || continues(h, prev.Header.Origin, prev.End.Last, prev.End.LastHash) != nil {
			return false
		}
	}
	return true
}

// scanTail reads the whole file forward with a Reader, raw (never
// decompressed: the offsets are the file's), to where it stops.
func scanTail(f io.ReaderAt, size int64, name string) (Tail, error) {
	src := &ioErrs{r: io.NewSectionReader(f, 0, size)}
	r := NewReader([]Input{{Name: name, R: src}}, Options{raw: true, ParallelHash: true})
	for {
		_, err := r.Next()
		switch {
		case err == nil:
			continue
		case src.err != nil:
			return Tail{}, &Error{Source: name, Offset: src.off, Err: src.err}
		case err == io.EOF:
			return r.tailAt(size), nil
		}
		return r.tornOrDamaged(f, size, name, err)
	}
}

// ioErrs remembers a read error other than the end of the input: that is
// not a torn tail, whatever the Reader makes of it.
type ioErrs struct {
	r   io.Reader
	off int64
	err error
}

func (s *ioErrs) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	s.off += int64(n)
	if err != nil && err != io.EOF {
		s.err = err
	}
	return n, err
}

// tailAt is the tail of a file whose bytes before off the Reader accepted:
// through the last end record, or the last whole frame of an open segment.
func (r *Reader) tailAt(off int64) Tail {
	if !r.started {
		return Tail{}
	}
	if r.inSeg {
		return Tail{Header: r.hdr, SegStart: r.segStart, Last: r.next - 1, LastHash: r.prev, Keep: off}
	}
	return Tail{Header: r.hdr, SegStart: r.segStart, Complete: true, Last: r.last, LastHash: r.lastHash, Keep: off}
}

// tornOrDamaged decides what the bytes from the record the Reader could
// not read (at err's offset) to the end of the file are: a torn tail, or
// damage (err itself).
func (r *Reader) tornOrDamaged(f io.ReaderAt, size int64, name string, err error) (Tail, error) {
	se, ok := errors.AsType[*Error](err)
	if !ok {
		return Tail{}, err
	}
	off := se.Offset
	var head [HeaderSize]byte
	n, rerr := f.ReadAt(head[:min(size-off, HeaderSize)], off)
	if rerr != nil && rerr != io.EOF {
		return Tail{}, &Error{Source: name, Offset: off, Err: rerr}
	}
	if !zerosTo(f, off, size) && !(errors.Is(err, ErrTruncated) && r.tornRecord(head[:n], off, size-off)) {
		if !r.started {
			return Tail{}, notABackup(se, size)
		}
		return Tail{}, err
	}
	t := r.tailAt(off)
	t.Torn = size - off
	return t, nil
}

// notABackup refuses a file whose start is neither a header nor the start
// of one that an interrupted backup left, keeping the Reader's cause.
func notABackup(cause *Error, size int64) error {
	const what = "the file is not a hotpipe backup, nor the start of one that an interrupted backup left"
	var err error
	switch {
	case errors.Is(cause, ErrTruncated):
		err = fmt.Errorf("%w: %s: its %d bytes are fewer than a segment header's and do not start as one does; nothing was changed", ErrFormat, what, size)
	case errors.Is(cause, ErrFormat):
		err = fmt.Errorf("%s: %w; nothing was changed", what, cause.Err)
	default:
		err = fmt.Errorf("%w: %s: its first segment header is damaged: %w; nothing was changed", ErrFormat, what, cause.Err)
	}
	return &Error{Source: cause.Source, Err: err}
}

// tornRecord reports whether the n bytes at off, the last of the file,
// head their start, are the start of the record the Reader expected there
// and nothing more: a header between segments; a frame or the end record
// inside one. Every field they hold must be what the record would hold.
func (r *Reader) tornRecord(head []byte, off, n int64) bool {
	if !r.inSeg {
		return r.tornHeader(head, n)
	}
	if n < 4 {
		return bytes.HasPrefix(frameMagic[:], head) || bytes.HasPrefix(endMagic[:], head)
	}
	switch [4]byte(head) {
	case frameMagic:
		return r.tornFrame(head, n)
	case endMagic:
		want := AppendEnd(nil, &End{Frames: r.next - 1 - r.hdr.Base, First: r.hdr.Base + 1, Last: r.next - 1, LastHash: r.prev, Length: uint64(off - r.segStart)})
		return n < EndSize && bytes.HasPrefix(want, head)
	}
	return false
}

// tornFrame reports whether the n bytes of head are the start of the frame
// the Reader expected: shorter than the length they claim (a length over
// the bound is damage), and, as far as they go, of the next LSN.
func (r *Reader) tornFrame(head []byte, n int64) bool {
	if n < txframe.HeaderSize {
		return true
	}
	length, err := txframe.FrameLen(head)
	if err != nil || n >= int64(length) {
		return false
	}
	return len(head) < 16 || binary.LittleEndian.Uint64(head[8:16]) == r.next
}

// tornHeader reports whether the n bytes of head are the start of a
// segment header: its fixed fields (at the start of the file, all of them:
// fewer bytes prove nothing), the stream's origin, and a name length and
// zero padding that a header could have.
func (r *Reader) tornHeader(head []byte, n int64) bool {
	fixed := [fixedHeaderLen]byte{'H', 'P', 'S', 'H', Version, 0, HeaderSize, 0} // magic, version, length
	switch {
	case n >= HeaderSize, !r.started && n < fixedHeaderLen:
		return false
	case !bytes.HasPrefix(fixed[:], head[:min(len(head), fixedHeaderLen)]):
		return false
	case r.started && len(head) >= 24 && [16]byte(head[8:24]) != r.origin:
		return false
	}
	if len(head) <= 72 {
		return true
	}
	nameLen := int(head[72])
	return nameLen >= 1 && nameLen <= maxNameLen && zero(head[min(73+nameLen, len(head)):min(len(head), headerCRCAt)])
}

// zerosTo reports whether f holds only zeros from off to size, at most
// maxTornZeros of them, as space a crash extended but never wrote leaves.
func zerosTo(f io.ReaderAt, off, size int64) bool {
	if size-off > maxTornZeros {
		return false
	}
	b := make([]byte, size-off)
	if _, err := f.ReadAt(b, off); err != nil && err != io.EOF {
		return false
	}
	return zero(b)
}
