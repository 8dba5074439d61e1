package stream_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	"filippo.io/age"

	"github.com/hotpipe/hotpipe/stream"
)

// note is a recipient that wraps no key: it writes one of hotpipe's
// plaintext header notes, as a repository object's hotpipe-end stanza.
type note age.Stanza

func (n *note) Wrap([]byte) ([]*age.Stanza, error) {
	s := age.Stanza(*n)
	return []*age.Stanza{&s}, nil
}

var (
	endNote   = &note{Type: "hotpipe-end", Args: []string{"150", "tag-1"}, Body: []byte("the end of LSN 150, 48 bytes long, so two lines")}
	otherNote = &note{Type: "hotpipe-other", Body: nil}
)

// headerStanzas returns the stanzas of the age file enc's header.
func headerStanzas(tb testing.TB, enc []byte) []*age.Stanza {
	tb.Helper()
	hdr, err := age.ExtractHeader(bytes.NewReader(enc))
	if err != nil {
		tb.Fatal(err)
	}
	var c stanzaCapture
	if _, err := age.DecryptHeader(hdr, &c); err == nil {
		tb.Fatal("an identity that matches nothing opened the header")
	}
	return c.stanzas
}

type stanzaCapture struct{ stanzas []*age.Stanza }

func (c *stanzaCapture) Unwrap(s []*age.Stanza) ([]byte, error) {
	c.stanzas = s
	return nil, age.ErrIncorrectIdentity
}

func stanzaTypes(ss []*age.Stanza) []string {
	var types []string
	for _, s := range ss {
		types = append(types, s.Type)
	}
	return types
}

// decryptAll decrypts enc whole with id.
func decryptAll(enc []byte, id age.Identity) ([]byte, error) {
	r, err := age.Decrypt(bytes.NewReader(enc), id)
	if err != nil {
		return nil, err
	}
	return io.ReadAll(r)
}

// rekey re-keys enc, which must succeed, and checks what the result says.
func rekey(tb testing.TB, enc []byte, opts stream.RekeyOptions) ([]byte, stream.RekeyResult) {
	tb.Helper()
	var out bytes.Buffer
	res, err := stream.Rekey(context.Background(), &out, bytes.NewReader(enc), opts)
	if err != nil {
		tb.Fatalf("Rekey: %v", err)
	}
	oldHdr, newHdr := payloadAt(tb, enc)-16, payloadAt(tb, out.Bytes())-16
	if res.OldHeader != oldHdr || res.NewHeader != newHdr || res.Payload != int64(len(enc))-oldHdr {
		tb.Fatalf("result %+v; want old header %d, new header %d, payload %d", res, oldHdr, newHdr, int64(len(enc))-oldHdr)
	}
	if int64(out.Len()) != res.NewHeader+res.Payload {
		tb.Fatalf("wrote %d bytes; the result says %d", out.Len(), res.NewHeader+res.Payload)
	}
	return out.Bytes(), res
}

// TestRekeyRoundTrip re-keys a backup encrypted to A, with two notes, to
// B and C: both decrypt it to the same stream, A no longer does, the notes
// come first and unchanged, the nonce and payload are the same bytes, and
// Verify passes without B's or C's identity.
func TestRekeyRoundTrip(t *testing.T) {
	plain := newHistory(t, 150, 1000).segment(t, 0, 150) // about 2.3 age chunks
	a, b, c := newX25519(t), newX25519(t), newX25519(t)
	enc := encrypt(t, plain, endNote, a.Recipient(), otherNote)
	out, res := rekey(t, enc, stream.RekeyOptions{Identities: []age.Identity{a}, Recipients: []age.Recipient{b.Recipient(), c.Recipient()}})

	for name, id := range map[string]age.Identity{"B": b, "C": c} {
		got, err := decryptAll(out, id)
		if err != nil || !bytes.Equal(got, plain) {
			t.Errorf("%s decrypts %d bytes, %v; want the %d bytes encrypted", name, len(got), err, len(plain))
		}
	}
	if _, err := decryptAll(out, a); !errors.As(err, new(*age.NoIdentityMatchError)) {
		t.Errorf("A, the old recipient, decrypting the re-keyed file: %v; want age.NoIdentityMatchError", err)
	}
	stanzas := headerStanzas(t, out)
	if got, want := stanzaTypes(stanzas), []string{"hotpipe-end", "hotpipe-other", "X25519", "X25519"}; !slices.Equal(got, want) {
		t.Fatalf("new header's stanzas %q; want %q", got, want)
	}
	for i, n := range []*note{endNote, otherNote} {
		if s := stanzas[i]; !slices.Equal(s.Args, n.Args) || !bytes.Equal(s.Body, n.Body) {
			t.Errorf("note %s came over as %q %q; want %q %q", n.Type, s.Args, s.Body, n.Args, n.Body)
		}
	}
	if !slices.Equal(res.Notes, []string{"hotpipe-end", "hotpipe-other"}) {
		t.Errorf("result notes %q", res.Notes)
	}
	if !bytes.Equal(out[res.NewHeader:], enc[res.OldHeader:]) {
		t.Error("nonce and payload differ from the input's")
	}
	if err := res.Verify(context.Background(), bytes.NewReader(out)); err != nil {
		t.Errorf("Verify: %v", err)
	}
	if rr := readAll(t, inputs(out), stream.Options{Identities: []age.Identity{c}}); rr.err != nil || rr.last != 150 {
		t.Errorf("the stream Reader with C's identity read to LSN %d: %v", rr.last, rr.err)
	}
	ageCLI(t, out, b, plain)
}

