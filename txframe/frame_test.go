package txframe_test

import (
	"bytes"
	"errors"
	"math"
	"testing"

	"github.com/hotpipe/hotpipe/txframe"
)

func TestAppendThenDecodeGivesTheTransactionBack(t *testing.T) {
	maxKey := string(bytes.Repeat([]byte{'k'}, txframe.MaxKeyLen))
	tests := []struct {
		name    string
		lsn     uint64
		time    int64
		entries []txframe.Entry
	}{
		{name: "one put", lsn: 1, time: 1, entries: []txframe.Entry{put("k", "v")}},
		{name: "one delete", lsn: 2, time: 2, entries: []txframe.Entry{del("k")}},
		{name: "put with nil value", lsn: 3, entries: []txframe.Entry{{Op: txframe.OpPut, Key: []byte("k")}}},
		{name: "put with empty value", lsn: 4, entries: []txframe.Entry{put("k", "")}},
		{name: "key of MaxKeyLen bytes", lsn: 5, entries: []txframe.Entry{put(maxKey, "v"), del(maxKey)}},
		{name: "value of MaxValueLen bytes", lsn: 6, entries: []txframe.Entry{
			{Op: txframe.OpPut, Key: []byte("big"), Value: bigValue()[:txframe.MaxValueLen]},
		}},
		{name: "several entries", lsn: goldenLSN, time: goldenTime, entries: goldenEntries()},
		{name: "same key put, deleted and put again", lsn: 8, entries: []txframe.Entry{
			put("a", "1"), del("a"), put("a", "2"), put("b", "\x00\xff\n"),
		}},
		{name: "binary key", lsn: 9, entries: []txframe.Entry{put("\x00\x01\xfe\xff", "v")}},
		{name: "largest LSN and earliest time", lsn: math.MaxUint64, time: math.MinInt64, entries: []txframe.Entry{del("k")}},
		{name: "negative commit time", lsn: 10, time: -1, entries: []txframe.Entry{put("k", "v")}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			prev := seqHash()
			want, err := txframe.EncodedLen(tc.entries)
			if err != nil {
				t.Fatalf("EncodedLen: %v", err)
			}
			frame, h, err := txframe.Append(nil, prev, tc.lsn, tc.time, tc.entries)
			if err != nil {
				t.Fatalf("Append: %v", err)
			}
			if len(frame) != want {
				t.Fatalf("Append wrote %d bytes, EncodedLen said %d", len(frame), want)
			}
			checkHeaderFunctions(t, frame, tc.lsn, tc.time, h)
			checkDecode(t, frame, prev, txframe.Frame{LSN: tc.lsn, Time: tc.time, Entries: tc.entries, Hash: h})
			checkForEachEntry(t, frame, tc.entries)
		})
	}
}

// checkHeaderFunctions checks FrameLen and Peek against a valid frame.
func checkHeaderFunctions(t *testing.T, frame []byte, lsn uint64, commitTime int64, h txframe.Hash) {
	t.Helper()
	if n, err := txframe.FrameLen(frame[:8]); err != nil || n != len(frame) {
		t.Errorf("FrameLen(header) = %d, %v; want %d", n, err, len(frame))
	}
	hdr, err := txframe.Peek(frame)
	if err != nil {
		t.Fatalf("Peek: %v", err)
	}
	want := txframe.Header{LSN: lsn, Time: commitTime, Len: len(frame), Hash: h}
	if hdr != want {
		t.Errorf("Peek = %+v, want %+v", hdr, want)
	}
}

