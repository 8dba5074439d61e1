package txframe

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"

	"crypto/sha256"
)

// Magic opens every frame: "HPF1" (hotpipe frame, version 1).
var Magic = [4]byte{'H', 'P', 'F', '1'}

// Layout sizes, in bytes.
const (
	HeaderSize  = 8            // magic + body length
	TrailerSize = HashSize + 4 // h(n) + CRC32C
	Overhead    = HeaderSize + TrailerSize
	HashSize    = 32 // SHA-256
	bodyFixed   = 20 // LSN + commit time + entry count
	entryFixed  = 7  // op + key length + value length
	minBodyLen  = bodyFixed + entryFixed + 1
	crcOffset   = -4           // the CRC is the frame's last 4 bytes
	hashOffset  = -TrailerSize // h(n) precedes the CRC
	bodyOffset  = HeaderSize   // the body follows the header
	minFrameLen = Overhead + minBodyLen
)

// Limits. Each bounds what a corrupted or hostile length can make a reader
// allocate, and each is also what a writer refuses to produce.
const (
	// MaxKeyLen bounds a key; keys are 1..MaxKeyLen bytes.
	MaxKeyLen = 1024
	// MaxValueLen bounds a value; values are 0..MaxValueLen bytes.
	MaxValueLen = 16 << 20
	// MaxBodyLen bounds a transaction's encoded body (64 MiB), and so the
	// largest buffer a reader needs for one frame.
	MaxBodyLen = 64 << 20
	// MaxFrameLen is the largest frame: the largest body plus header and
	// trailer.
	MaxFrameLen = MaxBodyLen + Overhead
)

// Op is what an entry does to its key.
type Op uint8

// The entry operations.
const (
	OpPut    Op = 1
	OpDelete Op = 2
)

// String returns "put", "delete", or the unknown op's number.
func (o Op) String() string {
	switch o {
	case OpPut:
		return "put"
	case OpDelete:
		return "delete"
	}
	return fmt.Sprintf("op(%d)", uint8(o))
}

// Entry is one put or delete inside a transaction. Deletes carry no value.
type Entry struct {
	Op    Op
	Key   []byte
	Value []byte
}

// Hash is a chained state hash h(n).
type Hash [HashSize]byte

// String returns the hash in lowercase hex.
func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// ParseHash parses the hex form produced by Hash.String.
func ParseHash(s string) (Hash, error) {
	var h Hash
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != HashSize {
		return h, fmt.Errorf("%w: %q is not a 64-digit hex hash", ErrMalformed, s)
	}
	copy(h[:], b)
	return h, nil
}

// Frame is a decoded frame. Entries alias the bytes it was decoded from.
type Frame struct {
	LSN     uint64
	Time    int64 // commit time, unix nanoseconds
	Entries []Entry
	Hash    Hash // h(LSN)
}

// Errors reported by the decoder and encoder. Callers test them with
// errors.Is; the wrapped messages carry the offending values.
var (
	// ErrIncomplete means the input ends before the frame does: a torn write
	// at a file's tail, or a stream cut short.
	ErrIncomplete = errors.New("incomplete frame")
	// ErrMagic means the bytes at a frame boundary are not a frame.
	ErrMagic = errors.New("bad frame magic")
	// ErrTooLarge means a length field is outside the format's bounds (a body
	// length below the minimum, or any length above its maximum).
	ErrTooLarge = errors.New("frame length out of bounds")
	// ErrChecksum means the CRC32C does not match the frame's bytes.
	ErrChecksum = errors.New("frame checksum mismatch")
	// ErrMalformed means the frame's CRC is right but its body breaks the
	// format's rules, or a transaction to encode is invalid.
	ErrMalformed = errors.New("malformed frame")
	// ErrChain means a frame's stored h(n) is not SHA-256(h(n-1) || SHA-256(body)).
	ErrChain = errors.New("chained hash mismatch")
)

// Header is what Peek learns from a frame without decoding its entries.
type Header struct {
	LSN  uint64
	Time int64
	Len  int // whole frame length in bytes
	Hash Hash
}

// FrameLen returns the length of the frame that starts at b[0], reading only
// its 8-byte header. It returns ErrIncomplete if b is shorter than the header,
// and ErrMagic or ErrTooLarge if the header cannot start a frame.
func FrameLen(b []byte) (int, error) {
	if len(b) < HeaderSize {
		return 0, fmt.Errorf("%w: %d of %d header bytes", ErrIncomplete, len(b), HeaderSize)
	}
	if [4]byte(b[:4]) != Magic {
		return 0, fmt.Errorf("%w: % x", ErrMagic, b[:4])
	}
	bodyLen := binary.LittleEndian.Uint32(b[4:8])
	if bodyLen < minBodyLen || bodyLen > MaxBodyLen {
		return 0, fmt.Errorf("%w: body length %d not in [%d, %d]", ErrTooLarge, bodyLen, minBodyLen, MaxBodyLen)
	}
	return int(bodyLen) + Overhead, nil
}