// ageCLI decrypts enc with the age command and id, and wants plain; it
// skips where age is not installed.
func ageCLI(t *testing.T, enc []byte, id *age.X25519Identity, plain []byte) {
	t.Helper()
	bin, err := exec.LookPath("age")
	if err != nil {
		t.Log("no age command: the re-keyed file is not decrypted with it")
		return
	}
	dir := t.TempDir()
	key, file := filepath.Join(dir, "key"), filepath.Join(dir, "rekeyed.age")
	if err := os.WriteFile(key, []byte(id.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, enc, 0o600); err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd := exec.Command(bin, "-d", "-i", key, file)
	cmd.Stderr = &stderr
	got, err := cmd.Output()
	if err != nil || !bytes.Equal(got, plain) {
		t.Errorf("age -d -i: %d bytes, %v (%s); want the %d bytes encrypted", len(got), err, stderr.Bytes(), len(plain))
	}
}

// TestRekeyKeyTypes re-keys between key types: whoever the new header is
// for decrypts the same bytes, and the old identity no longer does.
func TestRekeyKeyTypes(t *testing.T) {
	hybrid := func(tb testing.TB) *age.HybridIdentity {
		id, err := age.GenerateHybridIdentity()
		if err != nil {
			tb.Fatal(err)
		}
		return id
	}
	x1, x2, s1, s2, h1, h2 := newX25519(t), newX25519(t), newSSHEd25519(t), newSSHEd25519(t), hybrid(t), hybrid(t)
	tests := []struct {
		name  string
		from  []age.Recipient
		old   age.Identity
		to    []age.Recipient
		new   []age.Identity
		types []string
	}{
		{"x25519 to ssh-ed25519", []age.Recipient{x1.Recipient()}, x1, []age.Recipient{s2.Recipient()}, []age.Identity{s2}, []string{"ssh-ed25519"}},
		{"ssh-ed25519 to x25519 and ssh-ed25519", []age.Recipient{s1.Recipient(), endNote}, s1,
			[]age.Recipient{x2.Recipient(), s2.Recipient()}, []age.Identity{x2, s2}, []string{"hotpipe-end", "X25519", "ssh-ed25519"}},
		{"the same recipient again", []age.Recipient{x1.Recipient()}, x1, []age.Recipient{x1.Recipient()}, []age.Identity{x1}, []string{"X25519"}},
		{"post-quantum to post-quantum", []age.Recipient{h1.Recipient()}, h1, []age.Recipient{h2.Recipient()}, []age.Identity{h2}, []string{"mlkem768x25519"}},
		{"x25519 and a note to post-quantum", []age.Recipient{x1.Recipient(), endNote}, x1, []age.Recipient{h2.Recipient()}, []age.Identity{h2}, []string{"hotpipe-end", "mlkem768x25519"}},
	}
	plain := newHistory(t, 80, 1000).segment(t, 0, 80)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			enc := encrypt(t, plain, tc.from...)
			out, res := rekey(t, enc, stream.RekeyOptions{Identities: []age.Identity{tc.old}, Recipients: tc.to})
			if got := stanzaTypes(headerStanzas(t, out)); !slices.Equal(got, tc.types) {
				t.Errorf("stanzas %q; want %q", got, tc.types)
			}
			for i, id := range tc.new {
				if got, err := decryptAll(out, id); err != nil || !bytes.Equal(got, plain) {
					t.Errorf("new identity %d decrypts %d bytes: %v", i, len(got), err)
				}
			}
			if !slices.Contains(tc.new, tc.old) {
				if _, err := decryptAll(out, tc.old); err == nil {
					t.Error("the old identity still decrypts")
				}
			}
			if err := res.Verify(context.Background(), bytes.NewReader(out)); err != nil {
				t.Errorf("Verify: %v", err)
			}
		})
	}
}

