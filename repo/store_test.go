package repo

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hotpipe/hotpipe/internal/s3test"
	"github.com/minio/minio-go/v7"
)

// backend makes empty stores of one kind for the contract tests.
type backend struct {
	name string
	// open returns a new, empty store.
	open func(t *testing.T) Store
	// leaveBehind leaves what a crashed Create of name leaves (a temp file,
	// an incomplete upload), started age ago.
	leaveBehind func(t *testing.T, st Store, name string, age time.Duration)
}

// testS3Options are the S3 options of the tests' stores: small parts and a
// small single-PUT limit, so that a 10 MiB object goes in three parts, and
// few retries, so that failures are quick.
func testS3Options(srv *s3test.Server) S3Options {
	return S3Options{
		Endpoint:        srv.Endpoint,
		Region:          s3test.Region,
		AccessKeyID:     s3test.AccessKey,
		SecretAccessKey: s3test.SecretKey,
		PartSize:        MinPartSize,
		MaxSinglePut:    1 << 20,
		MaxRetries:      3,
	}
}

// bucketSeq numbers the buckets the tests make, one per store.
var bucketSeq atomic.Int64

// backends returns a directory backend and an S3 backend on srv.
func backends(srv *s3test.Server) []backend {
	return []backend{
		{
			name: "dir",
			open: func(t *testing.T) Store {
				return mustOpen(t, filepath.Join(t.TempDir(), "repo"), StoreOptions{})
			},
			leaveBehind: func(t *testing.T, st Store, name string, age time.Duration) {
				dir := filepath.Dir(st.(*dirStore).path(name))
				if err := os.MkdirAll(dir, 0o700); err != nil {
					t.Fatal(err)
				}
				tmp := filepath.Join(dir, tempPrefix+"crashed")
				if err := os.WriteFile(tmp, []byte("half"), 0o600); err != nil {
					t.Fatal(err)
				}
				then := time.Now().Add(-age)
				if err := os.Chtimes(tmp, then, then); err != nil {
					t.Fatal(err)
				}
			},
		},
		{
			name: "s3",
			open: func(t *testing.T) Store {
				b := srv.MakeBucket(t, fmt.Sprintf("test-%d", bucketSeq.Add(1)))
				return mustOpen(t, "s3://"+b+"/repo", StoreOptions{S3: testS3Options(srv)})
			},
			leaveBehind: func(t *testing.T, st Store, name string, age time.Duration) {
				s := st.(*s3Store)
				key, _ := s.key(name)
				if _, err := s.core.NewMultipartUpload(context.Background(), s.bucket, key, minio.PutObjectOptions{}); err != nil {
					t.Fatal(err)
				}
				// The server stamps the upload now: wait out the age.
				time.Sleep(age)
			},
		},
	}
}

func mustOpen(t *testing.T, url string, opts StoreOptions) Store {
	t.Helper()
	st, err := OpenStore(context.Background(), url, opts)
	if err != nil {
		t.Fatalf("OpenStore(%q): %v", url, err)
	}
	return st
}

// contractCases are the promises of Store, run against every backend.
var contractCases = []struct {
	name string
	run  func(t *testing.T, b backend)
}{
	{"CreateThenRead", testCreateThenRead},
	{"CreateExisting", testCreateExisting},
	{"CreateRace", testCreateRace},
	{"CreateRaceMultipart", testCreateRaceMultipart},
	{"LargeObject", testLargeObject},
	{"FailingReader", testFailingReader},
	{"SizeMismatch", testSizeMismatch},
	{"CancelledCreate", testCancelledCreate},
	{"List", testList},
	{"ListStopsEarly", testListStopsEarly},
	{"ReadAt", testReadAt},
	{"Delete", testDelete},
	{"NotExist", testNotExist},
	{"InvalidNames", testInvalidNames},
	{"Cleanup", testCleanup},
}

