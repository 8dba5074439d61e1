package stream

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/hotpipe/hotpipe/txframe"
)

// Record sizes and magics.
const (
	HeaderSize  = 140
	EndSize     = 80
	Version     = 1
	maxNameLen  = 63
	headerCRCAt = HeaderSize - 4
	endCRCAt    = EndSize - 4
)

var (
	headerMagic = [4]byte{'H', 'P', 'S', 'H'}
	endMagic    = [4]byte{'H', 'P', 'S', 'E'}
	frameMagic  = txframe.Magic
)

// Errors. Readers wrap them in *Error, which names the input, offset and LSN.
var (
	// ErrTruncated means the input ends inside a segment: without its end
	// record, or inside a record or frame.
	ErrTruncated = errors.New("stream is truncated")
	// ErrEmpty means the input holds no bytes at all.
	ErrEmpty = errors.New("input is empty: not a hotpipe stream")
	// ErrFormat means bytes that are not a hotpipe stream where one was
	// expected, or an unsupported version or compression.
	ErrFormat = errors.New("not a hotpipe stream")
	// ErrChecksum means a header or end record fails its CRC.
	ErrChecksum = errors.New("record checksum mismatch")
	// ErrEndMismatch means an end record disagrees with the frames before it.
	ErrEndMismatch = errors.New("end record does not match its segment")
	// ErrGap means LSNs are missing or out of order: inside a segment, or
	// between one segment and the next, where a *txframe.GapError names
	// the LSNs missing. It is txframe.ErrGap.
	ErrGap = txframe.ErrGap
	// ErrHistory means a segment's base does not continue the history read
	// so far (another origin, or a different hash at the same LSN). It is
	// txframe.ErrHistory.
	ErrHistory = txframe.ErrHistory
)

// Error locates a problem in a stream input.
type Error struct {
	Source string // input name: a file path or "stdin"
	Offset int64  // byte offset in the (decompressed) input
	LSN    uint64 // LSN expected or concerned; 0 when none applies
	Err    error
}

