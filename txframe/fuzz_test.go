package txframe_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/hotpipe/hotpipe/txframe"
)

// FuzzDecode feeds Decode arbitrary bytes. It must never panic; every error
// must be exactly one sentinel; and whatever decodes must re-encode to the
// very bytes it was decoded from, with Peek, FrameLen and ForEachEntry
// agreeing with Decode.
func FuzzDecode(f *testing.F) {
	golden := goldenFrame(f)
	second, _ := mustAppend(f, txframe.StoredHash(golden), goldenLSN+1, goldenTime+1, del("alpha"))
	f.Add(golden)
	f.Add(append(bytes.Clone(golden), second...))
	f.Add(append(bytes.Clone(golden), "trailing"...))
	f.Add(golden[:len(golden)-1])
	f.Add([]byte{})
	f.Add([]byte("HPF1"))
	f.Add(withU32(golden, offBodyLen, 0xffffffff))
	f.Add(reseal(withU32(golden, offCount, 0xffffffff)))
	f.Add(inserted(golden, goldenBodyEnd, []byte{0}))
	f.Add(reseal(withByte(golden, offEntry1, 7)))
	f.Fuzz(func(t *testing.T, b []byte) {
		checkDecodeProperties(t, b[:len(b):len(b)])
		// Random mutations almost never keep the CRC right, so decode the
		// frame again with its CRC recomputed: that reaches the entry parser.
		if n, err := txframe.FrameLen(b); err == nil && n <= len(b) {
			checkDecodeProperties(t, reseal(bytes.Clone(b[:n]))[:n:n])
		}
	})
}

func checkDecodeProperties(t *testing.T, b []byte) {
	t.Helper()
	fr, n, err := txframe.Decode(b)
	hdr, peekErr := txframe.Peek(b)
	if err != nil {
		checkDecodeError(t, err, n, peekErr)
		return
	}
	if peekErr != nil {
		t.Fatalf("Decode accepted a frame that Peek refuses: %v", peekErr)
	}
	if n < minBody+overhead || n > len(b) {
		t.Fatalf("Decode consumed %d of %d bytes", n, len(b))
	}
	if hdr.LSN != fr.LSN || hdr.Time != fr.Time || hdr.Len != n || hdr.Hash != fr.Hash {
		t.Errorf("Peek = %+v, Decode = LSN %d, time %d, %d bytes, hash %s", hdr, fr.LSN, fr.Time, n, fr.Hash)
	}
	if fl, err := txframe.FrameLen(b); err != nil || fl != n {
		t.Errorf("FrameLen = %d, %v; Decode consumed %d", fl, err, n)
	}
	again, err := txframe.Encode(nil, &fr)
	if err != nil {
		t.Fatalf("Encode(Decode(b)): %v", err)
	}
	if !bytes.Equal(again, b[:n]) {
		t.Fatalf("Encode(Decode(b)) differs from b:\n got %x\nwant %x", again, b[:n])
	}
	var visited []txframe.Entry
	err = txframe.ForEachEntry(b[:n], func(e txframe.Entry, _ int) error {
		visited = append(visited, e)
		return nil
	})
	if err != nil || !sameEntries(visited, fr.Entries) {
		t.Errorf("ForEachEntry = %v, visited %d entries; Decode found %d", err, len(visited), len(fr.Entries))
	}
}

// checkDecodeError checks what a failed Decode returned.
func checkDecodeError(t *testing.T, err error, n int, peekErr error) {
	t.Helper()
	s := sentinelOf(err)
	if s == nil {
		t.Fatalf("Decode error %q wraps no single sentinel", err)
	}
	if n != 0 {
		t.Errorf("failed Decode reported %d bytes consumed", n)
	}
	if peekErr == nil && s != txframe.ErrMalformed {
		t.Errorf("Peek accepts the frame, so Decode's error must be ErrMalformed, got %v", err)
	}
	if peekErr != nil && sentinelOf(peekErr) != s {
		t.Errorf("Peek error %v and Decode error %v disagree", peekErr, err)
	}
}

