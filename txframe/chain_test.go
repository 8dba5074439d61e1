package txframe_test

import (
	"bytes"
	stdsha256 "crypto/sha256"
	"errors"
	"strings"
	"testing"

	"github.com/hotpipe/hotpipe/txframe"
)

func TestChainIsSHA256OfPrevAndBodySum(t *testing.T) {
	tests := []struct {
		name string
		prev txframe.Hash
		body []byte
		want string // pinned, computed independently: sha256(prev || sha256(body))
	}{
		{name: "h(0) and empty body", prev: txframe.Hash{}, body: nil,
			want: "1c9ecec90e28d2461650418635878a5c91e49f47586ecf75f2b0cbb94e897112"},
		{name: "sequence hash and abc", prev: seqHash(), body: []byte("abc"),
			want: "2f89854450769cb248c4c5dc8d77cdd7354cae1ad5ef96afaf4c5e382b0da680"},
		{name: "64 KiB body", prev: seqHash(), body: bytes.Repeat([]byte{0xa5}, 64<<10)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sum := stdsha256.Sum256(tc.body)
			want := txframe.Hash(stdsha256.Sum256(append(tc.prev[:], sum[:]...)))
			got := txframe.Chain(tc.prev, tc.body)
			if got != want {
				t.Errorf("Chain = %s, crypto/sha256 gives %s", got, want)
			}
			if tc.want != "" && got.String() != tc.want {
				t.Errorf("Chain = %s, want pinned %s", got, tc.want)
			}
		})
	}
}

func TestVerifyChain(t *testing.T) {
	frame, h := mustAppend(t, seqHash(), goldenLSN, goldenTime, goldenEntries()...)
	fromZero, _ := mustAppend(t, txframe.Hash{}, 1, 0, put("k", "v"))
	var otherPrev txframe.Hash
	otherPrev[31] = 1
	tests := []struct {
		name  string
		prev  txframe.Hash
		frame []byte
		want  error
	}{
		{name: "frame follows prev", prev: seqHash(), frame: frame},
		{name: "first frame follows h(0)", prev: txframe.Hash{}, frame: fromZero},
		{name: "prev of another history", prev: otherPrev, frame: frame, want: txframe.ErrChain},
		{name: "h(0) for a frame chained from elsewhere", prev: txframe.Hash{}, frame: frame, want: txframe.ErrChain},
		{name: "frame's own hash given as prev", prev: h, frame: frame, want: txframe.ErrChain},
		{name: "stored hash damaged under a valid CRC", prev: seqHash(), frame: reseal(flipped(frame, 8*(len(frame)-5))), want: txframe.ErrChain},
		{name: "value damaged under a valid CRC", prev: seqHash(), frame: reseal(withByte(frame, offEntry0+7+5, 'O')), want: txframe.ErrChain},
		{name: "commit time damaged under a valid CRC", prev: seqHash(), frame: reseal(flipped(frame, 8*offTime)), want: txframe.ErrChain},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := txframe.Peek(tc.frame); err != nil {
				t.Fatalf("test frame must pass Peek: %v", err)
			}
			err := txframe.VerifyChain(tc.prev, tc.frame)
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Errorf("VerifyChain = %v, want %v", err, tc.want)
			}
		})
	}
}

// TestDecodeWalksAChainOfFrames reads frames back to back from one buffer,
// as a segment file or stream holds them, and follows the chain from h(0).
func TestDecodeWalksAChainOfFrames(t *testing.T) {
	txs := [][]txframe.Entry{{put("a", "1")}, {del("a"), put("b", "2")}, goldenEntries()}
	var buf []byte
	var hashes []txframe.Hash
	prev := txframe.Hash{}
	for i, entries := range txs {
		var err error
		buf, prev, err = txframe.Append(buf, prev, uint64(i+1), int64(1000+i), entries)
		if err != nil {
			t.Fatalf("Append LSN %d: %v", i+1, err)
		}
		hashes = append(hashes, prev)
	}

	rest, prev := buf, txframe.Hash{}
	var frames [][]byte
	for i, entries := range txs {
		f, n, err := txframe.Decode(rest)
		if err != nil {
			t.Fatalf("Decode LSN %d: %v", i+1, err)
		}
		if f.LSN != uint64(i+1) || f.Time != int64(1000+i) || !sameEntries(f.Entries, entries) || f.Hash != hashes[i] {
			t.Errorf("frame %d = %+v, want LSN %d with %q and hash %s", i, f, i+1, entries, hashes[i])
		}
		if err := txframe.VerifyChain(prev, rest[:n]); err != nil {
			t.Errorf("VerifyChain LSN %d: %v", f.LSN, err)
		}
		frames = append(frames, rest[:n])
		prev, rest = f.Hash, rest[n:]
	}
	if len(rest) != 0 {
		t.Errorf("%d bytes left after the last frame", len(rest))
	}
	if err := txframe.VerifyChain(hashes[0], frames[2]); !errors.Is(err, txframe.ErrChain) {
		t.Errorf("VerifyChain of LSN 3 after LSN 1 = %v, want ErrChain: a skipped frame breaks the chain", err)
	}
}