// Peek checks the frame at the start of b (bounds and CRC) and returns its
// header fields without decoding the entries. It is the cheap check used when
// frames are copied in blocks.
func Peek(b []byte) (Header, error) {
	n, err := FrameLen(b)
	if err != nil {
		return Header{}, err
	}
	if len(b) < n {
		return Header{}, fmt.Errorf("%w: %d of %d bytes", ErrIncomplete, len(b), n)
	}
	f := b[:n]
	want := binary.LittleEndian.Uint32(f[n+crcOffset:])
	if got := Checksum(f[:n+crcOffset]); got != want {
		return Header{}, fmt.Errorf("%w: stored %08x, computed %08x", ErrChecksum, want, got)
	}
	h := Header{
		LSN:  binary.LittleEndian.Uint64(f[8:16]),
		Time: int64(binary.LittleEndian.Uint64(f[16:24])),
		Len:  n,
		Hash: Hash(f[n+hashOffset : n+crcOffset]),
	}
	if h.LSN == 0 {
		return Header{}, fmt.Errorf("%w: LSN 0", ErrMalformed)
	}
	return h, nil
}

// Decode checks and decodes the frame at the start of b and returns it with
// its length. The returned entries alias b.
func Decode(b []byte) (Frame, int, error) {
	h, err := Peek(b)
	if err != nil {
		return Frame{}, 0, err
	}
	entries, err := decodeEntries(b[:h.Len])
	if err != nil {
		return Frame{}, 0, fmt.Errorf("LSN %d: %w", h.LSN, err)
	}
	return Frame{LSN: h.LSN, Time: h.Time, Entries: entries, Hash: h.Hash}, h.Len, nil
}

