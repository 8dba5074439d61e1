package replica

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"filippo.io/age"

	"github.com/hotpipe/hotpipe/engine"
	"github.com/hotpipe/hotpipe/stream"
	"github.com/hotpipe/hotpipe/txframe"
)

// TestEncryptedRestoreCommitsNothingFromADamagedChunk restores an
// age-encrypted backup with a byte flipped in each chunk, and cut at
// offsets in each part of it: every restore fails, and the database holds
// exactly the whole frames of the chunks before the damage (age
// authenticates a chunk before it returns any of it), never one after.
func TestEncryptedRestoreCommitsNothingFromADamagedChunk(t *testing.T) {
	src, seg := bigSource(t, 150, 1000) // about 2.3 chunks of 64 KiB
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	enc := encryptTo(t, seg, id.Recipient())
	pay := int64(bytes.Index(enc, []byte("\n--- ")) + 1 + 4 + 43 + 1 + 16) // header, "--- MAC\n", nonce
	const chunk, encChunk = 64 << 10, 64<<10 + 16
	type tc struct {
		name string
		enc  []byte
		good int64 // whole chunks before the damage
	}
	whole := stream.NewReader([]stream.Input{{Name: "foo.age", R: bytes.NewReader(enc)}}, stream.Options{Identities: []age.Identity{id}})
	if _, err := Restore(context.Background(), t.TempDir(), "whole", whole, Options{}); err != nil {
		t.Fatalf("restore of the whole encrypted backup: %v", err)
	}
	flip := func(off int64) []byte { b := bytes.Clone(enc); b[off] ^= 1; return b }
	cases := []tc{
		{name: "header flipped", enc: flip(pay - 30), good: 0},
		{name: "cut in the header", enc: enc[:pay-30], good: 0},
		{name: "cut in the nonce", enc: enc[:pay-5], good: 0},
		{name: "cut after the nonce", enc: enc[:pay], good: 0},
	}
	for c := int64(0); pay+c*encChunk < int64(len(enc)); c++ {
		at := pay + c*encChunk
		cases = append(cases,
			tc{name: fmt.Sprintf("chunk %d flipped", c), enc: flip(at + 100), good: c},
			tc{name: fmt.Sprintf("cut inside chunk %d", c), enc: enc[:at+100], good: c},
			tc{name: fmt.Sprintf("cut at the start of chunk %d", c), enc: enc[:at], good: c})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			rd := stream.NewReader([]stream.Input{{Name: "foo.age", R: bytes.NewReader(tc.enc)}}, stream.Options{Identities: []age.Identity{id}})
			if _, err := Restore(context.Background(), dir, "bar", rd, Options{}); err == nil {
				t.Fatal("restore of a damaged encrypted backup succeeded")
			}
			want := framesWithin(t, seg, tc.good*chunk)
			got := stateOf(t, dir, "bar")
			if want == 0 && (got == nil || got.LSN == 0) {
				return
			}
			if got == nil || got.LSN != want || got.Hash != hashAt(t, src, want) {
				t.Fatalf("bar is %+v; want LSN %d, the last whole frame of the %d good chunks", got, want, tc.good)
			}
		})
	}
}

// bigSource makes a database of n transactions of one valueSize-byte value
// each, and returns it and its backup (one segment, LSN 1..n).
func bigSource(t *testing.T, n, valueSize int) (*engine.DB, []byte) {
	t.Helper()
	dir := t.TempDir()
	if _, err := engine.Create(dir, "foo", engine.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	db, err := engine.Open(dir, "foo", engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	for i := range n {
		e := txframe.Entry{Op: txframe.OpPut, Key: fmt.Appendf(nil, "k%d", i), Value: bytes.Repeat([]byte{byte(i)}, valueSize)}
		if _, err := db.Commit([]txframe.Entry{e}); err != nil {
			t.Fatal(err)
		}
	}
	return db, segment(t, db, 1, uint64(n))
}

// framesWithin is the LSN of the last frame of seg (a segment from LSN 1)
// that ends within its first limit bytes; 0 when none does.
func framesWithin(t *testing.T, seg []byte, limit int64) uint64 {
	t.Helper()
	off, lsn := int64(stream.HeaderSize), uint64(0)
	for off < int64(len(seg))-stream.EndSize {
		n, err := txframe.FrameLen(seg[off:])
		if err != nil {
			t.Fatal(err)
		}
		if off+int64(n) > limit {
			break
		}
		off += int64(n)
		lsn++
	}
	return lsn
}

// encryptTo encrypts data with age to r.
func encryptTo(t *testing.T, data []byte, r age.Recipient) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := age.Encrypt(&buf, r)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