func TestParseHash(t *testing.T) {
	const lower = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
	tests := []struct {
		name    string
		in      string
		want    txframe.Hash
		wantErr error
	}{
		{name: "lowercase hex", in: lower, want: seqHash()},
		{name: "uppercase hex", in: strings.ToUpper(lower), want: seqHash()},
		{name: "h(0)", in: strings.Repeat("0", 64), want: txframe.Hash{}},
		{name: "empty", in: "", wantErr: txframe.ErrMalformed},
		{name: "63 digits", in: lower[:63], wantErr: txframe.ErrMalformed},
		{name: "62 digits", in: lower[:62], wantErr: txframe.ErrMalformed},
		{name: "66 digits", in: lower + "20", wantErr: txframe.ErrMalformed},
		{name: "not hex", in: "g" + lower[1:], wantErr: txframe.ErrMalformed},
		{name: "0x prefix", in: "0x" + lower[2:], wantErr: txframe.ErrMalformed},
		{name: "surrounding space", in: " " + lower[1:], wantErr: txframe.ErrMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := txframe.ParseHash(tc.in)
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil) != (err == nil) {
				t.Fatalf("ParseHash(%q) error = %v, want %v", tc.in, err, tc.wantErr)
			}
			if got != tc.want {
				t.Errorf("ParseHash(%q) = %s, want %s", tc.in, got, tc.want)
			}
		})
	}
	if got := seqHash().String(); got != lower {
		t.Errorf("String = %s, want %s", got, lower)
	}
}

func TestForEachEntryStopsAtTheCallbacksError(t *testing.T) {
	frame := goldenFrame(t)
	stop := errors.New("stop here")
	var seen []string
	err := txframe.ForEachEntry(frame, func(e txframe.Entry, valueOff int) error {
		seen = append(seen, string(e.Key))
		if string(e.Key) == "beta" {
			return stop
		}
		return nil
	})
	if err != stop {
		t.Errorf("ForEachEntry = %v, want the callback's own error", err)
	}
	if strings.Join(seen, ",") != "alpha,beta" {
		t.Errorf("visited %q, want alpha then beta and no more", seen)
	}
}

func TestForEachEntryGivesValueOffsetsInsideTheFrame(t *testing.T) {
	frame := goldenFrame(t)
	var offs []int
	err := txframe.ForEachEntry(frame, func(e txframe.Entry, valueOff int) error {
		offs = append(offs, valueOff)
		return nil
	})
	// Offsets restated from the layout: each value follows its entry header and key.
	want := []int{offEntry0 + entryHdr + 5, offEntry1 + entryHdr + 4, offEntry2 + entryHdr + 5}
	if err != nil || len(offs) != 3 || offs[0] != want[0] || offs[1] != want[1] || offs[2] != want[2] {
		t.Errorf("value offsets = %v, %v; want %v", offs, err, want)
	}
}

func TestDecodedEntriesAliasTheInput(t *testing.T) {
	frame := goldenFrame(t)
	f, _, err := txframe.Decode(frame)
	if err != nil {
		t.Fatal(err)
	}
	frame[offEntry0+entryHdr+5] = 'O' // first byte of "one"
	if string(f.Entries[0].Value) != "One" {
		t.Errorf("value = %q after editing the input, want %q: entries alias the input", f.Entries[0].Value, "One")
	}
	if cap(f.Entries[0].Key) != len(f.Entries[0].Key) || cap(f.Entries[0].Value) != len(f.Entries[0].Value) {
		t.Error("decoded key and value must be capped, so appending to them cannot overwrite the frame")
	}
}

func TestOpString(t *testing.T) {
	for op, want := range map[txframe.Op]string{txframe.OpPut: "put", txframe.OpDelete: "delete", 0: "op(0)", 7: "op(7)"} {
		if got := op.String(); got != want {
			t.Errorf("Op(%d).String() = %q, want %q", uint8(op), got, want)
		}
	}
}