// TestRekeyRefuses feeds Rekey inputs and options it must refuse, with
// the error each one gets; none of them writes a byte.
func TestRekeyRefuses(t *testing.T) {
	a, b := newX25519(t), newX25519(t)
	pq, err := age.GenerateHybridIdentity()
	if err != nil {
		t.Fatal(err)
	}
	plain := newHistory(t, 3, 10).segment(t, 0, 3)
	enc := encrypt(t, plain, endNote, a.Recipient())
	hdrEnd := payloadAt(t, enc) - 16
	mac := bytes.LastIndex(enc[:hdrEnd], []byte("--- ")) + 4
	noteBody := bytes.Index(enc, []byte("-> hotpipe-end 150 tag-1\n")) + 30 // in the note's base64 body
	flip := func(at int) []byte {
		c := bytes.Clone(enc)
		c[at] ^= 0x04
		return c
	}
	to := []age.Recipient{b.Recipient()}
	ids := []age.Identity{a}
	tests := []struct {
		name    string
		in      []byte
		ids     []age.Identity
		to      []age.Recipient
		is      error
		tried   int // for an *EncryptedError: identities tried
		encrypt bool
	}{
		{name: "no identity", in: enc, to: to, is: stream.ErrNoIdentity, encrypt: true},
		{name: "wrong identity", in: enc, ids: []age.Identity{b, newSSHEd25519(t)}, to: to, is: stream.ErrNoIdentity, tried: 2, encrypt: true},
		{name: "a plain stream", in: plain, ids: ids, to: to, is: stream.ErrNotAge},
		{name: "empty input", in: nil, ids: ids, to: to, is: stream.ErrNotAge},
		{name: "no new recipient", in: enc, ids: ids, is: stream.ErrRecipient},
		{name: "post-quantum and classic mixed", in: enc, ids: ids, to: []age.Recipient{pq.Recipient(), b.Recipient()}, is: stream.ErrRecipient},
		{name: "flipped byte in a note", in: flip(noteBody), ids: ids, to: to, is: stream.ErrDecrypt},
		{name: "flipped byte in the MAC", in: flip(mac + 3), ids: ids, to: to, is: stream.ErrDecrypt},
		{name: "header cut short", in: enc[:hdrEnd-10], ids: ids, to: to, is: stream.ErrDecrypt},
		{name: "header cut before its MAC", in: enc[:mac-4], ids: ids, to: to, is: stream.ErrDecrypt},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			_, err := stream.Rekey(context.Background(), &out, bytes.NewReader(tc.in), stream.RekeyOptions{Identities: tc.ids, Recipients: tc.to})
			if !errors.Is(err, tc.is) {
				t.Fatalf("Rekey: %v; want %v", err, tc.is)
			}
			if ee, ok := errors.AsType[*stream.EncryptedError](err); ok != tc.encrypt || ok && ee.Tried != tc.tried {
				t.Errorf("Rekey: %v (%T); want an *EncryptedError %v, %d tried", err, err, tc.encrypt, tc.tried)
			}
			if errors.Is(err, stream.ErrNotAge) && !errors.Is(err, stream.ErrDecrypt) {
				t.Errorf("Rekey: %v does not wrap ErrDecrypt", err)
			}
			if out.Len() > 0 {
				t.Errorf("wrote %d bytes", out.Len())
			}
		})
	}
}

