package txframe_test

import (
	"bytes"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hotpipe/hotpipe/txframe"
)

var update = flag.Bool("update", false, "rewrite testdata/golden/frame-v1.hex from the encoder (then check it by hand)")

const goldenPath = "testdata/golden/frame-v1.hex"

// goldenHash is h(7) of the golden frame, SHA-256(00 01 .. 1f || SHA-256(body)),
// computed outside Go from the layout in doc.go (Python hashlib and a
// bitwise CRC32C), which produced the same 102 bytes as the golden file.
const goldenHash = "fae6ea9974bee156d4700e6235854a93b64ac1c1519ace4dea7c75eda9156038"

// goldenRegions labels the golden frame byte by byte, following doc.go.
// The labels annotate the hex file; the sizes must tile the frame exactly.
var goldenRegions = []struct {
	size  int
	label string
}{
	{4, `magic "HPF1"`},
	{4, "body length B = 58 (u32 LE)"},
	{8, "LSN 7 (u64 LE)                      body starts"},
	{8, "commit time 1700000000123456789 ns (i64 LE)"},
	{4, "entry count 3 (u32 LE)"},
	{1, "entry 0: op 1 (put)"},
	{2, "entry 0: key length 5 (u16 LE)"},
	{4, "entry 0: value length 3 (u32 LE)"},
	{5, `entry 0: key "alpha"`},
	{3, `entry 0: value "one"`},
	{1, "entry 1: op 2 (delete)"},
	{2, "entry 1: key length 4"},
	{4, "entry 1: value length 0"},
	{4, `entry 1: key "beta"`},
	{1, "entry 2: op 1 (put)"},
	{2, "entry 2: key length 5"},
	{4, "entry 2: value length 0"},
	{5, `entry 2: key "gamma"                 body ends (8+B = 66)`},
	{32, "h(7) = SHA-256(prev || SHA-256(body))"},
	{4, "CRC32C (Castagnoli) of bytes [0, 98), u32 LE"},
}

func TestGoldenFrame(t *testing.T) {
	frame, h, err := txframe.Append(nil, seqHash(), goldenLSN, goldenTime, goldenEntries())
	if err != nil {
		t.Fatalf("Append: %v", err)
	}
	if *update {
		if err := writeGolden(frame); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s; check it by hand against doc.go before committing it", goldenPath)
	}
	want, err := readGolden(goldenPath)
	if err != nil {
		t.Fatal(err)
	}
	if i := firstDiff(frame, want); i >= 0 {
		t.Fatalf("encoded golden frame differs from %s at byte %d:\n got %x\nwant %x", goldenPath, i, frame, want)
	}
	if h.String() != goldenHash || txframe.StoredHash(want).String() != goldenHash {
		t.Errorf("h(7) = %s, stored %s; want %s", h, txframe.StoredHash(want), goldenHash)
	}

	// The file decodes on its own, as it would for another implementation.
	f, n, err := txframe.Decode(want)
	if err != nil {
		t.Fatalf("Decode(golden file): %v", err)
	}
	if n != len(want) || f.LSN != goldenLSN || f.Time != goldenTime || !sameEntries(f.Entries, goldenEntries()) {
		t.Errorf("Decode(golden file) = %+v, %d bytes", f, n)
	}
	if err := txframe.VerifyChain(seqHash(), want); err != nil {
		t.Errorf("VerifyChain(golden file): %v", err)
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	if len(a) != len(b) {
		return min(len(a), len(b))
	}
	return -1
}

// readGolden reads a hex file: whitespace and anything after '#' on a line
// are ignored.
func readGolden(path string) ([]byte, error) {
	text, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var digits strings.Builder
	for line := range strings.Lines(string(text)) {
		line, _, _ = strings.Cut(line, "#")
		digits.WriteString(strings.Join(strings.Fields(line), ""))
	}
	b, err := hex.DecodeString(digits.String())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return b, nil
}

func writeGolden(frame []byte) error {
	var buf bytes.Buffer
	buf.WriteString("# hotpipe txframe golden vector, frame format v1 (docs/FORMAT.md).\n")
	buf.WriteString("# LSN 7, commit time 1700000000123456789, entries: put \"alpha\"=\"one\",\n")
	buf.WriteString("# delete \"beta\", put \"gamma\"=\"\"; chained from prev = 00 01 02 .. 1f.\n")
	buf.WriteString("# Hex digits only: whitespace and everything after '#' are ignored.\n")
	buf.WriteString("# Regenerate with: go test ./txframe -run TestGoldenFrame -update\n")
	off := 0
	for _, r := range goldenRegions {
		if off+r.size > len(frame) {
			return fmt.Errorf("golden regions overrun the %d-byte frame", len(frame))
		}
		fmt.Fprintf(&buf, "%-64x  # %3d  %s\n", frame[off:off+r.size], off, r.label)
		off += r.size
	}
	if off != len(frame) {
		return fmt.Errorf("golden regions cover %d of %d bytes", off, len(frame))
	}
	if err := os.MkdirAll(filepath.Dir(goldenPath), 0o755); err != nil {
		return err
	}
	return os.WriteFile(goldenPath, buf.Bytes(), 0o644)
}
