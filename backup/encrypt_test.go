package backup

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"filippo.io/age"
	"filippo.io/age/agessh"

	"github.com/hotpipe/hotpipe/stream"
	"github.com/hotpipe/hotpipe/txframe"
	"github.com/hotpipe/hotpipe/verify"
)

// keys are an X25519 and an ssh-ed25519 key pair: a backup is encrypted to
// both recipients, and each identity alone decrypts it.
type keys struct {
	ids        []age.Identity
	recipients []age.Recipient
}

func newKeys(t *testing.T) keys {
	t.Helper()
	x, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := agessh.NewEd25519Identity(priv)
	if err != nil {
		t.Fatal(err)
	}
	return keys{ids: []age.Identity{x, s}, recipients: []age.Recipient{x.Recipient(), s.Recipient()}}
}

// summary is verify's report of a stream, without its per-input lines.
type summary struct {
	First, Last, Frames uint64
	Segments            int
	Bytes               int64
	FirstTime, LastTime time.Time
	FinalHash           txframe.Hash
}

// verified is what verify.Stream reports of stream bytes b, which must
// verify.
func verified(t *testing.T, b []byte) summary {
	t.Helper()
	rep, err := verify.Stream(context.Background(), []stream.Input{{Name: "backup", R: bytes.NewReader(b)}}, verify.Options{})
	if err != nil || rep.Err() != nil {
		t.Fatalf("verify: %v, %v", err, rep.Err())
	}
	return summary{First: rep.First, Last: rep.Last, Frames: rep.Frames, Segments: rep.Segments, Bytes: rep.Bytes,
		FirstTime: rep.FirstTime, LastTime: rep.LastTime, FinalHash: rep.FinalHash}
}

// decrypt decrypts an age file whole with id.
func decrypt(t *testing.T, b []byte, id age.Identity) []byte {
	t.Helper()
	r, err := age.Decrypt(bytes.NewReader(b), id)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return plain
}

// TestEncryptedBackupRoundTrip: a backup with recipients, to a writer and
// to a file, is an age file that each recipient's identity decrypts into a
// stream verify reports exactly as it reports the plain backup.
func TestEncryptedBackupRoundTrip(t *testing.T) {
	t.Parallel()
	db := newDB(t, "foo", 500, 300, 0) // several 64 KiB age chunks
	k := newKeys(t)
	var plain, enc bytes.Buffer
	if _, err := Backup(context.Background(), db.reader, &plain, Options{}); err != nil {
		t.Fatal(err)
	}
	want := verified(t, plain.Bytes())
	res, err := Backup(context.Background(), db.reader, &enc, Options{Recipients: k.recipients})
	if err != nil || !res.Ended || res.Frames != 500 {
		t.Fatalf("encrypted Backup = %v, %+v", err, res)
	}
	path := filepath.Join(t.TempDir(), "foo.backup.age")
	if res, err := File(context.Background(), db.reader, path, Options{Recipients: k.recipients}); err != nil || !res.Ended {
		t.Fatalf("encrypted File = %v, %+v", err, res)
	}
	file, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{"Backup": enc.Bytes(), "File": file} {
		if !bytes.HasPrefix(b, ageMagic) || bytes.Contains(b, []byte("key:000001")) {
			t.Fatalf("%s: the output is not an age file, or shows a key in clear", name)
		}
		for i, id := range k.ids {
			if got := verified(t, decrypt(t, b, id)); got != want {
				t.Fatalf("%s, identity %d: verify reports %+v, the plain backup %+v", name, i, got, want)
			}
		}
	}
}

// TestEncryptedFileFaultsNeverLookComplete: a failed write (of the age
// header, a middle chunk, the last chunk) or final fsync of an encrypted
// backup file removes the file, as for a plain one.
func TestEncryptedFileFaultsNeverLookComplete(t *testing.T) {
	t.Parallel()
	db := newDB(t, "foo", 500, 300, 0)
	encryptedFaults(t, func(path string, opts Options) (Result, error) {
		return File(context.Background(), db.reader, path, opts)
	})
}

// TestEncryptedFileStoppedReadsTruncated: an encrypted backup file stopped
// early is Incomplete and says it cannot be appended to; its last chunk
// unsealed, it never decrypts whole.
func TestEncryptedFileStoppedReadsTruncated(t *testing.T) {
	t.Parallel()
	db := newDB(t, "foo", 500, 300, 0)
	k := newKeys(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	path := filepath.Join(t.TempDir(), "foo.backup")
	opts := Options{Recipients: k.recipients, Progress: func(Progress) { cancel() }}
	res, err := File(ctx, db.reader, path, opts)
	var fe *FileError
	if !errors.As(err, &fe) || fe.State != Incomplete || !fe.Encrypted || !errors.Is(err, context.Canceled) || res.Ended {
		t.Fatalf("File = %v (Result %+v); want an Incomplete, Encrypted *FileError", err, res)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	r, err := age.Decrypt(bytes.NewReader(b), k.ids[0])
	if err == nil {
		_, err = io.ReadAll(r)
	}
	if err == nil {
		t.Fatal("a stopped encrypted backup decrypts whole")
	}
}

// TestEncryptedAppendAndFollowRefused: Append cannot add to an age file
// (with recipients or without), nor Follow stream through age; the file
// is left as it was.
func TestEncryptedAppendAndFollowRefused(t *testing.T) {
	t.Parallel()
	db := newDB(t, "foo", 20, 100, 0)
	k := newKeys(t)
	path := filepath.Join(t.TempDir(), "foo.backup")
	if _, err := File(context.Background(), db.reader, path, Options{Recipients: k.recipients}); err != nil {
		t.Fatal(err)
	}
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	db.commit(t, 5, 100)
	calls := []struct {
		name string
		call func() error
		opts bool // an ErrOptions
	}{
		{"Append with recipients", func() error {
			_, err := Append(context.Background(), db.reader, path, Options{Recipients: k.recipients})
			return err
		}, true},
		{"Append to an encrypted file", func() error { _, err := Append(context.Background(), db.reader, path, Options{}); return err }, false},
		{"AppendFrom with recipients", func() error {
			_, err := AppendFrom(context.Background(), "foo", nil, path, Options{Recipients: k.recipients})
			return err
		}, true},
		{"Backup following with recipients", func() error {
			_, err := Backup(context.Background(), db.reader, io.Discard, Options{Follow: true, Recipients: k.recipients})
			return err
		}, true},
	}
	for _, c := range calls {
		err := c.call()
		if !errors.Is(err, ErrEncrypted) || errors.Is(err, ErrOptions) != c.opts {
			t.Errorf("%s = %v; want ErrEncrypted (ErrOptions: %v)", c.name, err, c.opts)
		}
	}
	if after, err := os.ReadFile(path); err != nil || !bytes.Equal(after, before) {
		t.Fatalf("the encrypted file changed (%v)", err)
	}
}
