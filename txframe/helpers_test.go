package txframe_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"slices"
	"sync"
	"testing"

	"github.com/hotpipe/hotpipe/txframe"
)

// The frame layout restated from doc.go, so that the tests check the
// documented format instead of repeating the implementation's constants.
const (
	offMagic   = 0  // "HPF1"
	offBodyLen = 4  // u32 body length B
	offLSN     = 8  // u64, first byte of the body
	offTime    = 16 // i64 commit time
	offCount   = 24 // u32 entry count
	offEntries = 28 // first entry
	entryHdr   = 7  // op u8 | key length u16 | value length u32
	minBody    = 28 // LSN + time + count + the smallest entry (a delete of a 1-byte key)
	overhead   = 44 // magic 4 + body length 4 + h(n) 32 + CRC 4
)

// Offsets of the golden transaction's entries (see goldenEntries).
const (
	goldenBodyLen = 58                     // B: 20 fixed bytes and entries of 15, 11 and 12
	goldenBodyEnd = offLSN + goldenBodyLen // first byte after the last entry
	offEntry0     = offEntries             // put "alpha"="one"
	offEntry1     = offEntry0 + 7 + 5 + 3  // delete "beta"
	offEntry2     = offEntry1 + 7 + 4      // put "gamma"=""
)

var sentinels = []error{
	txframe.ErrIncomplete, txframe.ErrMagic, txframe.ErrTooLarge,
	txframe.ErrChecksum, txframe.ErrMalformed, txframe.ErrChain,
}

// sentinelOf returns the one sentinel err wraps, or nil if it wraps none or
// more than one.
func sentinelOf(err error) error {
	var found error
	for _, s := range sentinels {
		if errors.Is(err, s) {
			if found != nil {
				return nil
			}
			found = s
		}
	}
	return found
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// reseal recomputes the CRC32C of whole frame f in place after a test has
// edited it, so the frame's checksum is right and only the edit is wrong.
func reseal(f []byte) []byte {
	n := len(f) - 4
	binary.LittleEndian.PutUint32(f[n:], crc32.Checksum(f[:n], castagnoli))
	return f
}

// edited returns a copy of f changed by edit, with its CRC left as it was.
func edited(f []byte, edit func(g []byte)) []byte {
	g := bytes.Clone(f)
	edit(g)
	return g
}

// resealed returns a copy of f changed by edit, with a recomputed CRC.
func resealed(f []byte, edit func(g []byte)) []byte {
	return reseal(edited(f, edit))
}

// withU16, withU32 and withByte return copies of f with one field
// overwritten (little-endian) and the CRC left unchanged.
func withU16(f []byte, off int, v uint16) []byte {
	return edited(f, func(g []byte) { binary.LittleEndian.PutUint16(g[off:], v) })
}

func withU32(f []byte, off int, v uint32) []byte {
	return edited(f, func(g []byte) { binary.LittleEndian.PutUint32(g[off:], v) })
}

func withByte(f []byte, off int, v byte) []byte {
	return edited(f, func(g []byte) { g[off] = v })
}

// flipped returns a copy of f with one bit inverted.
func flipped(f []byte, bit int) []byte {
	return edited(f, func(g []byte) { g[bit/8] ^= 1 << (bit % 8) })
}

// inserted returns a copy of f with extra inserted at off inside the body,
// the body length grown to match and the CRC recomputed.
func inserted(f []byte, off int, extra []byte) []byte {
	g := slices.Concat(f[:off], extra, f[off:])
	b := binary.LittleEndian.Uint32(g[offBodyLen:])
	binary.LittleEndian.PutUint32(g[offBodyLen:], b+uint32(len(extra)))
	return reseal(g)
}

func put(key, value string) txframe.Entry {
	return txframe.Entry{Op: txframe.OpPut, Key: []byte(key), Value: []byte(value)}
}

func del(key string) txframe.Entry {
	return txframe.Entry{Op: txframe.OpDelete, Key: []byte(key)}
}

// seqHash returns the hash whose bytes are 0x00, 0x01, ... 0x1f.
func seqHash() txframe.Hash {
	var h txframe.Hash
	for i := range h {
		h[i] = byte(i)
	}
	return h
}

// The golden transaction, also the base that most refusal tests edit.
const (
	goldenLSN  = 7
	goldenTime = 1700000000123456789
)

func goldenEntries() []txframe.Entry {
	return []txframe.Entry{put("alpha", "one"), del("beta"), put("gamma", "")}
}

func goldenFrame(t testing.TB) []byte {
	t.Helper()
	f, _ := mustAppend(t, seqHash(), goldenLSN, goldenTime, goldenEntries()...)
	return f
}

func mustAppend(t testing.TB, prev txframe.Hash, lsn uint64, commitTime int64, entries ...txframe.Entry) ([]byte, txframe.Hash) {
	t.Helper()
	f, h, err := txframe.Append(nil, prev, lsn, commitTime, entries)
	if err != nil {
		t.Fatalf("Append(LSN %d): %v", lsn, err)
	}
	return f, h
}

// bigValue is one shared buffer of MaxValueLen+1 bytes: tests slice their
// large values from it instead of allocating 16 MiB each.
var bigValue = sync.OnceValue(func() []byte { return make([]byte, txframe.MaxValueLen+1) })

// sameEntries reports whether got holds the same operations, keys and values
// as want. A nil and an empty value are the same: both encode to length 0.
func sameEntries(got, want []txframe.Entry) bool {
	return slices.EqualFunc(got, want, func(a, b txframe.Entry) bool {
		return a.Op == b.Op && bytes.Equal(a.Key, b.Key) && bytes.Equal(a.Value, b.Value)
	})
}