// TestStoreContract runs the contract cases against a directory store and
// an S3 store on a real S3 server (versitygw).
func TestStoreContract(t *testing.T) {
	srv := s3test.Start(t)
	for _, b := range backends(srv) {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel() // the S3 cases mostly wait on the server
			for _, c := range contractCases {
				t.Run(c.name, func(t *testing.T) { c.run(t, b) })
			}
		})
	}
}

// content returns n deterministic bytes, different for each seed and n.
func content(seed uint64, n int) []byte {
	var key [32]byte
	binary.LittleEndian.PutUint64(key[:], seed)
	binary.LittleEndian.PutUint64(key[8:], uint64(n))
	b := make([]byte, n)
	_, _ = rand.NewChaCha8(key).Read(b) // never fails
	return b
}

// create stores data as name, with its size known or not.
func create(t *testing.T, st Store, name string, data []byte, knownSize bool) error {
	t.Helper()
	size := int64(len(data))
	if !knownSize {
		size = -1
	}
	// iotest-like: a reader that is neither a bytes.Reader nor seekable,
	// so no backend can lean on the caller's buffer.
	return st.Create(context.Background(), name, onlyReader{bytes.NewReader(data)}, size)
}

type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

// readAll opens name and reads it whole, checking Size: exactly Size bytes,
// then io.EOF.
func readAll(t *testing.T, st Store, name string) []byte {
	t.Helper()
	obj, err := st.Open(context.Background(), name)
	if err != nil {
		t.Fatalf("Open(%s): %v", name, err)
	}
	defer closeObj(t, obj)
	got := make([]byte, obj.Size())
	if _, err := io.ReadFull(obj, got); err != nil {
		t.Fatalf("reading the %d bytes of %s: %v", len(got), name, err)
	}
	if n, err := obj.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		t.Errorf("%s: Read after Size() bytes = %d, %v; want 0, io.EOF", name, n, err)
	}
	return got
}

func closeObj(t *testing.T, obj Object) {
	t.Helper()
	if err := obj.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
}

// list returns every name and size in st under prefix after startAfter.
func list(t *testing.T, st Store, prefix, startAfter string) []Info {
	t.Helper()
	var out []Info
	for info, err := range st.List(context.Background(), prefix, startAfter) {
		if err != nil {
			t.Fatalf("List(%q, %q): %v", prefix, startAfter, err)
		}
		out = append(out, info)
	}
	return out
}

// assertNothingLeft checks that st holds no objects and nothing for
// Cleanup to remove.
func assertNothingLeft(t *testing.T, st Store) {
	t.Helper()
	if got := list(t, st, "", ""); len(got) != 0 {
		t.Errorf("store holds %v, want nothing", got)
	}
	n, err := st.Cleanup(context.Background(), 0)
	if err != nil {
		t.Fatalf("Cleanup: %v", err)
	}
	if n != 0 {
		t.Errorf("Cleanup removed %d leftovers of a failed Create, want 0", n)
	}
}

// assertNoLeftovers checks that Cleanup finds nothing to remove.
func assertNoLeftovers(t *testing.T, st Store) {
	t.Helper()
	n, err := st.Cleanup(context.Background(), 0)
	if err != nil {
		t.Fatalf("Cleanup: %v", err)
	}
	if n != 0 {
		t.Errorf("Cleanup removed %d leftovers, want 0", n)
	}
}

// errBoom is the failure of failingReader.
var errBoom = errors.New("boom: the source failed")

// failingReader yields n bytes of data, then errBoom.
type failingReader struct {
	data []byte
	n    int
}

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n == 0 {
		return 0, errBoom
	}
	k := copy(p[:min(len(p), f.n)], f.data)
	f.data, f.n = f.data[k:], f.n-k
	return k, nil
}

// cancelAfter cancels its context once n bytes are read.
type cancelAfter struct {
	r      io.Reader
	n      int
	cancel func()
}

func (c *cancelAfter) Read(p []byte) (int, error) {
	k, err := c.r.Read(p[:min(len(p), max(c.n, 1))])
	c.n -= k
	if c.n <= 0 {
		c.cancel()
	}
	return k, err
}
