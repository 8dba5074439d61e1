package stream_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"testing"

	"filippo.io/age"
	"filippo.io/age/agessh"
	"golang.org/x/crypto/ssh"

	"github.com/hotpipe/hotpipe/internal/exitcode"
	"github.com/hotpipe/hotpipe/stream"
)

const (
	chunk    = 64 << 10 // age's plaintext chunk
	encChunk = chunk + 16
)

// encrypt encrypts data with age to the recipients given.
func encrypt(tb testing.TB, data []byte, to ...age.Recipient) []byte {
	tb.Helper()
	var buf bytes.Buffer
	w, err := age.Encrypt(&buf, to...)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		tb.Fatal(err)
	}
	if err := w.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

func newX25519(tb testing.TB) *age.X25519Identity {
	tb.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		tb.Fatal(err)
	}
	return id
}

func newSSHEd25519(tb testing.TB) *agessh.Ed25519Identity {
	tb.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	id, err := agessh.NewEd25519Identity(priv)
	if err != nil {
		tb.Fatal(err)
	}
	return id
}

// payloadAt is where the first payload chunk of enc starts: after the
// header's "--- MAC" line and the 16-byte nonce.
func payloadAt(tb testing.TB, enc []byte) int64 {
	tb.Helper()
	i := bytes.Index(enc, []byte("\n--- "))
	j := bytes.IndexByte(enc[i+1:], '\n')
	if i < 0 || j < 0 {
		tb.Fatal("no age header end")
	}
	return int64(i+1+j+1) + 16
}

func TestReaderDecryptsAge(t *testing.T) {
	h := newHistory(t, 150, 1000) // about 2.3 age chunks
	plain := h.segment(t, 0, 150)
	x, s := newX25519(t), newSSHEd25519(t)
	for _, tc := range []struct {
		name string
		data []byte
		to   age.Recipient
		ids  []age.Identity
	}{
		{name: "x25519", data: plain, to: x.Recipient(), ids: []age.Identity{x}},
		{name: "ssh-ed25519", data: plain, to: s.Recipient(), ids: []age.Identity{s}},
		{name: "second identity matches", data: plain, to: x.Recipient(), ids: []age.Identity{newX25519(t), x}},
		{name: "zstd inside", data: zstdGo(t, plain), to: x.Recipient(), ids: []age.Identity{x}},
		{name: "gzip inside", data: gzipGo(t, plain), to: x.Recipient(), ids: []age.Identity{x}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := readAll(t, inputs(encrypt(t, tc.data, tc.to)), stream.Options{Identities: tc.ids})
			if res.err != nil {
				t.Fatal(res.err)
			}
			if !bytes.Equal(res.frames, h.block(1, 150)) || len(res.ends) != 1 {
				t.Fatalf("read LSN %d..%d, %d end records; want 1..150 and 1", res.first, res.last, len(res.ends))
			}
		})
	}
}

func TestReaderRefusesAgeWithoutItsIdentity(t *testing.T) {
	plain := newHistory(t, 3, 10).segment(t, 0, 3)
	x, s := newX25519(t), newSSHEd25519(t)
	for _, tc := range []struct {
		name   string
		to     []age.Recipient
		ids    []age.Identity
		types  []string
		nomach bool // age's NoIdentityMatchError is wrapped
	}{
		{name: "none given", to: []age.Recipient{x.Recipient()}, types: []string{"X25519"}},
		{name: "another x25519 key", to: []age.Recipient{x.Recipient()}, ids: []age.Identity{newX25519(t)}, types: []string{"X25519"}, nomach: true},
		{name: "x25519 key for an ssh recipient", to: []age.Recipient{s.Recipient()}, ids: []age.Identity{x}, types: []string{"ssh-ed25519"}, nomach: true},
		{name: "two recipients, none given", to: []age.Recipient{x.Recipient(), s.Recipient()}, types: []string{"X25519", "ssh-ed25519"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := readAll(t, inputs(encrypt(t, plain, tc.to...)), stream.Options{Identities: tc.ids})
			if !errors.Is(res.err, stream.ErrNoIdentity) || exitcode.Of(res.err) != exitcode.Integrity {
				t.Fatalf("error %v (exit %d); want ErrNoIdentity, exit 3", res.err, exitcode.Of(res.err))
			}
			var ee *stream.EncryptedError
			if !errors.As(res.err, &ee) || fmt.Sprint(ee.Recipients) != fmt.Sprint(tc.types) || ee.Tried != len(tc.ids) {
				t.Fatalf("error %#v; want an EncryptedError naming recipients %v, %d tried", res.err, tc.types, len(tc.ids))
			}
			var nm *age.NoIdentityMatchError
			if errors.As(res.err, &nm) != tc.nomach {
				t.Errorf("wraps age.NoIdentityMatchError: %v; want %v", !tc.nomach, tc.nomach)
			}
			var se *stream.Error
			if !errors.As(res.err, &se) || se.Source != "in0" {
				t.Errorf("error %v does not name the input in0", res.err)
			}
			if res.first != 0 {
				t.Errorf("frames %d..%d read", res.first, res.last)
			}
		})
	}
}