// checkDecode decodes frame, compares it with want, re-encodes it and checks
// its chained hash against prev.
func checkDecode(t *testing.T, frame []byte, prev txframe.Hash, want txframe.Frame) {
	t.Helper()
	got, n, err := txframe.Decode(frame)
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if n != len(frame) || got.LSN != want.LSN || got.Time != want.Time || got.Hash != want.Hash {
		t.Errorf("Decode = LSN %d, time %d, hash %s, %d bytes; want LSN %d, time %d, hash %s, %d bytes",
			got.LSN, got.Time, got.Hash, n, want.LSN, want.Time, want.Hash, len(frame))
	}
	if !sameEntries(got.Entries, want.Entries) {
		t.Errorf("Decode entries = %q, want %q", got.Entries, want.Entries)
	}
	for i, e := range got.Entries {
		if e.Op == txframe.OpDelete && e.Value != nil {
			t.Errorf("entry %d: decoded delete has value %q, want nil", i, e.Value)
		}
	}
	again, err := txframe.Encode(nil, &got)
	if err != nil || !bytes.Equal(again, frame) {
		t.Errorf("Encode(Decode(frame)) = %x, %v; want the frame back", again, err)
	}
	if h := txframe.Chain(prev, txframe.Body(frame)); h != want.Hash {
		t.Errorf("Chain(prev, Body) = %s, want the stored %s", h, want.Hash)
	}
	if txframe.StoredHash(frame) != want.Hash {
		t.Errorf("StoredHash = %s, want %s", txframe.StoredHash(frame), want.Hash)
	}
	if err := txframe.VerifyChain(prev, frame); err != nil {
		t.Errorf("VerifyChain: %v", err)
	}
}

// checkForEachEntry checks that ForEachEntry visits want in order and that
// each value offset points at the value inside frame.
func checkForEachEntry(t *testing.T, frame []byte, want []txframe.Entry) {
	t.Helper()
	var got []txframe.Entry
	err := txframe.ForEachEntry(frame, func(e txframe.Entry, valueOff int) error {
		if v := frame[valueOff : valueOff+len(e.Value)]; !bytes.Equal(v, e.Value) {
			return errors.New("value offset does not point at the value")
		}
		got = append(got, e)
		return nil
	})
	if err != nil {
		t.Fatalf("ForEachEntry: %v", err)
	}
	if !sameEntries(got, want) {
		t.Errorf("ForEachEntry visited %q, want %q", got, want)
	}
}

func TestAppendAndEncodeKeepWhatDstHeld(t *testing.T) {
	frame, h := mustAppend(t, seqHash(), goldenLSN, goldenTime, goldenEntries()...)
	prefix := []byte("earlier frames")

	got, gotHash, err := txframe.Append(bytes.Clone(prefix), seqHash(), goldenLSN, goldenTime, goldenEntries())
	if err != nil || gotHash != h || !bytes.Equal(got, append(bytes.Clone(prefix), frame...)) {
		t.Errorf("Append onto a prefix = %x, %s, %v; want prefix then %x, %s", got, gotHash, err, frame, h)
	}
	got, err = txframe.Encode(bytes.Clone(prefix), &txframe.Frame{LSN: goldenLSN, Time: goldenTime, Entries: goldenEntries(), Hash: h})
	if err != nil || !bytes.Equal(got, append(bytes.Clone(prefix), frame...)) {
		t.Errorf("Encode onto a prefix = %x, %v; want prefix then %x", got, err, frame)
	}
}

func TestEncodeWritesTheGivenHashWithoutChaining(t *testing.T) {
	var notTheChain txframe.Hash
	notTheChain[0] = 1
	f := txframe.Frame{LSN: 1, Entries: []txframe.Entry{put("k", "v")}, Hash: notTheChain}
	frame, err := txframe.Encode(nil, &f)
	if err != nil {
		t.Fatalf("Encode: %v", err)
	}
	if txframe.StoredHash(frame) != notTheChain {
		t.Errorf("stored hash %s, want the given %s", txframe.StoredHash(frame), notTheChain)
	}
	if _, err := txframe.Peek(frame); err != nil {
		t.Errorf("Peek: %v (the CRC must cover the given hash)", err)
	}
	if err := txframe.VerifyChain(txframe.Hash{}, frame); !errors.Is(err, txframe.ErrChain) {
		t.Errorf("VerifyChain = %v, want ErrChain", err)
	}
}