// TestRekeyEveryHeaderFlip flips each byte of an old header in turn (two
// ways): Rekey refuses every one, as damage or as a header no identity
// opens, and writes nothing.
func TestRekeyEveryHeaderFlip(t *testing.T) {
	a, b := newX25519(t), newX25519(t)
	enc := encrypt(t, newHistory(t, 3, 10).segment(t, 0, 3), endNote, a.Recipient(), otherNote)
	opts := stream.RekeyOptions{Identities: []age.Identity{a}, Recipients: []age.Recipient{b.Recipient()}}
	for at := range payloadAt(t, enc) - 16 {
		for _, mask := range []byte{0x01, 0x80} {
			c := bytes.Clone(enc)
			c[at] ^= mask
			var out bytes.Buffer
			_, err := stream.Rekey(context.Background(), &out, bytes.NewReader(c), opts)
			if !errors.Is(err, stream.ErrDecrypt) && !errors.Is(err, stream.ErrNoIdentity) {
				t.Fatalf("header byte %d ^ %#x: Rekey: %v; want ErrDecrypt or ErrNoIdentity", at, mask, err)
			}
			if out.Len() > 0 {
				t.Fatalf("header byte %d ^ %#x: wrote %d bytes", at, mask, out.Len())
			}
		}
	}
}

// TestRekeyPayloadDamage flips a byte in each chunk (and the nonce): Rekey
// (to a recipient and a note of a new recipient's) copies it as it is, and Verify of the copy stops at that chunk with a
// *DecryptError saying where it starts in the copy.
func TestRekeyPayloadDamage(t *testing.T) {
	a, b := newX25519(t), newX25519(t)
	plain := newHistory(t, 150, 1000).segment(t, 0, 150) // 3 chunks, the last short
	enc := encrypt(t, plain, a.Recipient())
	at := payloadAt(t, enc)
	opts := stream.RekeyOptions{Identities: []age.Identity{a}, Recipients: []age.Recipient{b.Recipient(), endNote}}
	tests := []struct {
		name  string
		off   int64 // of the flipped byte in enc
		chunk int64 // where Verify stops
	}{
		{"nonce", at - 3, 0},
		{"first chunk", at + 10, 0},
		{"first chunk's tag", at + encChunk - 1, 0},
		{"second chunk", at + encChunk + 5000, 1},
		{"last chunk", int64(len(enc)) - 20, 2},
		{"last chunk's tag", int64(len(enc)) - 1, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := bytes.Clone(enc)
			c[tc.off] ^= 0x20
			out, res := rekey(t, c, opts)
			if !bytes.Equal(out[res.NewHeader:], c[res.OldHeader:]) {
				t.Fatal("the payload was not copied as it is")
			}
			if got := stanzaTypes(headerStanzas(t, out)); len(res.Notes) > 0 || !slices.Equal(got, []string{"X25519", "hotpipe-end"}) {
				t.Errorf("stanzas %q, notes carried %q; want a new recipient's note after its X25519 stanza, none carried", got, res.Notes)
			}
			err := res.Verify(context.Background(), bytes.NewReader(out))
			de, ok := errors.AsType[*stream.DecryptError](err)
			if !ok || !errors.Is(err, stream.ErrDecrypt) {
				t.Fatalf("Verify: %v (%T); want a *DecryptError", err, err)
			}
			if want := payloadAt(t, out) + tc.chunk*encChunk; de.Chunk != tc.chunk || de.Offset != want {
				t.Errorf("Verify stopped at chunk %d offset %d; want chunk %d offset %d", de.Chunk, de.Offset, tc.chunk, want)
			}
			if _, err := decryptAll(out, b); err == nil {
				t.Error("the new recipient decrypts the damaged copy")
			}
		})
	}
}

// TestRekeyTruncated cuts a small encrypted backup at every offset: Rekey
// refuses it, or Verify refuses what Rekey wrote; only the whole file
// passes both. A payload cut whose length no age file has is Rekey's
// *DecryptError at its last chunk.
func TestRekeyTruncated(t *testing.T) {
	a, b := newX25519(t), newX25519(t)
	enc := encrypt(t, newHistory(t, 3, 10).segment(t, 0, 3), a.Recipient())
	at := payloadAt(t, enc)
	opts := stream.RekeyOptions{Identities: []age.Identity{a}, Recipients: []age.Recipient{b.Recipient()}}
	for cut := range len(enc) + 1 {
		var out bytes.Buffer
		res, err := stream.Rekey(context.Background(), &out, bytes.NewReader(enc[:cut]), opts)
		if err == nil {
			err = res.Verify(context.Background(), bytes.NewReader(out.Bytes()))
		}
		switch {
		case cut == len(enc) && err != nil:
			t.Fatalf("the whole file: %v", err)
		case cut == len(enc):
		case !errors.Is(err, stream.ErrDecrypt):
			t.Fatalf("cut at %d: %v; want ErrDecrypt", cut, err)
		case int64(cut) > at && int64(cut) < at+16:
			if de, ok := errors.AsType[*stream.DecryptError](err); !ok || de.Chunk != 0 || de.Offset != at {
				t.Fatalf("cut at %d, in the only chunk's tag: %v; want a *DecryptError at chunk 0, offset %d", cut, err, at)
			}
		}
	}
}

