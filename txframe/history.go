package txframe

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"iter"
)

// History errors: the one home of the rules that say whether frames, a
// stream segment or a backup file continue a history. The engine, the
// stream reader, restore and backup all return these, so callers map them
// to one exit code.
var (
	// ErrGap means LSNs are missing or out of order.
	ErrGap = errors.New("LSN gap")
	// ErrHistory means two histories differ: another origin, or another
	// hash at the same LSN.
	ErrHistory = errors.New("different history")
	// ErrOrigin means two histories have different origins; errors that
	// wrap it wrap ErrHistory too.
	ErrOrigin = errors.New("origin mismatch")
)

// Origin names a history: 128 random bits made when the history begins. A
// restored copy keeps the origin of the history it copies, and every
// stream segment carries the origin it was cut from.
type Origin [16]byte

// NewOrigin returns a fresh random origin id.
func NewOrigin() Origin {
	var o Origin
	if _, err := rand.Read(o[:]); err != nil {
		panic("txframe: crypto/rand failed: " + err.Error()) // never fails on supported platforms
	}
	return o
}

// String returns the origin in lowercase hex.
func (o Origin) String() string { return hex.EncodeToString(o[:]) }

// IsZero reports whether o is unset.
func (o Origin) IsZero() bool { return o == Origin{} }

// ParseOrigin parses the form produced by Origin.String.
func ParseOrigin(s string) (Origin, error) {
	var o Origin
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != len(o) {
		return o, fmt.Errorf("origin %q is not 32 hex digits", s)
	}
	copy(o[:], b)
	return o, nil
}

// MarshalText implements encoding.TextMarshaler.
func (o Origin) MarshalText() ([]byte, error) { return []byte(o.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (o *Origin) UnmarshalText(b []byte) error {
	p, err := ParseOrigin(string(b))
	*o = p
	return err
}

// SameOrigin returns nil when theirs and ours are one origin, else an
// error that is ErrHistory and ErrOrigin, saying which comes from which:
// theirName and ourName are the two sides as the message names them ("the
// stream", "the database").
func SameOrigin(theirs, ours Origin, theirName, ourName string) error {
	if theirs == ours {
		return nil
	}
	return fmt.Errorf("%w: %w: %s comes from origin %s, %s from %s", ErrHistory, ErrOrigin, theirName, theirs, ourName, ours)
}

// SameHash returns nil when two histories have the same h at lsn, else
// ErrHistory naming both hashes: two histories with one hash at an LSN
// are one history up to it.
func SameHash(lsn uint64, theirs, ours Hash, theirName, ourName string) error {
	if theirs == ours {
		return nil
	}
	return fmt.Errorf("%w at LSN %d: %s has h = %s, %s has %s", ErrHistory, lsn, theirName, theirs, ourName, ours)
}

// GapError is ErrGap naming the LSNs missing, From..To. Its message is the
// range alone ("LSNs 21..40 are missing"): callers put before it what ends
// where and what starts where.
type GapError struct {
	From, To uint64 // the first and the last LSN missing
}

// Error says which LSNs are missing.
func (e *GapError) Error() string { return fmt.Sprintf("LSNs %d..%d are missing", e.From, e.To) }

// Unwrap returns ErrGap.
func (e *GapError) Unwrap() error { return ErrGap }

// Tip is where a chain of frames stands: the last LSN, its commit time and
// h(LSN). The zero Tip is the start of every history.
type Tip struct {
	LSN  uint64
	Time int64
	Hash Hash
}

// Follows checks that whole frame f, whose header h was read by Peek, can
// come after tip: the next LSN, a commit time not earlier, well-formed
// entries and, when bodySum is not nil, h(n) = SHA-256(tip.Hash || bodySum)
// with bodySum the SHA-256 of f's body. The engine's recovery, check and
// apply and the stream reader hold frames to this one rule.
func Follows(tip Tip, f []byte, h Header, bodySum *Hash) error {
	switch {
	case h.LSN != tip.LSN+1:
		return fmt.Errorf("%w: expected LSN %d, found LSN %d", ErrGap, tip.LSN+1, h.LSN)
	case h.Time < tip.Time:
		return fmt.Errorf("%w: commit time %d is before the previous frame's %d", ErrMalformed, h.Time, tip.Time)
	}
	if err := CheckEntries(f); err != nil {
		return err
	}
	if bodySum == nil {
		return nil
	}
	if got := Link(tip.Hash, *bodySum); got != h.Hash {
		return fmt.Errorf("%w: stored %s, computed %s", ErrChain, h.Hash, got)
	}
	return nil
}

// Frames yields the frames of block, a run of whole frames already checked
// (as a stream reader yields them or a database stores them), in order. It
// stops at the first bytes that do not hold a whole frame.
func Frames(block []byte) iter.Seq[[]byte] {
	return func(yield func([]byte) bool) {
		for p := 0; p < len(block); {
			n, err := FrameLen(block[p:])
			if err != nil || n > len(block)-p || !yield(block[p:p+n]) {
				return
			}
			p += n
		}
	}
}
