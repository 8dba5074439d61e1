package stream_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/hotpipe/hotpipe/stream"
)

func TestEndTagRidesInTheHeaderAndIdentitiesSkipIt(t *testing.T) {
	h := newHistory(t, 150, 1000)
	plain := h.segment(t, 0, 150)
	tag := stream.NewEndTag(150, h.hash[150])
	x := newX25519(t)
	pq, err := age.GenerateHybridIdentity()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		id   age.Identity
		to   age.Recipient
	}{
		{"x25519", x, x.Recipient()},
		{"post-quantum, whose labels the note takes", pq, pq.Recipient()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			enc := encrypt(t, plain, tc.to, tag.Recipient(tc.to))
			got, err := stream.ReadEndTag(bytes.NewReader(enc))
			if err != nil || got != tag {
				t.Fatalf("ReadEndTag = %v, %v; want %v", got, err, tag)
			}
			if !got.Matches(h.hash[150]) || got.Matches(h.hash[149]) {
				t.Fatal("the tag matches another hash, or not its own")
			}
			res := readAll(t, inputs(enc), stream.Options{Identities: []age.Identity{tc.id}})
			if res.err != nil || !bytes.Equal(res.frames, h.block(1, 150)) {
				t.Fatalf("decrypting with the note in the header: %v", res.err)
			}
			res = readAll(t, inputs(enc), stream.Options{})
			var ee *stream.EncryptedError
			if !errors.As(res.err, &ee) || len(ee.Recipients) != 1 || strings.Contains(res.err.Error(), "hotpipe-end") || ee.End == nil || *ee.End != tag {
				t.Fatalf("without an identity: %v (note %v); want one recipient named, the note not counted but given", res.err, ee.End)
			}
			res = readAll(t, inputs(enc), stream.Options{Identities: []age.Identity{newX25519(t)}})
			if !errors.As(res.err, &ee) || ee.Tried != 1 || ee.End == nil || *ee.End != tag {
				t.Fatalf("with another identity: %v; want the note given", res.err)
			}
			res = readAll(t, inputs(encrypt(t, plain, tc.to)), stream.Options{})
			if !errors.As(res.err, &ee) || ee.End != nil {
				t.Fatalf("a file without a note: %v, note %v", res.err, ee.End)
			}
		})
	}
}

// The age CLI decrypts a file with the note: to age it is a stanza of a
// type no identity of its own knows.
func TestEndTagLeavesAnOrdinaryAgeFile(t *testing.T) {
	ageCLI, err := exec.LookPath("age")
	if err != nil {
		t.Skip("no age CLI")
	}
	h := newHistory(t, 20, 100)
	plain := h.segment(t, 0, 20)
	x := newX25519(t)
	dir := t.TempDir()
	idFile, encFile := filepath.Join(dir, "key"), filepath.Join(dir, "enc.age")
	write := func(name string, b []byte) {
		if err := os.WriteFile(name, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(idFile, []byte(x.String()+"\n"))
	write(encFile, encrypt(t, plain, x.Recipient(), stream.NewEndTag(20, h.hash[20]).Recipient(x.Recipient())))
	out, err := exec.Command(ageCLI, "-d", "-i", idFile, encFile).Output()
	if err != nil || !bytes.Equal(out, plain) {
		t.Fatalf("age -d: %v; %d bytes, want the %d plain ones", err, len(out), len(plain))
	}
}

func TestReadEndTagRefuses(t *testing.T) {
	h := newHistory(t, 3, 10)
	plain := h.segment(t, 0, 3)
	x := newX25519(t)
	withStanza := func(args ...string) []byte {
		return encrypt(t, plain, x.Recipient(), rawStanza{&age.Stanza{Type: "hotpipe-end", Args: args}})
	}
	good := stream.NewEndTag(3, h.hash[3])
	goodArgs := strings.Fields(good.String())[1:]
	for _, tc := range []struct {
		name string
		in   []byte
		want error
	}{
		{"no note", encrypt(t, plain, x.Recipient()), stream.ErrNoEndTag},
		{"not age", plain, stream.ErrDecrypt},
		{"empty", nil, stream.ErrDecrypt},
		{"header cut", encrypt(t, plain, x.Recipient(), good.Recipient(x.Recipient()))[:60], stream.ErrDecrypt},
		{"one arg", withStanza(goodArgs[0]), stream.ErrDecrypt},
		{"LSN 0", withStanza("0", goodArgs[1]), stream.ErrDecrypt},
		{"LSN with a leading zero", withStanza("03", goodArgs[1]), stream.ErrDecrypt},
		{"LSN past uint64", withStanza("18446744073709551616", goodArgs[1]), stream.ErrDecrypt},
		{"short tag", withStanza("3", goodArgs[1][:20]), stream.ErrDecrypt},
		{"tag not base64", withStanza("3", strings.Repeat("!", 43)), stream.ErrDecrypt},
		{"two notes", encrypt(t, plain, x.Recipient(), good.Recipient(x.Recipient()), good.Recipient(x.Recipient())), stream.ErrDecrypt},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := stream.ReadEndTag(bytes.NewReader(tc.in))
			if !errors.Is(err, tc.want) {
				t.Fatalf("ReadEndTag = %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}

// rawStanza is a recipient that writes the stanza it holds.
type rawStanza struct{ s *age.Stanza }

func (r rawStanza) Wrap([]byte) ([]*age.Stanza, error) { return []*age.Stanza{r.s}, nil }

func ExampleReadEndTag() {
	id, _ := age.GenerateX25519Identity()
	var hash [32]byte // h(LSN 42), as the database has it
	tag := stream.NewEndTag(42, hash)
	var obj bytes.Buffer
	w, _ := age.Encrypt(&obj, id.Recipient(), tag.Recipient(id.Recipient()))
	w.Write([]byte("the object's stream"))
	w.Close()

	// Without the identity: the object's last LSN, and whether the history
	// there is ours.
	got, err := stream.ReadEndTag(&obj)
	fmt.Println(got.LSN, got.Matches(hash), err)
	// Output: 42 true <nil>
}