// TestRekeyCutAtChunkBoundary cuts a file after its first full chunk: the
// length is one age writes (a full last chunk), so Rekey copies it, and
// Verify finds that chunk 0 was not sealed as the last: chunk 1 is missing.
func TestRekeyCutAtChunkBoundary(t *testing.T) {
	a, b := newX25519(t), newX25519(t)
	enc := encrypt(t, newHistory(t, 150, 1000).segment(t, 0, 150), a.Recipient())
	cut := enc[:payloadAt(t, enc)+encChunk]
	out, res := rekey(t, cut, stream.RekeyOptions{Identities: []age.Identity{a}, Recipients: []age.Recipient{b.Recipient()}})
	err := res.Verify(context.Background(), bytes.NewReader(out))
	if de, ok := errors.AsType[*stream.DecryptError](err); !ok || de.Chunk != 1 || de.Offset != payloadAt(t, out)+encChunk {
		t.Fatalf("Verify: %v; want a *DecryptError at chunk 1, offset %d", err, payloadAt(t, out)+encChunk)
	}
}

// TestRekeyVerifyRefuses gives Verify copies that are not what Rekey
// wrote: another header, bytes after the last chunk, a cut header.
func TestRekeyVerifyRefuses(t *testing.T) {
	a, b := newX25519(t), newX25519(t)
	enc := encrypt(t, newHistory(t, 3, 10).segment(t, 0, 3), a.Recipient())
	opts := stream.RekeyOptions{Identities: []age.Identity{a}, Recipients: []age.Recipient{b.Recipient()}}
	out, res := rekey(t, enc, opts)
	again, _ := rekey(t, enc, opts) // the same file key, wrapped anew
	tests := []struct {
		name  string
		copy  []byte
		chunk bool // a *DecryptError
	}{
		{"another header for the same key", again, false},
		{"the input itself", enc, false},
		{"header cut short", out[:res.NewHeader-1], false},
		{"a byte after the last chunk", append(bytes.Clone(out), 0), true},
		{"nonce missing", out[:res.NewHeader], false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := res.Verify(context.Background(), bytes.NewReader(tc.copy))
			if !errors.Is(err, stream.ErrDecrypt) {
				t.Fatalf("Verify: %v; want ErrDecrypt", err)
			}
			if _, ok := errors.AsType[*stream.DecryptError](err); ok != tc.chunk {
				t.Errorf("Verify: %v (%T); *DecryptError %v, want %v", err, err, ok, tc.chunk)
			}
		})
	}
	if err := (stream.RekeyResult{}).Verify(context.Background(), bytes.NewReader(out)); err == nil {
		t.Error("Verify of an empty result passed")
	}
}

// TestRekeyStops: a done ctx stops Rekey before it writes and Verify before
// it reads a chunk, with the ctx's error; a failing writer's error is
// Rekey's.
func TestRekeyStops(t *testing.T) {
	a, b := newX25519(t), newX25519(t)
	enc := encrypt(t, newHistory(t, 3, 10).segment(t, 0, 3), a.Recipient())
	opts := stream.RekeyOptions{Identities: []age.Identity{a}, Recipients: []age.Recipient{b.Recipient()}}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var out bytes.Buffer
	if _, err := stream.Rekey(ctx, &out, bytes.NewReader(enc), opts); !errors.Is(err, context.Canceled) || out.Len() > 0 {
		t.Errorf("Rekey with a done ctx: %v, %d bytes written", err, out.Len())
	}
	copied, res := rekey(t, enc, opts)
	if err := res.Verify(ctx, bytes.NewReader(copied)); !errors.Is(err, context.Canceled) {
		t.Errorf("Verify with a done ctx: %v", err)
	}
	for _, ok := range []int{0, int(res.NewHeader) + 10} { // the header fails; the payload does
		res, err := stream.Rekey(context.Background(), &failWriter{ok: ok}, bytes.NewReader(enc), opts)
		if !errors.Is(err, errDisk) {
			t.Errorf("Rekey into a writer that fails after %d bytes: %v", ok, err)
		}
		if ok > 0 && res.Payload != 0 {
			t.Errorf("Rekey into a writer that fails after %d bytes says it copied %d bytes of payload", ok, res.Payload)
		}
	}
}

