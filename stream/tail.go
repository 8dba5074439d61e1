package stream

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/hotpipe/hotpipe/txframe"
)

// Tail is how a backup file ends, as hot-backup --append needs to know it.
type Tail struct {
	Header   Header       // the last segment's header
	SegStart int64        // its offset
	Complete bool         // the last segment has a valid end record
	Last     uint64       // last LSN in the file
	LastHash txframe.Hash // h(Last)
	Keep     int64        // bytes to keep: through the last end record, or the last whole frame of an open segment
	Torn     int64        // bytes past Keep left by an interrupted backup
}

// ReadTail finds how the file f of size bytes ends. A file ending in a valid
// end record is read in O(1): the record holds its segment's length, which
// leads to the header. Otherwise the last segment header is found by
// searching back from the end, and the segment is scanned forward to its
// last whole frame; bytes after it are torn only if they are an incomplete
// record or frame running to the end of the file, or zeros. A file holding
// only the start of its first header is all torn: Keep is 0.
func ReadTail(f io.ReaderAt, size int64, name string) (Tail, error) {
	if t, ok := completeTail(f, size); ok {
		return t, nil
	}
	start, err := lastHeader(f, size)
	if err != nil {
		if tornFirstHeader(f, size) {
			return Tail{Torn: size}, nil
		}
		return Tail{}, &Error{Source: name, Offset: size, Err: err}
	}
	return scanTail(f, size, start, name)
}

// tornFirstHeader reports whether f holds nothing but the start of a header.
func tornFirstHeader(f io.ReaderAt, size int64) bool {
	if size <= 0 || size >= HeaderSize {
		return false
	}
	b := make([]byte, size)
	n, _ := f.ReadAt(b, 0)
	return n == len(b) && isTornHeader(b)
}

func completeTail(f io.ReaderAt, size int64) (Tail, bool) {
	if size < HeaderSize+EndSize {
		return Tail{}, false
	}
	var b [EndSize]byte
	if _, err := f.ReadAt(b[:], size-EndSize); err != nil {
		return Tail{}, false
	}
	e, err := DecodeEnd(b[:])
	if err != nil || e.Length > uint64(size-EndSize) {
		return Tail{}, false
	}
	start := size - EndSize - int64(e.Length)
	var hb [HeaderSize]byte
	if _, err := f.ReadAt(hb[:], start); err != nil {
		return Tail{}, false
	}
	h, err := DecodeHeader(hb[:])
	if err != nil || h.Base+1 != e.First || e.Frames == 0 && h.BaseHash != e.LastHash {
		return Tail{}, false
	}
	return Tail{Header: h, SegStart: start, Complete: true, Last: e.Last, LastHash: e.LastHash, Keep: size}, true
}

// lastHeader returns the offset of the last valid segment header in f.
func lastHeader(f io.ReaderAt, size int64) (int64, error) {
	const chunk = 1 << 20
	buf := make([]byte, chunk+HeaderSize)
	for end := size; end > 0; end -= chunk {
		start := max(end-chunk, 0)
		n := int(min(end+HeaderSize, size) - start)
		if _, err := f.ReadAt(buf[:n], start); err != nil && err != io.EOF {
			return 0, err
		}
		for i := bytes.LastIndex(buf[:n], headerMagic[:]); i >= 0; i = bytes.LastIndex(buf[:i], headerMagic[:]) {
			if _, err := DecodeHeader(buf[i:n]); err == nil {
				return start + int64(i), nil
			}
		}
	}
	return 0, fmt.Errorf("%w: no valid segment header in the file", ErrFormat)
}

// scanTail reads the segment at start forward to find the last whole frame.
func scanTail(f io.ReaderAt, size, start int64, name string) (Tail, error) {
	src := io.NewSectionReader(f, start, size-start)
	r := NewReader([]Input{{Name: name, R: src}}, Options{})
	var t Tail
	for {
		ev, err := r.Next()
		if err == nil {
			t.note(ev, start)
			continue
		}
		if err == io.EOF && t.Complete {
			return t, nil
		}
		if t.Keep == 0 || !tornTail(err, f, start, size) {
			return Tail{}, offsetBy(err, start)
		}
		t.Torn = size - t.Keep
		return t, nil
	}
}

