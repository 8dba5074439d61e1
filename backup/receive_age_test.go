package backup

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"filippo.io/age"

	"github.com/hotpipe/hotpipe/stream"
)

// TestFileFromEncrypted: a received stream written with recipients is an
// age file that each recipient's identity decrypts into the stream verify
// reports exactly as it reports the local plain backup.
func TestFileFromEncrypted(t *testing.T) {
	t.Parallel()
	db := newDB(t, "foo", 500, 300, 0) // several 64 KiB age chunks
	k := newKeys(t)
	var plain bytes.Buffer
	if _, err := Backup(context.Background(), db.reader, &plain, Options{}); err != nil {
		t.Fatal(err)
	}
	want := verified(t, plain.Bytes())
	path := filepath.Join(t.TempDir(), "foo.backup.age")
	res, err := FileFrom(context.Background(), "foo", (&served{db: db.reader}).open, path, Options{Recipients: k.recipients})
	if err != nil || !res.Ended || res.Frames != 500 || res.Last != 500 {
		t.Fatalf("encrypted FileFrom = %v, Result %+v; want LSN 1..500, ended", err, res)
	}
	b := readBytes(t, path)
	if !bytes.HasPrefix(b, ageMagic) || bytes.Contains(b, []byte("key:000001")) {
		t.Fatal("the file is not an age file, or shows a key in clear")
	}
	for i, id := range k.ids {
		if got := verified(t, decrypt(t, b, id)); got != want {
			t.Fatalf("identity %d: verify reports %+v, the plain local backup %+v", i, got, want)
		}
	}
}

// TestFileFromEncryptedFaults: a failed write (of the age header, a middle
// chunk, the last chunk) or the final fsync of an encrypted received file
// removes it, as for a plain one: it never looks complete.
func TestFileFromEncryptedFaults(t *testing.T) {
	t.Parallel()
	db := newDB(t, "foo", 500, 300, 0)
	encryptedFaults(t, func(path string, opts Options) (Result, error) {
		return FileFrom(context.Background(), "foo", (&served{db: db.reader}).open, path, opts)
	})
}

// encryptedFaults has backup, which makes an encrypted backup file of 500
// frames (File, FileFrom), fail each way a write or fsync can fail, and
// requires each failure to remove the file it created.
func encryptedFaults(t *testing.T, backup func(path string, opts Options) (Result, error)) {
	t.Helper()
	k := newKeys(t)
	count := &faultyFile{}
	counting := func(f *os.File) syncWriter { count.syncWriter = f; return count }
	if _, err := backup(filepath.Join(t.TempDir(), "count.backup"), Options{Recipients: k.recipients, file: counting}); err != nil {
		t.Fatal(err)
	}
	if count.writes < 4 {
		t.Fatalf("an encrypted backup of 500 frames took %d writes; want a header and several chunks", count.writes)
	}
	tests := []struct {
		name                string
		failWrite, failSync int
		cause               error
	}{
		{name: "the age header's write", failWrite: 1, cause: syscall.ENOSPC},
		{name: "a middle chunk's write", failWrite: count.writes - 1, cause: syscall.ENOSPC},
		{name: "the last chunk's write", failWrite: count.writes, cause: syscall.ENOSPC},
		{name: "the final fsync", failSync: 1, cause: syscall.EIO},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "foo.backup")
			res, err := backup(path, Options{Recipients: k.recipients, file: faults(tt.failWrite, tt.failSync)})
			var fe *FileError
			if !errors.As(err, &fe) || fe.State != Removed || !errors.Is(err, tt.cause) || res.Ended {
				t.Fatalf("= %v (Result %+v); want a *FileError, Removed, wrapping %v", err, res, tt.cause)
			}
			if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("%s is still there after the failed backup that created it (%v)", path, err)
			}
		})
	}
}

// TestFileFromEncryptedBroken: an encrypted received file whose stream
// breaks, or whose run is stopped, is Incomplete and Encrypted (not
// resumable), and without its sealed last chunk it never decrypts whole.
func TestFileFromEncryptedBroken(t *testing.T) {
	t.Parallel()
	db := newDB(t, "foo", 500, 300, 0)
	k := newKeys(t)
	for _, c := range []struct {
		name  string
		cut   int
		stop  bool
		cause error
	}{
		{name: "broken half-way", cut: 80 << 10, cause: stream.ErrTruncated},
		{name: "broken inside the end record", cut: -40, cause: stream.ErrTruncated},
		{name: "stopped", stop: true, cause: context.Canceled},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			opts := Options{Recipients: k.recipients}
			src := (&served{db: db.reader, cut: c.cut}).open
			if c.stop { // the source's reads end with ctx, as a request's body's do
				opts.Progress = func(Progress) { cancel() }
				open := src
				src = func(ctx context.Context, after uint64) (io.ReadCloser, error) {
					rc, err := open(ctx, after)
					return &cancelled{ctx: ctx, r: rc}, err
				}
			}
			path := filepath.Join(t.TempDir(), "foo.backup.age")
			res, err := FileFrom(ctx, "foo", src, path, opts)
			var fe *FileError
			if !errors.As(err, &fe) || fe.State != Incomplete || !fe.Encrypted || !errors.Is(err, c.cause) || res.Ended {
				t.Fatalf("FileFrom = %v (Result %+v); want an Incomplete, Encrypted *FileError wrapping %v", err, res, c.cause)
			}
			r, err := age.Decrypt(bytes.NewReader(readBytes(t, path)), k.ids[0])
			if err == nil {
				_, err = io.ReadAll(r)
			}
			if err == nil {
				t.Fatal("an encrypted received file that broke off decrypts whole")
			}
		})
	}
}