// good is how many whole payload chunks a reader can authenticate in enc,
// given that the chunk at index bad (or any after it) fails.
func requirePrefixOf(t *testing.T, res readResult, h *history, goodChunks int64) {
	t.Helper()
	fl := frameLen(h.valueSize)
	wantFrames := max(0, goodChunks*chunk-hdrLen) / fl
	if n := int64(len(res.frames)) / fl; n != wantFrames || !bytes.Equal(res.frames, h.block(1, uint64(n))) {
		t.Fatalf("read %d frames (LSN %d..%d); want the %d whole frames of the %d good chunks (%v)",
			n, res.first, res.last, wantFrames, goodChunks, res.err)
	}
}

func TestReaderAgeDamageStopsBeforeTheDamagedChunk(t *testing.T) {
	h := newHistory(t, 150, 1000) // chunks 0, 1 full; 2 short, the last
	x := newX25519(t)
	enc := encrypt(t, h.segment(t, 0, 150), x.Recipient())
	pay := payloadAt(t, enc)
	last := (int64(len(enc)) - pay) / encChunk
	type at struct {
		name  string
		off   int64
		chunk int64 // -1: the header
	}
	cases := []at{
		{name: "stanza body", off: int64(bytes.Index(enc, []byte("\n-> X25519 "))) + 60, chunk: -1},
		{name: "header MAC", off: pay - 20, chunk: -1},
		{name: "nonce", off: pay - 3, chunk: -1},
	}
	for c := int64(0); c <= last; c++ {
		cases = append(cases, at{name: fmt.Sprintf("chunk %d start", c), off: pay + c*encChunk, chunk: c},
			at{name: fmt.Sprintf("chunk %d tag", c), off: min(pay+(c+1)*encChunk, int64(len(enc))) - 1, chunk: c})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			bad := edit(enc, func(b []byte) { b[tc.off] ^= 0x40 })
			res := readAll(t, inputs(bad), stream.Options{Identities: []age.Identity{x}})
			if exitcode.Of(res.err) != exitcode.Integrity {
				t.Fatalf("error %v, exit %d; want an integrity error", res.err, exitcode.Of(res.err))
			}
			if tc.chunk < 0 {
				requirePrefixOf(t, res, h, 0)
				return
			}
			var de *stream.DecryptError
			if !errors.As(res.err, &de) || !errors.Is(res.err, stream.ErrDecrypt) || de.Chunk != tc.chunk || de.Offset != pay+tc.chunk*encChunk {
				t.Fatalf("error %v; want a DecryptError of chunk %d at offset %d", res.err, tc.chunk, pay+tc.chunk*encChunk)
			}
			requirePrefixOf(t, res, h, tc.chunk)
		})
	}
}

// TestReaderAgeTruncation cuts a small encrypted backup at every offset in
// its header and nonce, at every offset within 40 bytes of each chunk edge,
// and at every 997th offset elsewhere (cuts inside a chunk all take the same
// path: the chunk fails as a whole).
func TestReaderAgeTruncation(t *testing.T) {
	h := newHistory(t, 150, 1000)
	x := newX25519(t)
	enc := encrypt(t, h.segment(t, 0, 150), x.Recipient())
	pay := payloadAt(t, enc)
	key, err := age.DecryptHeader(enc[:pay-16], x)
	if err != nil {
		t.Fatal(err)
	}
	ids := []age.Identity{age.NewInjectedFileKeyIdentity(key)} // no X25519 per cut
	for cut := int64(0); cut < int64(len(enc)); cut++ {
		in := (cut - pay) % encChunk
		if cut > pay+40 && in > 40 && in < encChunk-40 && cut < int64(len(enc))-40 && cut%997 != 0 {
			continue
		}
		res := readAll(t, inputs(enc[:cut]), stream.Options{Identities: ids})
		if exitcode.Of(res.err) != exitcode.Integrity {
			t.Fatalf("cut at %d: error %v, exit %d; want an integrity error", cut, res.err, exitcode.Of(res.err))
		}
		good := int64(0)
		if cut >= pay {
			good = (cut - pay) / encChunk // whole chunks left, none of them the last
		}
		requirePrefixOf(t, res, h, good)
	}
}