// Error names the input, offset and (when known) LSN, then the cause.
func (e *Error) Error() string {
	if e.LSN == 0 {
		return fmt.Sprintf("%s: offset %d: %v", e.Source, e.Offset, e.Err)
	}
	return fmt.Sprintf("%s: offset %d (LSN %d): %v", e.Source, e.Offset, e.LSN, e.Err)
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Header opens a segment.
type Header struct {
	Origin   txframe.Origin
	Name     string // source database
	Created  time.Time
	Base     uint64       // LSN before the segment's first frame
	BaseHash txframe.Hash // h(Base)
}

// End closes a segment.
type End struct {
	Frames   uint64
	First    uint64 // Base+1
	Last     uint64 // Base+Frames
	LastHash txframe.Hash
	Length   uint64 // bytes of the segment's header and frames
}

// AppendHeader appends h's encoding to dst.
func AppendHeader(dst []byte, h *Header) ([]byte, error) {
	if len(h.Name) == 0 || len(h.Name) > maxNameLen {
		return dst, fmt.Errorf("%w: source name %q must be 1..%d bytes", ErrFormat, h.Name, maxNameLen)
	}
	var b [HeaderSize]byte
	copy(b[0:], headerMagic[:])
	binary.LittleEndian.PutUint16(b[4:], Version)
	binary.LittleEndian.PutUint16(b[6:], HeaderSize)
	copy(b[8:24], h.Origin[:])
	binary.LittleEndian.PutUint64(b[24:], uint64(h.Created.UnixNano()))
	binary.LittleEndian.PutUint64(b[32:], h.Base)
	copy(b[40:72], h.BaseHash[:])
	b[72] = byte(len(h.Name))
	copy(b[73:136], h.Name)
	binary.LittleEndian.PutUint32(b[headerCRCAt:], txframe.Checksum(b[:headerCRCAt]))
	return append(dst, b[:]...), nil
}

// DecodeHeader decodes a header from the first HeaderSize bytes of b.
func DecodeHeader(b []byte) (Header, error) {
	if err := checkRecord(b, HeaderSize, headerMagic, "segment header"); err != nil {
		return Header{}, err
	}
	if v, n := binary.LittleEndian.Uint16(b[4:]), binary.LittleEndian.Uint16(b[6:]); v != Version || n != HeaderSize {
		return Header{}, fmt.Errorf("%w: stream version %d (header length %d); this hotpipe reads version %d", ErrFormat, v, n, Version)
	}
	n := int(b[72])
	if n == 0 || n > maxNameLen || !zero(b[73+n:136]) {
		return Header{}, fmt.Errorf("%w: segment header: bad source name length %d", ErrFormat, n)
	}
	return Header{
		Origin:   [16]byte(b[8:24]),
		Created:  time.Unix(0, int64(binary.LittleEndian.Uint64(b[24:]))).UTC(),
		Base:     binary.LittleEndian.Uint64(b[32:]),
		BaseHash: txframe.Hash(b[40:72]),
		Name:     string(b[73 : 73+n]),
	}, nil
}

// checkRecord checks the first size bytes of b as a record of kind what:
// all there, its magic, and its CRC32C in the last 4 bytes.
func checkRecord(b []byte, size int, magic [4]byte, what string) error {
	if len(b) < size {
		return fmt.Errorf("%w: %d of %d %s bytes", ErrTruncated, len(b), size, what)
	}
	if [4]byte(b[:4]) != magic {
		return fmt.Errorf("%w: no %s (bytes % x)", ErrFormat, what, b[:4])
	}
	want, got := binary.LittleEndian.Uint32(b[size-4:]), txframe.Checksum(b[:size-4])
	if want != got {
		return fmt.Errorf("%w: %s: stored %08x, computed %08x", ErrChecksum, what, want, got)
	}
	return nil
}

// AppendEnd appends e's encoding to dst.
func AppendEnd(dst []byte, e *End) []byte {
	var b [EndSize]byte
	copy(b[0:], endMagic[:])
	binary.LittleEndian.PutUint64(b[8:], e.Frames)
	binary.LittleEndian.PutUint64(b[16:], e.First)
	binary.LittleEndian.PutUint64(b[24:], e.Last)
	copy(b[32:64], e.LastHash[:])
	binary.LittleEndian.PutUint64(b[64:], e.Length)
	binary.LittleEndian.PutUint32(b[endCRCAt:], txframe.Checksum(b[:endCRCAt]))
	return append(dst, b[:]...)
}

// DecodeEnd decodes an end record from the first EndSize bytes of b.
func DecodeEnd(b []byte) (End, error) {
	if err := checkRecord(b, EndSize, endMagic, "end record"); err != nil {
		return End{}, err
	}
	if !zero(b[4:8]) || !zero(b[72:76]) {
		return End{}, fmt.Errorf("%w: end record: reserved bytes are not zero", ErrFormat)
	}
	e := End{
		Frames:   binary.LittleEndian.Uint64(b[8:]),
		First:    binary.LittleEndian.Uint64(b[16:]),
		Last:     binary.LittleEndian.Uint64(b[24:]),
		LastHash: txframe.Hash(b[32:64]),
		Length:   binary.LittleEndian.Uint64(b[64:]),
	}
	if !e.consistent() {
		return End{}, fmt.Errorf("%w: end record: %d frames, LSNs %d..%d, %d bytes are inconsistent", ErrEndMismatch, e.Frames, e.First, e.Last, e.Length)
	}
	return e, nil
}

// consistent reports whether the counts agree: Frames frames numbered
// First..Last (Last = First-1 when there are none), after a header.
func (e End) consistent() bool {
	lsnsAgree := e.Last+1 >= e.First && e.Last+1-e.First == e.Frames
	return e.First >= 1 && lsnsAgree && e.Length >= HeaderSize
}

func zero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