func TestEncodeAndAppendRefuseInvalidTransactions(t *testing.T) {
	big := bigValue()
	tests := []struct {
		name    string
		lsn     uint64
		entries []txframe.Entry
		want    error
	}{
		{name: "nil entries", lsn: 1, entries: nil, want: txframe.ErrMalformed},
		{name: "zero entries", lsn: 1, entries: []txframe.Entry{}, want: txframe.ErrMalformed},
		{name: "empty key", lsn: 1, entries: []txframe.Entry{put("", "v")}, want: txframe.ErrMalformed},
		{name: "key of MaxKeyLen+1 bytes", lsn: 1, entries: []txframe.Entry{
			put(string(make([]byte, txframe.MaxKeyLen+1)), "v"),
		}, want: txframe.ErrMalformed},
		{name: "delete with a value", lsn: 1, entries: []txframe.Entry{
			{Op: txframe.OpDelete, Key: []byte("k"), Value: []byte("v")},
		}, want: txframe.ErrMalformed},
		{name: "op 0", lsn: 1, entries: []txframe.Entry{{Op: 0, Key: []byte("k")}}, want: txframe.ErrMalformed},
		{name: "op 3", lsn: 1, entries: []txframe.Entry{{Op: 3, Key: []byte("k")}}, want: txframe.ErrMalformed},
		{name: "op 255", lsn: 1, entries: []txframe.Entry{{Op: 255, Key: []byte("k")}}, want: txframe.ErrMalformed},
		{name: "value of MaxValueLen+1 bytes", lsn: 1, entries: []txframe.Entry{
			{Op: txframe.OpPut, Key: []byte("k"), Value: big},
		}, want: txframe.ErrMalformed},
		{name: "bad entry after good ones", lsn: 1, entries: []txframe.Entry{put("a", "1"), del("b"), put("", "")}, want: txframe.ErrMalformed},
		{name: "LSN 0", lsn: 0, entries: []txframe.Entry{put("k", "v")}, want: txframe.ErrMalformed},
		{name: "body over MaxBodyLen", lsn: 1, entries: maxBodyEntries(1), want: txframe.ErrTooLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dst := []byte("kept")
			got, h, err := txframe.Append(dst, seqHash(), tc.lsn, 1, tc.entries)
			if !errors.Is(err, tc.want) {
				t.Errorf("Append error = %v, want %v", err, tc.want)
			}
			if string(got) != "kept" || h != (txframe.Hash{}) {
				t.Errorf("failed Append returned %q, %s; want dst unchanged and a zero hash", got, h)
			}
			got, err = txframe.Encode(dst, &txframe.Frame{LSN: tc.lsn, Time: 1, Entries: tc.entries})
			if !errors.Is(err, tc.want) {
				t.Errorf("Encode error = %v, want %v", err, tc.want)
			}
			if string(got) != "kept" {
				t.Errorf("failed Encode returned %q, want dst unchanged", got)
			}
		})
	}
}

// maxBodyEntries returns four puts with 1-byte keys whose encoded body is
// MaxBodyLen+extra bytes: 20 fixed bytes, 4×8 entry bytes, and values that
// share one buffer, so no test allocates 64 MiB to reach the limit.
func maxBodyEntries(extra int) []txframe.Entry {
	big := bigValue()[:txframe.MaxValueLen]
	last := txframe.MaxBodyLen - 20 - 4*8 - 3*txframe.MaxValueLen + extra
	return []txframe.Entry{
		{Op: txframe.OpPut, Key: []byte("a"), Value: big},
		{Op: txframe.OpPut, Key: []byte("b"), Value: big},
		{Op: txframe.OpPut, Key: []byte("c"), Value: big},
		{Op: txframe.OpPut, Key: []byte("d"), Value: big[:last]},
	}
}