func (t *Tail) note(ev *Event, base int64) {
	switch ev.Kind {
	case KindHeader:
		*t = Tail{Header: ev.Header, SegStart: base + ev.Offset, Last: ev.Header.Base, LastHash: ev.Header.BaseHash, Keep: base + ev.Offset + HeaderSize}
	case KindFrames:
		t.Last, t.LastHash = ev.Last, ev.LastHash
		t.Keep = base + ev.Offset + int64(len(ev.Frames))
	case KindEnd:
		t.Complete, t.Keep = true, base+ev.Offset+EndSize
	}
}

// tornTail reports whether the error that stopped a scan is the mark of an
// interrupted write: input cut short with no whole record after the cut, or
// zeros to the end of the file.
func tornTail(err error, f io.ReaderAt, start, size int64) bool {
	var se *Error
	if !errors.As(err, &se) {
		return false
	}
	off := start + se.Offset
	if zerosFrom(f, off, size) {
		return true
	}
	return errors.Is(err, ErrTruncated) && beginsLikeRecord(f, off, size) && !recordAfter(f, off, size)
}

// zerosFrom reports whether f holds only zeros from off to size, as space a
// crash extended but never wrote leaves.
func zerosFrom(f io.ReaderAt, off, size int64) bool {
	if size-off > 1<<20 {
		return false
	}
	b := make([]byte, size-off)
	if _, err := f.ReadAt(b, off); err != nil && err != io.EOF {
		return false
	}
	return len(bytes.Trim(b, "\x00")) == 0
}

// beginsLikeRecord reports whether the bytes at off start as a frame, header
// or end record would: what an interrupted write leaves is the beginning of
// one, not arbitrary bytes.
func beginsLikeRecord(f io.ReaderAt, off, size int64) bool {
	var b [4]byte
	n, _ := f.ReadAt(b[:min(size-off, 4)], off)
	for _, m := range [][4]byte{frameMagic, headerMagic, endMagic} {
		if bytes.Equal(b[:n], m[:n]) {
			return true
		}
	}
	return false
}

// recordAfter reports whether a whole frame, end record or header starts in
// f after off. An interrupted backup writes nothing after the record it was
// writing, so a record cut short with a whole record after it is damage (a
// frame length that points past the end of the file), not a torn tail.
func recordAfter(f io.ReaderAt, off, size int64) bool {
	if size-off > txframe.MaxFrameLen {
		return true // longer than any record: not one record cut short
	}
	b := make([]byte, size-off)
	if _, err := f.ReadAt(b, off); err != nil && err != io.EOF {
		return true
	}
	for i := 1; i+4 <= len(b); i++ {
		err := ErrFormat
		switch [4]byte(b[i : i+4]) {
		case frameMagic:
			_, err = txframe.Peek(b[i:])
		case endMagic:
			_, err = DecodeEnd(b[i:])
		case headerMagic:
			_, err = DecodeHeader(b[i:])
		}
		if err == nil {
			return true
		}
	}
	return false
}

// offsetBy shifts an *Error's offset from a section to the whole file.
func offsetBy(err error, base int64) error {
	var se *Error
	if errors.As(err, &se) {
		c := *se
		c.Offset += base
		return &c
	}
	return err
}

// LastLSN returns the last LSN of a file that ends in a valid end record,
// read in O(1); false when the file ends otherwise (or is compressed).
func LastLSN(f io.ReaderAt, size int64) (uint64, bool) {
	t, ok := completeTail(f, size)
	return t.Last, ok
}

// Segment describes one segment of a file, from its header and end record.
type Segment struct {
	Offset int64
	Header Header
	End    End
}

// Segments lists the segments of a file of size bytes from its end records
// alone, walking back from the last: O(segments), no frame is read. It
// reports false when the file does not allow it (a torn tail, or bytes that
// are not whole segments), and the caller must scan forward instead.
func Segments(f io.ReaderAt, size int64) ([]Segment, bool) {
	var segs []Segment
	for end := size; end > 0; {
		t, ok := completeTail(f, end)
		if !ok {
			return nil, false
		}
		var b [EndSize]byte
		if _, err := f.ReadAt(b[:], end-EndSize); err != nil {
			return nil, false
		}
		e, _ := DecodeEnd(b[:])
		segs = append(segs, Segment{Offset: t.SegStart, Header: t.Header, End: e})
		end = t.SegStart
	}
	for i, j := 0, len(segs)-1; i < j; i, j = i+1, j-1 {
		segs[i], segs[j] = segs[j], segs[i]
	}
	return segs, true
}
