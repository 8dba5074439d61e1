package verify_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/hotpipe/hotpipe/stream"
	"github.com/hotpipe/hotpipe/txframe"
	"github.com/hotpipe/hotpipe/verify"
)

// A backup file large enough to be mapped (stream.Options.MapFiles: more
// than 4 MiB, starting with a segment header) gets the report the same
// bytes get when they are read as they come: the same findings at the
// same places and the same summary, full and quick, clean, damaged and cut.
func TestMappedFileSameReport(t *testing.T) {
	h := bigHistory(t, 80, 64<<10) // about 5 MiB
	fl := h.frameLen()
	seg := h.segment(t, 0, 80)
	if len(seg) <= 4<<20 {
		t.Fatalf("a segment of %d bytes is too small to be mapped", len(seg))
	}
	cases := map[string][]byte{
		"clean":                       seg,
		"body flipped mid-file":       flip(seg, h.at(0, 0, 40)+fl/2),
		"CRC flipped at the end":      flip(seg, h.at(0, 0, 80)+fl-1),
		"stored hash flipped at 3":    flip(seg, h.at(0, 0, 3)+fl-10),
		"cut inside the last frame":   seg[:h.at(0, 0, 80)+fl/2],
		"header flipped (not mapped)": flip(seg, 2),
	}
	dir := t.TempDir()
	for name, data := range cases {
		for _, quick := range []bool{false, true} {
			path := filepath.Join(dir, "b.backup")
			if err := os.WriteFile(path, data, 0o600); err != nil {
				t.Fatal(err)
			}
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			mapped, err := verify.Stream(context.Background(), []stream.Input{{Name: "a", R: f}}, verify.Options{Quick: quick})
			f.Close()
			if err != nil {
				t.Fatal(err)
			}
			read, err := verify.Stream(context.Background(), []stream.Input{{Name: "a", R: bytes.NewReader(data)}}, verify.Options{Quick: quick})
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(said(mapped), said(read)) || !reflect.DeepEqual(summary(mapped), summary(read)) {
				t.Errorf("%s, quick %v: mapped %+v %v; read %+v %v", name, quick, summary(mapped), mapped.Findings, summary(read), read.Findings)
			}
			if name == "clean" && !mapped.OK() {
				t.Errorf("clean, quick %v: %v", quick, mapped.Err())
			}
		}
	}
}

// bigHistory is a history of n frames of one put of size bytes each: few
// frames, so that a test of a file large enough to be mapped runs quickly
// under the race detector.
func bigHistory(tb testing.TB, n, size int) *history {
	tb.Helper()
	h := &history{origin: testOrigin, hash: make([]txframe.Hash, 1, n+1)}
	for lsn := uint64(1); lsn <= uint64(n); lsn++ {
		e := txframe.Entry{Op: txframe.OpPut, Key: fmt.Appendf(nil, "k%08d", lsn), Value: bytes.Repeat([]byte{byte(lsn)}, size)}
		f, hn, err := txframe.Append(nil, h.hash[lsn-1], lsn, t0+int64(lsn), []txframe.Entry{e})
		if err != nil {
			tb.Fatal(err)
		}
		h.frames, h.hash = append(h.frames, f), append(h.hash, hn)
	}
	return h
}

// said is each finding of r: its place and its message.
func said(r *verify.Report) []string {
	var out []string
	for _, f := range r.Findings {
		out = append(out, fmt.Sprintf("%s@%d LSN %d: %v", f.Source, f.Offset, f.LSN, f.Err))
	}
	return out
}

// summary is a report without its findings.
func summary(r *verify.Report) []any {
	return []any{r.Inputs, r.First, r.Last, r.Frames, r.Segments, r.Bytes, r.FirstTime, r.LastTime, r.FinalHash, r.Quick}
}