func TestEncodedLen(t *testing.T) {
	big := bigValue()[:txframe.MaxValueLen]
	tests := []struct {
		name    string
		entries []txframe.Entry
		want    int
		wantErr error
	}{
		{name: "smallest transaction: delete of a 1-byte key", entries: []txframe.Entry{del("k")}, want: minBody + overhead},
		{name: "one put", entries: []txframe.Entry{put("k", "v")}, want: minBody + 1 + overhead},
		{name: "golden transaction", entries: goldenEntries(), want: 102},
		{name: "body of exactly MaxBodyLen", entries: maxBodyEntries(0), want: txframe.MaxFrameLen},
		{name: "body of MaxBodyLen+1", entries: maxBodyEntries(1), wantErr: txframe.ErrTooLarge},
		{name: "five values of MaxValueLen", entries: []txframe.Entry{
			{Op: txframe.OpPut, Key: []byte("a"), Value: big}, {Op: txframe.OpPut, Key: []byte("b"), Value: big},
			{Op: txframe.OpPut, Key: []byte("c"), Value: big}, {Op: txframe.OpPut, Key: []byte("d"), Value: big},
			{Op: txframe.OpPut, Key: []byte("e"), Value: big},
		}, wantErr: txframe.ErrTooLarge},
		{name: "no entries", entries: nil, wantErr: txframe.ErrMalformed},
		{name: "invalid entry", entries: []txframe.Entry{{Op: 9, Key: []byte("k")}}, wantErr: txframe.ErrMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := txframe.EncodedLen(tc.entries)
			if !errors.Is(err, tc.wantErr) || (tc.wantErr != nil) != (err != nil) {
				t.Fatalf("EncodedLen error = %v, want %v", err, tc.wantErr)
			}
			if got != tc.want {
				t.Errorf("EncodedLen = %d, want %d", got, tc.want)
			}
		})
	}
}

func TestFrameLen(t *testing.T) {
	header := func(magic string, bodyLen uint32) []byte {
		return withU32([]byte(magic+"\x00\x00\x00\x00"), offBodyLen, bodyLen)
	}
	tests := []struct {
		name    string
		in      []byte
		want    int
		wantErr error
	}{
		{name: "empty input", in: nil, wantErr: txframe.ErrIncomplete},
		{name: "7 of 8 header bytes", in: header("HPF1", minBody)[:7], wantErr: txframe.ErrIncomplete},
		{name: "bad magic", in: header("HPF0", minBody), wantErr: txframe.ErrMagic},
		{name: "lowercase magic", in: header("hpf1", minBody), wantErr: txframe.ErrMagic},
		{name: "body length 0", in: header("HPF1", 0), wantErr: txframe.ErrTooLarge},
		{name: "body length one below the minimum", in: header("HPF1", minBody-1), wantErr: txframe.ErrTooLarge},
		{name: "minimum body length", in: header("HPF1", minBody), want: minBody + overhead},
		{name: "MaxBodyLen", in: header("HPF1", txframe.MaxBodyLen), want: txframe.MaxFrameLen},
		{name: "MaxBodyLen+1", in: header("HPF1", txframe.MaxBodyLen+1), wantErr: txframe.ErrTooLarge},
		{name: "largest u32 body length", in: header("HPF1", math.MaxUint32), wantErr: txframe.ErrTooLarge},
		{name: "whole golden frame", in: goldenFrame(t), want: 102},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := txframe.FrameLen(tc.in)
			if !errors.Is(err, tc.wantErr) || (tc.wantErr != nil) != (err != nil) {
				t.Fatalf("FrameLen error = %v, want %v", err, tc.wantErr)
			}
			if got != tc.want {
				t.Errorf("FrameLen = %d, want %d", got, tc.want)
			}
		})
	}
}

