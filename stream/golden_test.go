package stream_test

import (
	"bytes"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hotpipe/hotpipe/stream"
	"github.com/hotpipe/hotpipe/txframe"
)

var update = flag.Bool("update", false, "rewrite testdata/golden/*.hex from the encoder (then check them by hand)")

// The golden segment holds one frame: txframe's golden frame (LSN 7,
// chained from h(6) = 00 01 .. 1f), so header, that frame and end record
// together are a complete segment another implementation can read.
const (
	goldenHeaderPath = "testdata/golden/header-v1.hex"
	goldenEndPath    = "testdata/golden/end-v1.hex"
	goldenFramePath  = "../txframe/testdata/golden/frame-v1.hex"

	// The CRCs, computed outside Go from the layout in doc.go (Python, a
	// bitwise CRC32C), which produced the same bytes as the golden files.
	goldenHeaderCRC = 0x38050441
	goldenEndCRC    = 0x11faff8f
	goldenH7        = "fae6ea9974bee156d4700e6235854a93b64ac1c1519ace4dea7c75eda9156038"
)

func goldenHeader() stream.Header {
	var base txframe.Hash
	for i := range base {
		base[i] = byte(i)
	}
	return stream.Header{Origin: testOrigin, Name: "foo", Created: time.Unix(0, 1700000000123456789).UTC(), Base: 6, BaseHash: base}
}

func goldenEnd() stream.End {
	h7, _ := txframe.ParseHash(goldenH7)
	return stream.End{Frames: 1, First: 7, Last: 7, LastHash: h7, Length: hdrLen + 102}
}

type region struct {
	size  int
	label string
}

// The labels annotate the hex files; the sizes must tile each record.
var (
	headerRegions = []region{
		{4, `magic "HPSH"`},
		{2, "format version 1 (u16 LE)"},
		{2, "header length 140 (u16 LE)"},
		{16, "origin id a0 a1 .. af"},
		{8, "created 1700000000123456789 ns (i64 LE)"},
		{8, "base LSN 6 (u64 LE): the first frame is LSN 7"},
		{32, "h(6) = 00 01 .. 1f, the hash the first frame chains from"},
		{1, "source name length 3"},
		{3, `source name "foo"`},
		{30, "name padding, zero: bytes 76..105"},
		{30, "name padding, zero: bytes 106..135"},
		{4, "CRC32C (Castagnoli) of bytes [0, 136), u32 LE"},
	}
	endRegions = []region{
		{4, `magic "HPSE"`},
		{4, "reserved, zero"},
		{8, "frame count 1 (u64 LE)"},
		{8, "first LSN 7 = base + 1 (u64 LE)"},
		{8, "last LSN 7 = base + frame count (u64 LE)"},
		{32, "h(7), the hash of the last frame"},
		{8, "segment length 242 = header 140 + frame 102 (u64 LE)"},
		{4, "reserved, zero"},
		{4, "CRC32C (Castagnoli) of bytes [0, 76), u32 LE"},
	}
)

func TestGoldenRecords(t *testing.T) {
	hdr, end := goldenHeader(), goldenEnd()
	hdrBytes, err := stream.AppendHeader(nil, &hdr)
	if err != nil {
		t.Fatal(err)
	}
	endBytes := stream.AppendEnd(nil, &end)
	if *update {
		writeGolden(t, goldenHeaderPath, "segment header", hdrBytes, headerRegions)
		writeGolden(t, goldenEndPath, "end record", endBytes, endRegions)
		t.Logf("wrote %s and %s; check them by hand against doc.go before committing them", goldenHeaderPath, goldenEndPath)
	}
	wantHdr, wantEnd := readGolden(t, goldenHeaderPath), readGolden(t, goldenEndPath)
	if !bytes.Equal(hdrBytes, wantHdr) {
		t.Errorf("encoded header differs from %s:\n got %x\nwant %x", goldenHeaderPath, hdrBytes, wantHdr)
	}
	if !bytes.Equal(endBytes, wantEnd) {
		t.Errorf("encoded end record differs from %s:\n got %x\nwant %x", goldenEndPath, endBytes, wantEnd)
	}
	if crc := leU32(wantHdr[136:]); crc != goldenHeaderCRC {
		t.Errorf("golden header CRC %08x; computed outside Go %08x", crc, goldenHeaderCRC)
	}
	if crc := leU32(wantEnd[76:]); crc != goldenEndCRC {
		t.Errorf("golden end record CRC %08x; computed outside Go %08x", crc, goldenEndCRC)
	}

	// The files decode on their own, as they would for another implementation.
	if got, err := stream.DecodeHeader(wantHdr); err != nil || got != hdr {
		t.Errorf("DecodeHeader(golden file) = %+v, %v; want %+v", got, err, hdr)
	}
	if got, err := stream.DecodeEnd(wantEnd); err != nil || got != end {
		t.Errorf("DecodeEnd(golden file) = %+v, %v; want %+v", got, err, end)
	}

	// With txframe's golden frame between them they are a whole segment.
	segment := cat(wantHdr, readGolden(t, goldenFramePath), wantEnd)
	res := readAll(t, inputs(segment), stream.Options{})
	checkErr(t, res.err, nil)
	if res.first != 7 || res.last != 7 || len(res.ends) != 1 || res.ends[0] != end {
		t.Errorf("golden segment yields LSNs %d..%d, end records %+v", res.first, res.last, res.ends)
	}
	if segs, ok := stream.Segments(bytes.NewReader(segment), int64(len(segment))); !ok || len(segs) != 1 || segs[0].Header != hdr {
		t.Errorf("Segments(golden segment) = %+v, %v", segs, ok)
	}
}

// TestRecordSizes pins the sizes doc.go gives.
func TestRecordSizes(t *testing.T) {
	if stream.HeaderSize != hdrLen || stream.EndSize != endLen || stream.Version != 1 {
		t.Errorf("HeaderSize %d, EndSize %d, Version %d; doc.go says %d, %d, 1", stream.HeaderSize, stream.EndSize, stream.Version, hdrLen, endLen)
	}
}

func leU32(b []byte) uint32 {
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}

// readGolden reads a hex file: whitespace and anything after '#' on a line
// are ignored.
func readGolden(t *testing.T, path string) []byte {
	t.Helper()
	text, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var digits strings.Builder
	for line := range strings.Lines(string(text)) {
		line, _, _ = strings.Cut(line, "#")
		digits.WriteString(strings.Join(strings.Fields(line), ""))
	}
	b, err := hex.DecodeString(digits.String())
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return b
}

func writeGolden(t *testing.T, path, what string, rec []byte, regions []region) {
	t.Helper()
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "# hotpipe stream golden vector: %s, stream format v1 (docs/FORMAT.md).\n", what)
	buf.WriteString("# The segment of txframe's golden frame: origin a0..af, source \"foo\", created\n")
	buf.WriteString("# 1700000000123456789, base LSN 6 with h(6) = 00 01 .. 1f, one frame (LSN 7).\n")
	buf.WriteString("# Hex digits only: whitespace and everything after '#' are ignored.\n")
	buf.WriteString("# Regenerate with: go test ./stream -run TestGoldenRecords -update\n")
	off := 0
	for _, r := range regions {
		if off+r.size > len(rec) {
			t.Fatalf("%s: regions overrun the %d-byte record", path, len(rec))
		}
		fmt.Fprintf(&buf, "%-64x  # %3d  %s\n", rec[off:off+r.size], off, r.label)
		off += r.size
	}
	if off != len(rec) {
		t.Fatalf("%s: regions cover %d of %d bytes", path, off, len(rec))
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}