// FuzzRoundTrip builds a transaction from fuzz input, appends it after some
// bytes already in dst, and decodes it back. Invalid transactions (as judged
// by validTx, which restates the rules) must be refused without touching dst.
func FuzzRoundTrip(f *testing.F) {
	seq := seqHash()
	f.Add(uint64(goldenLSN), int64(goldenTime), seq[:], []byte("\x00\x05\x00\x03alphaone"))
	f.Add(uint64(1), int64(0), []byte{}, []byte("\x03\x01\x00\x00k"))
	f.Add(uint64(0), int64(1), []byte{}, []byte("\x00\x01\x00\x01kv"))
	f.Add(uint64(1<<63), int64(-1), []byte{0xff}, []byte{})
	f.Add(uint64(2), int64(2), []byte{1}, []byte("\x00\xff\x03\x10\x83\x01\x00\x04\x06\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, lsn uint64, commitTime int64, prevBytes, spec []byte) {
		var prev txframe.Hash
		copy(prev[:], prevBytes)
		entries := entriesFromSpec(spec)
		dst := []byte("earlier frame bytes")
		frame, h, err := txframe.Append(dst, prev, lsn, commitTime, entries)
		if !validTx(lsn, entries) {
			if !errors.Is(err, txframe.ErrMalformed) || string(frame) != string(dst) || h != (txframe.Hash{}) {
				t.Fatalf("Append of an invalid transaction = %q, %s, %v; want ErrMalformed and dst unchanged", frame, h, err)
			}
			return
		}
		if err != nil {
			t.Fatalf("Append of a valid transaction: %v", err)
		}
		if !bytes.Equal(frame[:len(dst)], dst) {
			t.Fatalf("Append changed the bytes already in dst")
		}
		frame = frame[len(dst):]
		fr, n, err := txframe.Decode(frame)
		if err != nil {
			t.Fatalf("Decode(Append(...)): %v", err)
		}
		if n != len(frame) || fr.LSN != lsn || fr.Time != commitTime || fr.Hash != h || !sameEntries(fr.Entries, entries) {
			t.Fatalf("Decode = %+v (%d of %d bytes), want LSN %d, time %d, hash %s, entries %q",
				fr, n, len(frame), lsn, commitTime, h, entries)
		}
		if err := txframe.VerifyChain(prev, frame); err != nil {
			t.Fatalf("VerifyChain: %v", err)
		}
		other := prev
		other[0] ^= 1
		if err := txframe.VerifyChain(other, frame); !errors.Is(err, txframe.ErrChain) {
			t.Fatalf("VerifyChain from a different prev = %v, want ErrChain", err)
		}
		if again, err := txframe.Encode(nil, &fr); err != nil || !bytes.Equal(again, frame) {
			t.Fatalf("Encode(Decode(frame)) = %x, %v; want the frame back", again, err)
		}
	})
}

// entriesFromSpec turns fuzz bytes into at most 32 entries. Each entry takes
// a 4-byte header, then its key and value bytes from what follows (padded
// with a pattern when spec runs out):
//
//	byte 0: op selector: %8 in 0..2 put, 3..5 delete, 6 op 0, 7 op 3 or more;
//	        a delete carries the value too when bit 7 is set
//	bytes 1-2: key length, little-endian, modulo MaxKeyLen+2 (so 0..1025)
//	byte 3: value length
func entriesFromSpec(spec []byte) []txframe.Entry {
	var entries []txframe.Entry
	for len(spec) >= 4 && len(entries) < 32 {
		sel := spec[0]
		keyLen := int(binary.LittleEndian.Uint16(spec[1:3])) % (txframe.MaxKeyLen + 2)
		valLen := int(spec[3])
		spec = spec[4:]
		e := txframe.Entry{Op: txframe.OpPut}
		switch sel % 8 {
		case 3, 4, 5:
			e.Op = txframe.OpDelete
			if sel&0x80 == 0 {
				valLen = 0
			}
		case 6:
			e.Op = 0
		case 7:
			e.Op = txframe.Op(3 + sel/8)
		}
		e.Key, spec = take(spec, keyLen)
		if valLen > 0 {
			e.Value, spec = take(spec, valLen)
		}
		entries = append(entries, e)
	}
	return entries
}

// take returns n bytes from the front of b, padded with a pattern if b is
// shorter, and what remains of b.
func take(b []byte, n int) ([]byte, []byte) {
	out := make([]byte, n)
	k := copy(out, b)
	for i := k; i < n; i++ {
		out[i] = byte(i)
	}
	return out, b[k:]
}

// validTx restates the format's rules for a transaction. It leaves out the
// body limit: entries from entriesFromSpec stay under 42 KB.
func validTx(lsn uint64, entries []txframe.Entry) bool {
	if lsn == 0 || len(entries) == 0 {
		return false
	}
	for _, e := range entries {
		switch {
		case e.Op != txframe.OpPut && e.Op != txframe.OpDelete,
			len(e.Key) < 1 || len(e.Key) > txframe.MaxKeyLen,
			len(e.Value) > txframe.MaxValueLen,
			e.Op == txframe.OpDelete && len(e.Value) != 0:
			return false
		}
	}
	return true
}