func TestDecodeRefusesBadFrames(t *testing.T) {
	base := goldenFrame(t)
	maxKey, _ := mustAppend(t, txframe.Hash{}, 1, 0, put(string(bytes.Repeat([]byte{'k'}, txframe.MaxKeyLen)), "v"))
	tests := []struct {
		name string
		in   []byte
		want error // from Decode (and from ForEachEntry when Peek accepts)
		peek error // from Peek, which does not look at the entries
	}{
		{name: "empty input", in: nil, want: txframe.ErrIncomplete, peek: txframe.ErrIncomplete},
		{name: "cut inside the header", in: base[:5], want: txframe.ErrIncomplete, peek: txframe.ErrIncomplete},
		{name: "cut before the CRC's last byte", in: base[:len(base)-1], want: txframe.ErrIncomplete, peek: txframe.ErrIncomplete},
		{name: "bad magic", in: withByte(base, offMagic, 'X'), want: txframe.ErrMagic, peek: txframe.ErrMagic},
		{name: "body length below the minimum", in: withU32(base, offBodyLen, minBody-1), want: txframe.ErrTooLarge, peek: txframe.ErrTooLarge},
		{name: "body length above MaxBodyLen", in: withU32(base, offBodyLen, txframe.MaxBodyLen+1), want: txframe.ErrTooLarge, peek: txframe.ErrTooLarge},
		{name: "body length longer than the input", in: withU32(base, offBodyLen, goldenBodyLen+1), want: txframe.ErrIncomplete, peek: txframe.ErrIncomplete},
		{name: "body length shorter than the body", in: withU32(base, offBodyLen, goldenBodyLen-1), want: txframe.ErrChecksum, peek: txframe.ErrChecksum},
		{name: "CRC damaged", in: flipped(base, 8*len(base)-1), want: txframe.ErrChecksum, peek: txframe.ErrChecksum},
		{name: "body damaged", in: withByte(base, offEntry0+7, 'A'), want: txframe.ErrChecksum, peek: txframe.ErrChecksum},
		{name: "stored hash damaged", in: flipped(base, 8*(len(base)-36)), want: txframe.ErrChecksum, peek: txframe.ErrChecksum},
		{name: "LSN 0 under a valid CRC", in: reseal(withU32(withU32(base, offLSN, 0), offLSN+4, 0)), want: txframe.ErrMalformed, peek: txframe.ErrMalformed},
		{name: "zero entry count", in: reseal(withU32(base, offCount, 0)), want: txframe.ErrMalformed},
		{name: "entry count that cannot fit", in: reseal(withU32(base, offCount, math.MaxUint32)), want: txframe.ErrMalformed},
		{name: "entry count one more than present", in: reseal(withU32(base, offCount, 4)), want: txframe.ErrMalformed},
		{name: "entry count one fewer than present", in: reseal(withU32(base, offCount, 2)), want: txframe.ErrMalformed},
		{name: "trailing bytes after the last entry", in: inserted(base, goldenBodyEnd, []byte{0, 0, 0}), want: txframe.ErrMalformed},
		{name: "one trailing byte", in: inserted(base, goldenBodyEnd, []byte{1}), want: txframe.ErrMalformed},
		{name: "entry header cut short by the body's end", in: inserted(reseal(withU32(base, offCount, 4)), goldenBodyEnd, []byte{2, 1, 0, 0, 0}), want: txframe.ErrMalformed},
		{name: "op 0", in: reseal(withByte(base, offEntry1, 0)), want: txframe.ErrMalformed},
		{name: "unknown op 3", in: reseal(withByte(base, offEntry2, 3)), want: txframe.ErrMalformed},
		{name: "delete with a value", in: reseal(withByte(base, offEntry0, byte(txframe.OpDelete))), want: txframe.ErrMalformed},
		{name: "key length 0", in: reseal(withU16(base, offEntry0+1, 0)), want: txframe.ErrMalformed},
		{name: "key of MaxKeyLen+1 bytes", in: inserted(withU16(maxKey, offEntries+1, txframe.MaxKeyLen+1), offEntries+entryHdr, []byte{'k'}), want: txframe.ErrMalformed},
		{name: "value length above MaxValueLen", in: reseal(withU32(base, offEntry0+3, txframe.MaxValueLen+1)), want: txframe.ErrMalformed},
		{name: "value overruns the body", in: reseal(withU32(base, offEntry2+3, 1)), want: txframe.ErrMalformed},
		{name: "key overruns the body", in: reseal(withU16(base, offEntry2+1, 6)), want: txframe.ErrMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.in[:len(tc.in):len(tc.in)] // reading past the input must panic, not pass
			f, n, err := txframe.Decode(in)
			if !errors.Is(err, tc.want) {
				t.Errorf("Decode error = %v, want %v", err, tc.want)
			}
			if n != 0 || f.LSN != 0 || f.Entries != nil {
				t.Errorf("failed Decode returned LSN %d, %d entries, %d bytes; want nothing", f.LSN, len(f.Entries), n)
			}
			hdr, err := txframe.Peek(in)
			if !errors.Is(err, tc.peek) || (tc.peek == nil && err != nil) {
				t.Fatalf("Peek error = %v, want %v", err, tc.peek)
			}
			if err != nil {
				return
			}
			if err := txframe.CheckEntries(in[:hdr.Len]); !errors.Is(err, tc.want) {
				t.Errorf("ForEachEntry error = %v, want %v", err, tc.want)
			}
		})
	}
}