// decodeEntries parses the entries of whole frame f, which has passed Peek.
// The count is bounded by the body's size before anything is allocated.
func decodeEntries(f []byte) ([]Entry, error) {
	body := Body(f)
	count := binary.LittleEndian.Uint32(body[16:20])
	if room := len(body) - bodyFixed; uint64(count) > uint64(room)/(entryFixed+1) {
		return nil, fmt.Errorf("%w: %d entries cannot fit in %d bytes", ErrMalformed, count, room)
	}
	entries := make([]Entry, 0, count)
	err := ForEachEntry(f, func(e Entry, _ int) error {
		entries = append(entries, e)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return entries, nil
}

func decodeEntry(b []byte) (Entry, int, error) {
	if len(b) < entryFixed {
		return Entry{}, 0, fmt.Errorf("%w: entry header cut short", ErrMalformed)
	}
	op := Op(b[0])
	keyLen := int(binary.LittleEndian.Uint16(b[1:3]))
	valLen := uint64(binary.LittleEndian.Uint32(b[3:7]))
	if err := checkEntryShape(op, keyLen, valLen); err != nil {
		return Entry{}, 0, err
	}
	if uint64(len(b)-entryFixed) < uint64(keyLen)+valLen {
		return Entry{}, 0, fmt.Errorf("%w: entry of %d bytes overruns the body", ErrMalformed, uint64(keyLen)+valLen)
	}
	n := entryFixed + keyLen + int(valLen)
	e := Entry{Op: op, Key: b[entryFixed : entryFixed+keyLen : entryFixed+keyLen]}
	if op == OpPut {
		e.Value = b[entryFixed+keyLen : n : n]
	}
	return e, n, nil
}

func checkEntryShape(op Op, keyLen int, valLen uint64) error {
	switch {
	case op != OpPut && op != OpDelete:
		return fmt.Errorf("%w: unknown op %d", ErrMalformed, uint8(op))
	case keyLen < 1 || keyLen > MaxKeyLen:
		return fmt.Errorf("%w: key length %d not in [1, %d]", ErrMalformed, keyLen, MaxKeyLen)
	case valLen > MaxValueLen:
		return fmt.Errorf("%w: value length %d exceeds %d", ErrMalformed, valLen, MaxValueLen)
	case op == OpDelete && valLen != 0:
		return fmt.Errorf("%w: delete with a %d-byte value", ErrMalformed, valLen)
	}
	return nil
}

// Fields returns the LSN and commit time of a whole frame f that has passed
// Peek, without checking it again.
func Fields(f []byte) (lsn uint64, commitTime int64) {
	return binary.LittleEndian.Uint64(f[8:16]), int64(binary.LittleEndian.Uint64(f[16:24]))
}

// Body returns the hashed body of a whole frame f (as returned by Peek's Len).
func Body(f []byte) []byte { return f[bodyOffset : len(f)+hashOffset] }

// StoredHash returns the h(n) recorded in a whole frame f.
func StoredHash(f []byte) Hash { return Hash(f[len(f)+hashOffset : len(f)+crcOffset]) }

// BodySum returns the SHA-256 of whole frame f's body: the part of h(n)
// that does not depend on the frame before, so it can be computed ahead and
// in parallel (see Link).
func BodySum(f []byte) Hash { return sha256.Sum256(Body(f)) }

// Chain returns h(n) = SHA-256(prev || SHA-256(body)).
func Chain(prev Hash, body []byte) Hash { return Link(prev, sha256.Sum256(body)) }

// Link returns h(n) = SHA-256(prev || bodySum) from the body's own SHA-256.
// Body sums are independent of each other, so they can be computed in
// parallel; only this 64-byte step is sequential.
func Link(prev, bodySum Hash) Hash {
	var buf [2 * HashSize]byte
	copy(buf[:HashSize], prev[:])
	copy(buf[HashSize:], bodySum[:])
	return sha256.Sum256(buf[:])
}

// VerifyChain checks that whole frame f's stored h(n) follows from prev.
func VerifyChain(prev Hash, f []byte) error {
	want := StoredHash(f)
	if got := Chain(prev, Body(f)); got != want {
		return fmt.Errorf("%w: stored %s, computed %s", ErrChain, want, got)
	}
	return nil
}

// EncodedLen returns the frame length for entries, or an error if they do
// not form a valid transaction.
func EncodedLen(entries []Entry) (int, error) {
	if len(entries) == 0 {
		return 0, fmt.Errorf("%w: a transaction needs at least one entry", ErrMalformed)
	}
	body := uint64(bodyFixed)
	for i, e := range entries {
		if err := checkEntryShape(e.Op, len(e.Key), uint64(len(e.Value))); err != nil {
			return 0, fmt.Errorf("entry %d: %w", i, err)
		}
		body += entryFixed + uint64(len(e.Key)) + uint64(len(e.Value))
		if body > MaxBodyLen {
			return 0, fmt.Errorf("%w: transaction exceeds %d bytes", ErrTooLarge, MaxBodyLen)
		}
	}
	return int(body) + Overhead, nil
}

// Encode appends f to dst exactly as given, including f.Hash, and returns
// the extended slice. It is the inverse of Decode.
func Encode(dst []byte, f *Frame) ([]byte, error) {
	dst, _, err := appendFrame(dst, f, nil)
	return dst, err
}

// Append encodes a new transaction after prev, computing its h(n), appends
// the frame to dst and returns the extended slice and h(n).
func Append(dst []byte, prev Hash, lsn uint64, commitTime int64, entries []Entry) ([]byte, Hash, error) {
	return appendFrame(dst, &Frame{LSN: lsn, Time: commitTime, Entries: entries}, &prev)
}

// appendFrame appends f with h(n) chained from prev, or with f.Hash as given
// when prev is nil, and returns the extended slice and h(n).
func appendFrame(dst []byte, f *Frame, prev *Hash) ([]byte, Hash, error) {
	n, err := EncodedLen(f.Entries)
	if err != nil {
		return dst, Hash{}, err
	}
	if f.LSN == 0 {
		return dst, Hash{}, fmt.Errorf("%w: LSN 0", ErrMalformed)
	}
	start := len(dst)
	dst = appendBody(dst, n, f)
	h := f.Hash
	if prev != nil {
		h = Chain(*prev, dst[start+bodyOffset:])
	}
	dst = append(dst, h[:]...)
	return binary.LittleEndian.AppendUint32(dst, Checksum(dst[start:])), h, nil
}

// appendBody writes header and body of a frame of total length n.
func appendBody(dst []byte, n int, f *Frame) []byte {
	dst = append(dst, Magic[:]...)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(n-Overhead))
	dst = binary.LittleEndian.AppendUint64(dst, f.LSN)
	dst = binary.LittleEndian.AppendUint64(dst, uint64(f.Time))
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(f.Entries)))
	for _, e := range f.Entries {
		dst = append(dst, byte(e.Op))
		dst = binary.LittleEndian.AppendUint16(dst, uint16(len(e.Key)))
		dst = binary.LittleEndian.AppendUint32(dst, uint32(len(e.Value)))
		dst = append(dst, e.Key...)
		dst = append(dst, e.Value...)
	}
	return dst
}

// CheckEntries checks that the entries of whole frame f, which must already
// have passed Peek, are well formed and fill its body exactly.
func CheckEntries(f []byte) error {
	return ForEachEntry(f, func(Entry, int) error { return nil })
}

// ForEachEntry calls fn for each entry of whole frame f, which must already
// have passed Peek, with the value's offset inside f. It does not allocate.
func ForEachEntry(f []byte, fn func(e Entry, valueOff int) error) error {
	body := Body(f)
	count := binary.LittleEndian.Uint32(body[16:20])
	if count == 0 {
		return fmt.Errorf("%w: no entries", ErrMalformed)
	}
	off := bodyFixed
	for i := uint32(0); i < count; i++ {
		e, n, err := decodeEntry(body[off:])
		if err != nil {
			return fmt.Errorf("entry %d: %w", i, err)
		}
		if err := fn(e, bodyOffset+off+entryFixed+len(e.Key)); err != nil {
			return err
		}
		off += n
	}
	if off != len(body) {
		return fmt.Errorf("%w: %d bytes after the last entry", ErrMalformed, len(body)-off)
	}
	return nil
}
