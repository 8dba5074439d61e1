package txframe_test

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash/crc32"
	"slices"
	"testing"

	"github.com/hotpipe/hotpipe/txframe"
)

// chainOf appends n frames after tip and returns them with the tips after
// each.
func chainOf(t testing.TB, tip txframe.Tip, n int) ([]byte, []txframe.Tip) {
	t.Helper()
	var block []byte
	var tips []txframe.Tip
	for i := 1; i <= n; i++ {
		lsn, at := tip.LSN+1, tip.Time+int64(i)
		var err error
		var h txframe.Hash
		block, h, err = txframe.Append(block, tip.Hash, lsn, at,
			[]txframe.Entry{{Op: txframe.OpPut, Key: []byte{'k', byte(i)}, Value: []byte("v")}})
		if err != nil {
			t.Fatal(err)
		}
		tip = txframe.Tip{LSN: lsn, Time: at, Hash: h}
		tips = append(tips, tip)
	}
	return block, tips
}

func TestFollowsHoldsFramesToTheChain(t *testing.T) {
	start := txframe.Tip{LSN: 7, Time: 100, Hash: txframe.Hash{1}}
	block, tips := chainOf(t, start, 2)
	first := block[:len(block)/2]
	h, err := txframe.Peek(first)
	if err != nil {
		t.Fatal(err)
	}
	sum := txframe.Hash(sha256.Sum256(txframe.Body(first)))
	otherSum := txframe.Hash{9}
	tests := []struct {
		name string
		tip  txframe.Tip
		sum  *txframe.Hash
		want error
	}{
		{name: "next LSN, same chain", tip: start, sum: &sum},
		{name: "without the body sum the chain is not checked", tip: txframe.Tip{LSN: 7, Time: 100}, sum: nil},
		{name: "an LSN skipped", tip: txframe.Tip{LSN: 6, Time: 100, Hash: start.Hash}, sum: &sum, want: txframe.ErrGap},
		{name: "an LSN repeated", tip: tips[0], sum: &sum, want: txframe.ErrGap},
		{name: "time goes back", tip: txframe.Tip{LSN: 7, Time: 102, Hash: start.Hash}, sum: &sum, want: txframe.ErrMalformed},
		{name: "another previous hash", tip: txframe.Tip{LSN: 7, Time: 100}, sum: &sum, want: txframe.ErrChain},
		{name: "another body", tip: start, sum: &otherSum, want: txframe.ErrChain},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := txframe.Follows(tt.tip, first, h, tt.sum)
			if tt.want == nil && err != nil || !errors.Is(err, tt.want) {
				t.Fatalf("Follows = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestSameOriginAndSameHashAreHistoryErrors(t *testing.T) {
	a, b := txframe.NewOrigin(), txframe.NewOrigin()
	if err := txframe.SameOrigin(a, a, "x", "y"); err != nil {
		t.Fatalf("one origin: %v", err)
	}
	if err := txframe.SameOrigin(a, b, "x", "y"); !errors.Is(err, txframe.ErrHistory) {
		t.Fatalf("two origins: %v", err)
	}
	if err := txframe.SameHash(3, txframe.Hash{1}, txframe.Hash{1}, "x", "y"); err != nil {
		t.Fatalf("one hash: %v", err)
	}
	if err := txframe.SameHash(3, txframe.Hash{1}, txframe.Hash{2}, "x", "y"); !errors.Is(err, txframe.ErrHistory) {
		t.Fatalf("two hashes: %v", err)
	}
}

// TestGapErrorIsErrGap: a gap that names its missing LSNs is still a gap,
// wrapped or not, so callers map it to one exit code.
func TestGapErrorIsErrGap(t *testing.T) {
	err := fmt.Errorf("in1: %w", &txframe.GapError{From: 21, To: 40})
	ge, ok := errors.AsType[*txframe.GapError](err)
	if !errors.Is(err, txframe.ErrGap) || !ok || ge.From != 21 || ge.To != 40 {
		t.Fatalf("%v: ErrGap %v, GapError %+v", err, errors.Is(err, txframe.ErrGap), ge)
	}
}

func TestOriginTextRoundTrip(t *testing.T) {
	o := txframe.NewOrigin()
	if o.IsZero() || o == txframe.NewOrigin() {
		t.Fatal("NewOrigin gave a zero or repeated origin")
	}
	text, _ := o.MarshalText()
	var back txframe.Origin
	if err := back.UnmarshalText(text); err != nil || back != o {
		t.Fatalf("UnmarshalText(%s) = %v, %v", text, back, err)
	}
	for _, bad := range []string{"", "zz", o.String()[:30], o.String() + "00"} {
		if _, err := txframe.ParseOrigin(bad); err == nil {
			t.Errorf("ParseOrigin(%q) accepted", bad)
		}
	}
}

func TestFramesYieldsEachWholeFrame(t *testing.T) {
	block, tips := chainOf(t, txframe.Tip{}, 5)
	var lsns []uint64
	var joined []byte
	for f := range txframe.Frames(block) {
		lsn, _ := txframe.Fields(f)
		lsns = append(lsns, lsn)
		joined = append(joined, f...)
	}
	if !slices.Equal(lsns, []uint64{1, 2, 3, 4, 5}) || !bytes.Equal(joined, block) {
		t.Fatalf("Frames yielded LSNs %v (%d of %d bytes)", lsns, len(joined), len(block))
	}
	for f := range txframe.Frames(block) {
		if txframe.StoredHash(f) != tips[0].Hash {
			t.Fatal("the first frame yielded is not LSN 1")
		}
		break // stopping early must not panic
	}
	n := 0
	for range txframe.Frames(block[:len(block)-1]) { // the last frame cut short
		n++
	}
	if n != 4 {
		t.Fatalf("a block whose last frame is cut yielded %d frames, want 4", n)
	}
}

func FuzzFrames(f *testing.F) {
	block, _ := chainOf(f, txframe.Tip{}, 3)
	f.Add(block)
	f.Add(block[:len(block)-3])
	f.Fuzz(func(t *testing.T, b []byte) {
		total := 0
		for fr := range txframe.Frames(b) {
			if !bytes.Equal(fr, b[total:total+len(fr)]) {
				t.Fatal("a frame yielded is not the next bytes of the block")
			}
			total += len(fr)
		}
		if total > len(b) {
			t.Fatalf("yielded %d bytes of %d", total, len(b))
		}
	})
}

func TestChecksumIsCRC32C(t *testing.T) {
	b := []byte("hotpipe")
	if got, want := txframe.Checksum(b), crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli)); got != want {
		t.Fatalf("Checksum = %08x, want CRC32C %08x", got, want)
	}
}