func TestParseIdentities(t *testing.T) {
	x := newX25519(t)
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	edPEM, err := ssh.MarshalPrivateKey(edKey, "")
	if err != nil {
		t.Fatal(err)
	}
	locked, err := ssh.MarshalPrivateKeyWithPassphrase(edKey, "", []byte("pw"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		file string
		n    int
		err  error
	}{
		{name: "age key with comments", file: "# created: now\n# public key: " + x.Recipient().String() + "\n\n" + x.String() + "\n", n: 1},
		{name: "two age keys", file: x.String() + "\n" + newX25519(t).String() + "\n", n: 2},
		{name: "ssh-ed25519", file: string(pem.EncodeToMemory(edPEM)), n: 1},
		{name: "ssh key with a passphrase", file: string(pem.EncodeToMemory(locked)), err: stream.ErrIdentity},
		{name: "ecdsa ssh key", file: ecdsaPEM, err: stream.ErrIdentity},
		{name: "a public key", file: x.Recipient().String() + "\n", err: stream.ErrIdentity},
		{name: "empty", file: "", err: stream.ErrIdentity},
		{name: "too large", file: "#" + string(bytes.Repeat([]byte{'x'}, stream.MaxIdentityFile)), err: stream.ErrIdentity},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ids, err := stream.ParseIdentities(bytes.NewReader([]byte(tc.file)), "key.txt")
			if !errors.Is(err, tc.err) || len(ids) != tc.n {
				t.Fatalf("%d identities, error %v; want %d, %v", len(ids), err, tc.n, tc.err)
			}
		})
	}
}

// ecdsaPEM is an ecdsa-sha2-nistp256 key (ssh-keygen -t ecdsa): a key of a
// type age cannot use.
const ecdsaPEM = `-----BEGIN OPENSSH PRIVATE KEY-----
b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAaAAAABNlY2RzYS
1zaGEyLW5pc3RwMjU2AAAACG5pc3RwMjU2AAAAQQR6Gso3QkEaDiXvbpEE/Yf5uw2OmFwR
s267KiupbsnNN07Vdyv9wr+BgxBGLVB/f4E7aGjgxb6MvYVNd8CXR5gcAAAAoNROJRPUTi
UTAAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBHoayjdCQRoOJe9u
kQT9h/m7DY6YXBGzbrsqK6luyc03TtV3K/3Cv4GDEEYtUH9/gTtoaODFvoy9hU13wJdHmB
wAAAAhAOERxrxoCCUTP+lKyEvoEtL130Y4gfJljBRInLsM0GSsAAAABHRlc3QBAgM=
-----END OPENSSH PRIVATE KEY-----
`

// FuzzOpenAge feeds the detection front end age headers and whatever
// follows: it refuses or decrypts, never panics or allocates without
// bound.
func FuzzOpenAge(f *testing.F) {
	x := newX25519(f)
	plain := newHistory(f, 3, 10).segment(f, 0, 3)
	enc := encrypt(f, plain, x.Recipient())
	f.Add(enc)
	f.Add(enc[:payloadAt(f, enc)])
	f.Add(encrypt(f, plain, x.Recipient(), newSSHEd25519(f).Recipient()))
	f.Add([]byte("age-encryption.org/v1\n-> X25519 \n--- \n"))
	f.Add([]byte("age-encryption.org/v1\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r := stream.NewReader([]stream.Input{{Name: "fuzz", R: bytes.NewReader(b)}}, stream.Options{Identities: []age.Identity{x}})
		for {
			if _, err := r.Next(); err != nil {
				if err != io.EOF && exitcode.Of(err) != exitcode.Integrity && exitcode.Of(err) != exitcode.History {
					t.Fatalf("error %v: exit %d", err, exitcode.Of(err))
				}
				return
			}
		}
	})
}
