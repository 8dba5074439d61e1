//go:build unix

package torture

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/hotpipe/hotpipe/txframe"
)

// The torture suite reads a database's files the way docs/FORMAT.md
// ("Segment files in a database") describes them, independently of the
// engine: to find where acknowledged frames end in a copy, and what
// DURABLE says.

const (
	pageSize = 4096
	slotSize = 128 // a DURABLE slot
	sealSize = 96
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// mark is a DURABLE slot.
type mark struct {
	slot     int // 0 or 1
	seq, lsn uint64
	seg      uint64
	frameOff int64
	end      int64
	hash     txframe.Hash
	fence    bool
}

// readMark returns the valid slot of DURABLE's bytes with the highest
// sequence number, and whether there is one.
func readMark(b []byte) (mark, bool) {
	var best mark
	ok := false
	for i := 0; i < 2 && len(b) >= (i+1)*slotSize; i++ {
		s := b[i*slotSize : (i+1)*slotSize]
		if binary.LittleEndian.Uint32(s[84:]) != crc32.Checksum(s[:84], castagnoli) {
			continue
		}
		m := mark{slot: i, seq: binary.LittleEndian.Uint64(s[0:]), lsn: binary.LittleEndian.Uint64(s[8:]),
			seg: binary.LittleEndian.Uint64(s[24:]), frameOff: int64(binary.LittleEndian.Uint64(s[32:])),
			end: int64(binary.LittleEndian.Uint64(s[40:])), hash: txframe.Hash(s[48:80]),
			fence: binary.LittleEndian.Uint32(s[80:])&1 != 0}
		if m.seq == 0 || binary.LittleEndian.Uint32(s[80:])&^1 != 0 {
			continue
		}
		if !ok || m.seq > best.seq {
			best, ok = m, true
		}
	}
	return best, ok
}

// segName is a segment file's name: its first LSN in 20 digits.
func segName(first uint64) string { return fmt.Sprintf("%020d.seg", first) }

// segments lists the first LSNs of dir's segment files, ascending.
func segments(t *testing.T, dir string) []uint64 {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var segs []uint64
	for _, e := range ents {
		name, ok := strings.CutSuffix(e.Name(), ".seg")
		if !ok || len(name) != 20 {
			continue
		}
		first, err := strconv.ParseUint(name, 10, 64)
		if err != nil {
			t.Fatalf("segment file %s", e.Name())
		}
		segs = append(segs, first)
	}
	slices.Sort(segs)
	return segs
}

func isSegment(name string) bool { return strings.HasSuffix(name, ".seg") }

// framePos is where a frame lies in a database.
type framePos struct {
	seg      uint64
	off, end int64
	hash     txframe.Hash
}

// findFrame returns where frame lsn lies in the database in dir, reading
// frames from the start of the segment that holds it.
func findFrame(t *testing.T, dir string, segs []uint64, lsn uint64) (framePos, error) {
	t.Helper()
	i, _ := slices.BinarySearch(segs, lsn+1)
	if i == 0 {
		return framePos{}, fmt.Errorf("no segment holds LSN %d", lsn)
	}
	seg := segs[i-1]
	data := readFile(t, filepath.Join(dir, segName(seg)))
	for off := 0; off < len(data); {
		h, err := txframe.Peek(data[off:])
		if err != nil {
			return framePos{}, fmt.Errorf("%s offset %d, looking for LSN %d: %w", segName(seg), off, lsn, err)
		}
		if h.LSN == lsn {
			return framePos{seg: seg, off: int64(off), end: int64(off + h.Len), hash: h.Hash}, nil
		}
		off += h.Len
	}
	return framePos{}, fmt.Errorf("%s ends before LSN %d", segName(seg), lsn)
}

// frameSpansFrom lists the whole frames of a segment's bytes from off on,
// up to the first bytes that are not one.
func frameSpansFrom(data []byte, off int) []span {
	var spans []span
	for off < len(data) {
		h, err := txframe.Peek(data[off:])
		if err != nil {
			break
		}
		spans = append(spans, span{off: off, end: off + h.Len, lsn: h.LSN})
		off += h.Len
	}
	return spans
}