// FuzzRekey gives Rekey age files (seeds: whole, cut, with notes) and
// whatever the fuzzer makes of them. Rekey never panics; an error is one
// of Rekey's; and Rekey then Verify pass exactly when the input decrypts
// whole with the old identity, and then the new recipient decrypts the
// output to the same bytes.
func FuzzRekey(f *testing.F) {
	a, b := rekeyFuzzKeys(f)
	plain := newHistory(f, 3, 10).segment(f, 0, 3)
	enc := encrypt(f, plain, a.Recipient())
	f.Add(enc)
	f.Add(enc[:payloadAt(f, enc)])
	f.Add(encrypt(f, plain, endNote, a.Recipient(), otherNote))
	f.Add(encrypt(f, plain, a.Recipient(), newX25519(f).Recipient()))
	f.Add(encrypt(f, nil, a.Recipient()))
	f.Add(encrypt(f, newHistory(f, 70, 1000).segment(f, 0, 70), a.Recipient())) // two chunks
	f.Add([]byte("age-encryption.org/v1\n-> X25519 \n--- \n"))
	opts := stream.RekeyOptions{Identities: []age.Identity{a}, Recipients: []age.Recipient{b.Recipient()}}
	f.Fuzz(func(t *testing.T, in []byte) {
		var out bytes.Buffer
		res, err := stream.Rekey(context.Background(), &out, bytes.NewReader(in), opts)
		if err == nil {
			err = res.Verify(context.Background(), bytes.NewReader(out.Bytes()))
		}
		want, werr := decryptAll(in, a)
		switch {
		case err != nil && !errors.Is(err, stream.ErrDecrypt) && !errors.Is(err, stream.ErrNoIdentity):
			t.Fatalf("Rekey or Verify: %v (%T): not ErrDecrypt or ErrNoIdentity", err, err)
		case (err == nil) != (werr == nil):
			t.Fatalf("Rekey and Verify: %v; age.Decrypt of the input: %v", err, werr)
		case err == nil:
			got, err := decryptAll(out.Bytes(), b)
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("the new recipient decrypts %d bytes, %v; the old one %d", len(got), err, len(want))
			}
		}
	})
}

// rekeyFuzzKeys are FuzzRekey's old identity, fixed (a test key made by
// age-keygen) so that a crasher under testdata/fuzz replays with the key
// it was found with, and a new one.
func rekeyFuzzKeys(tb testing.TB) (old, new *age.X25519Identity) {
	tb.Helper()
	a, err := age.ParseX25519Identity("AGE-SECRET-KEY-1QVYS76UQQLFNVVETC8CSF2F7XS22P37Q6W5HXCYNHM4K5X0ZSKWSECQSMH")
	if err != nil {
		tb.Fatal(err)
	}
	return a, newX25519(tb)
}

// A file encrypted to an old key is re-encrypted to a new one: the new
// header is written and the payload copied, then the copy is verified
// whole with the file key before the old file may go.
func ExampleRekey() {
	oldID, _ := age.GenerateX25519Identity()
	newID, _ := age.GenerateX25519Identity()
	var old bytes.Buffer
	w, _ := age.Encrypt(&old, oldID.Recipient())
	io.WriteString(w, "a hotpipe stream")
	w.Close()

	var rekeyed bytes.Buffer
	res, err := stream.Rekey(context.Background(), &rekeyed, &old, stream.RekeyOptions{
		Identities: []age.Identity{oldID},
		Recipients: []age.Recipient{newID.Recipient()},
	})
	if err != nil {
		log.Fatal(err)
	}
	if err := res.Verify(context.Background(), bytes.NewReader(rekeyed.Bytes())); err != nil {
		log.Fatal(err)
	}
	r, _ := age.Decrypt(&rekeyed, newID)
	plain, _ := io.ReadAll(r)
	fmt.Printf("%d payload bytes copied; the new key reads %q\n", res.Payload, plain)
	// Output: 48 payload bytes copied; the new key reads "a hotpipe stream"
}
