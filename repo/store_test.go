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
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hotpipe/hotpipe/repo/internal/s3test"
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
// small single-PUT limit, so that a 12 MiB object goes in three parts, and
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

// readAll opens name and reads it whole, checking Size.
func readAll(t *testing.T, st Store, name string) []byte {
	t.Helper()
	obj, err := st.Open(context.Background(), name)
	if err != nil {
		t.Fatalf("Open(%s): %v", name, err)
	}
	defer closeObj(t, obj)
	got, err := io.ReadAll(obj)
	if err != nil {
		t.Fatalf("reading %s: %v", name, err)
	}
	if obj.Size() != int64(len(got)) {
		t.Errorf("%s: Size() = %d, read %d bytes", name, obj.Size(), len(got))
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

func testCreateThenRead(t *testing.T, b backend) {
	st := b.open(t)
	for i, size := range []int{0, 1, 1000, 300 << 10} {
		for _, known := range []bool{true, false} {
			name := fmt.Sprintf("db/obj-%d-%v", size, known)
			data := content(uint64(i), size)
			if err := create(t, st, name, data, known); err != nil {
				t.Fatalf("Create(%s): %v", name, err)
			}
			if got := readAll(t, st, name); !bytes.Equal(got, data) {
				t.Errorf("%s: read back %d bytes that differ from the %d written", name, len(got), len(data))
			}
		}
	}
	if got := len(list(t, st, "", "")); got != 8 {
		t.Errorf("List: %d objects, want 8", got)
	}
}

func testCreateExisting(t *testing.T, b backend) {
	st := b.open(t)
	first := content(1, 100)
	if err := create(t, st, "x/y", first, true); err != nil {
		t.Fatal(err)
	}
	for _, known := range []bool{true, false} {
		err := create(t, st, "x/y", content(2, 200), known)
		if !errors.Is(err, ErrExist) {
			t.Errorf("second Create (size known: %v) = %v, want ErrExist", known, err)
		}
	}
	if got := readAll(t, st, "x/y"); !bytes.Equal(got, first) {
		t.Error("the object changed after a refused Create")
	}
}

// raceCreate has n goroutines create name at once, each with its own
// content, and checks that exactly one succeeded, the others got ErrExist,
// and the object is the winner's whole content.
func raceCreate(t *testing.T, st Store, name string, n, size int, known bool) {
	t.Helper()
	errs := make([]error, n)
	var start, wg sync.WaitGroup
	start.Add(1)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			data := content(uint64(100+i), size+i)
			start.Wait()
			errs[i] = create(t, st, name, data, known)
		}()
	}
	start.Done()
	wg.Wait()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Errorf("writers %d and %d both created %s", winner, i, name)
		case err == nil:
			winner = i
		case !errors.Is(err, ErrExist):
			t.Errorf("writer %d: %v, want ErrExist", i, err)
		}
	}
	if winner < 0 {
		t.Fatal("no writer created the object")
	}
	if got := readAll(t, st, name); !bytes.Equal(got, content(uint64(100+winner), size+winner)) {
		t.Errorf("object is not writer %d's content (%d bytes read)", winner, len(got))
	}
}

func testCreateRace(t *testing.T, b backend) {
	st := b.open(t)
	raceCreate(t, st, "race/one", 16, 64<<10, true)
	raceCreate(t, st, "race/two", 16, 64<<10, false)
}

func testCreateRaceMultipart(t *testing.T, b backend) {
	st := b.open(t)
	raceCreate(t, st, "race/big", 3, 6<<20, false)
	assertNoLeftovers(t, st)
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

func testLargeObject(t *testing.T, b backend) {
	st := b.open(t)
	// 12 MiB + 1: three parts of 5 MiB on S3, the last short.
	data := content(7, 12<<20+1)
	for _, known := range []bool{true, false} {
		name := fmt.Sprintf("big/known-%v", known)
		if err := create(t, st, name, data, known); err != nil {
			t.Fatalf("Create(%s): %v", name, err)
		}
		if got := readAll(t, st, name); !bytes.Equal(got, data) {
			t.Errorf("%s: read back differs", name)
		}
		if err := create(t, st, name, content(8, 11<<20), known); !errors.Is(err, ErrExist) {
			t.Errorf("second Create of %s = %v, want ErrExist", name, err)
		}
	}
	// Exactly one part, then the end: no empty part is sent.
	one := content(9, MinPartSize)
	if err := create(t, st, "big/one-part", one, false); err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, st, "big/one-part"); !bytes.Equal(got, one) {
		t.Error("big/one-part: read back differs")
	}
	assertNoLeftovers(t, st)
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

func testFailingReader(t *testing.T, b backend) {
	st := b.open(t)
	for _, c := range []struct {
		name      string
		size, cut int
	}{
		{"small", 100 << 10, 50 << 10},
		{"after the first part", 12 << 20, 7 << 20}, // on S3, once part 1 is uploaded
	} {
		for _, size := range []int64{int64(c.size), -1} {
			data := content(3, c.size)
			err := st.Create(context.Background(), "f/x", &failingReader{data: data, n: c.cut}, size)
			if !errors.Is(err, errBoom) {
				t.Errorf("%s, size %d: Create = %v, want errBoom", c.name, size, err)
			}
			if _, err := st.Open(context.Background(), "f/x"); !errors.Is(err, ErrNotExist) {
				t.Errorf("%s, size %d: Open after a failed Create = %v, want ErrNotExist", c.name, size, err)
			}
		}
	}
	assertNothingLeft(t, st)
}

func testSizeMismatch(t *testing.T, b backend) {
	st := b.open(t)
	data := content(4, 1000)
	for _, size := range []int64{999, 1001, 0, 12 << 20} {
		if err := st.Create(context.Background(), "s/x", bytes.NewReader(data), size); !errors.Is(err, ErrSize) {
			t.Errorf("Create of 1000 bytes as %d = %v, want ErrSize", size, err)
		}
	}
	// More bytes than a multipart size promises.
	big := content(5, 6<<20)
	if err := st.Create(context.Background(), "s/y", bytes.NewReader(big), 6<<20-1); !errors.Is(err, ErrSize) {
		t.Errorf("Create of a long multipart reader = %v, want ErrSize", err)
	}
	if err := st.Create(context.Background(), "s/y", bytes.NewReader(data), -2); !errors.Is(err, ErrSize) {
		t.Errorf("Create with size -2 = %v, want ErrSize", err)
	}
	assertNothingLeft(t, st)
}

func testCancelledCreate(t *testing.T, b backend) {
	st := b.open(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := st.Create(ctx, "c/x", bytes.NewReader(content(6, 100)), 100); !errors.Is(err, context.Canceled) {
		t.Errorf("Create with a cancelled context = %v, want context.Canceled", err)
	}
	// Cancelled midway through a large object.
	ctx, cancel = context.WithCancel(context.Background())
	r := &cancelAfter{r: bytes.NewReader(content(6, 12<<20)), n: 7 << 20, cancel: cancel}
	if err := st.Create(ctx, "c/y", r, -1); !errors.Is(err, context.Canceled) {
		t.Errorf("Create cancelled midway = %v, want context.Canceled", err)
	}
	assertNothingLeft(t, st)
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

// listNames are names whose byte order differs from a directory walk's
// naive order: "a.b" (0x2e) and "a-" sort before "a/…" (0x2f), "a0" after.
var listNames = []string{
	"a-", "a.b", "a/a", "a/b", "a/c/d", "a/c.e", "a/c-", "a0", "b", "A", "Z/z", "z/x.y", "z/x/y/z", "a/b0",
}

func testList(t *testing.T, b backend) {
	st := b.open(t)
	for i, name := range listNames {
		if err := create(t, st, name, content(uint64(i), i), true); err != nil {
			t.Fatalf("Create(%s): %v", name, err)
		}
	}
	want := slices.Clone(listNames)
	slices.Sort(want)
	bounds := append([]string{"", "a", "a/", "a/c", "a/c/", "a.", "z/x", "zz", "Z"}, want...)
	for _, prefix := range bounds {
		for _, after := range bounds {
			var exp []string
			for _, n := range want {
				if strings.HasPrefix(n, prefix) && n > after {
					exp = append(exp, n)
				}
			}
			var got []string
			for _, info := range list(t, st, prefix, after) {
				got = append(got, info.Name)
				if want := int64(slices.Index(listNames, info.Name)); info.Size != want {
					t.Errorf("%s: size %d, want %d", info.Name, info.Size, want)
				}
			}
			if !slices.Equal(got, exp) {
				t.Errorf("List(%q, %q) = %q, want %q", prefix, after, got, exp)
			}
		}
	}
}

func testListStopsEarly(t *testing.T, b backend) {
	st := b.open(t)
	for i := range 30 {
		if err := create(t, st, fmt.Sprintf("e/%03d", i), nil, true); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	for info, err := range st.List(context.Background(), "e/", "") {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, info.Name)
		if len(got) == 3 {
			break
		}
	}
	if !slices.Equal(got, []string{"e/000", "e/001", "e/002"}) {
		t.Errorf("first three = %q", got)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var lastErr error
	for _, err := range st.List(ctx, "", "") {
		lastErr = err
	}
	if !errors.Is(lastErr, context.Canceled) {
		t.Errorf("List with a cancelled context ended with %v, want context.Canceled", lastErr)
	}
}

func testReadAt(t *testing.T, b backend) {
	st := b.open(t)
	data := content(10, 3<<20+17)
	if err := create(t, st, "r/x", data, true); err != nil {
		t.Fatal(err)
	}
	obj, err := st.Open(context.Background(), "r/x")
	if err != nil {
		t.Fatal(err)
	}
	defer closeObj(t, obj)
	// Read part of the stream first: ReadAt must not move it.
	head := make([]byte, 1000)
	if _, err := io.ReadFull(obj, head); err != nil || !bytes.Equal(head, data[:1000]) {
		t.Fatalf("Read: %v", err)
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(g), 1))
			for range 10 {
				off := r.Int64N(int64(len(data)))
				p := make([]byte, r.IntN(256<<10)+1)
				n, err := obj.ReadAt(p, off)
				end := min(off+int64(len(p)), int64(len(data)))
				if want := int(end - off); n != want {
					t.Errorf("ReadAt(%d bytes, %d) = %d bytes, want %d", len(p), off, n, want)
					return
				}
				if end-off < int64(len(p)) && err != io.EOF {
					t.Errorf("ReadAt past the end: err = %v, want io.EOF", err)
				} else if end-off == int64(len(p)) && err != nil && err != io.EOF {
					t.Errorf("ReadAt(%d bytes, %d): %v", len(p), off, err)
				}
				if !bytes.Equal(p[:n], data[off:end]) {
					t.Errorf("ReadAt(%d bytes, %d): wrong bytes", len(p), off)
				}
			}
		}()
	}
	wg.Wait()
	if n, err := obj.ReadAt(make([]byte, 10), int64(len(data))); n != 0 || err != io.EOF {
		t.Errorf("ReadAt at the end = %d, %v; want 0, io.EOF", n, err)
	}
	rest, err := io.ReadAll(obj)
	if err != nil || !bytes.Equal(rest, data[1000:]) {
		t.Errorf("Read after ReadAt: %d bytes, %v; want the %d after the first 1000", len(rest), err, len(data)-1000)
	}
}

func testDelete(t *testing.T, b backend) {
	st := b.open(t)
	ctx := context.Background()
	if err := create(t, st, "d/x", content(11, 10), true); err != nil {
		t.Fatal(err)
	}
	if err := st.Delete(ctx, "d/x"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := st.Open(ctx, "d/x"); !errors.Is(err, ErrNotExist) {
		t.Errorf("Open after Delete = %v, want ErrNotExist", err)
	}
	if got := list(t, st, "", ""); len(got) != 0 {
		t.Errorf("List after Delete = %v", got)
	}
	if err := st.Delete(ctx, "d/x"); err != nil {
		t.Errorf("Delete of a missing object = %v, want nil", err)
	}
	if err := st.Delete(ctx, "never/was"); err != nil {
		t.Errorf("Delete of a name never created = %v, want nil", err)
	}
	again := content(12, 20)
	if err := create(t, st, "d/x", again, true); err != nil {
		t.Fatalf("Create after Delete: %v", err)
	}
	if got := readAll(t, st, "d/x"); !bytes.Equal(got, again) {
		t.Error("Create after Delete: wrong content")
	}
}

func testNotExist(t *testing.T, b backend) {
	st := b.open(t)
	ctx := context.Background()
	if _, err := st.Open(ctx, "no/such"); !errors.Is(err, ErrNotExist) {
		t.Errorf("Open in an empty store = %v, want ErrNotExist", err)
	}
	if err := create(t, st, "p/q", content(13, 5), true); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"p", "p/q/r", "p/r"} {
		if _, err := st.Open(ctx, name); !errors.Is(err, ErrNotExist) {
			t.Errorf("Open(%s) = %v, want ErrNotExist", name, err)
		}
	}
}

// badNames are names CheckName refuses.
var badNames = []string{
	"", "/abs", "a//b", "a/", "..", "a/../b", ".", "./a", ".hidden", "a/.tmp-x", "sp ace", `back\slash`,
	"tab\t", "nul\x00", "ünï", "a:b", "q?", "star*", "pipe|", "<lt>", `"quote"`, "semi;colon", "dollar$",
	strings.Repeat("x", 256), strings.Repeat("a/", 512) + "b",
}

func testInvalidNames(t *testing.T, b backend) {
	st := b.open(t)
	ctx := context.Background()
	for _, name := range badNames {
		if err := st.Create(ctx, name, strings.NewReader("x"), 1); !errors.Is(err, ErrName) {
			t.Errorf("Create(%q) = %v, want ErrName", name, err)
		}
		if _, err := st.Open(ctx, name); !errors.Is(err, ErrName) {
			t.Errorf("Open(%q) = %v, want ErrName", name, err)
		}
		if err := st.Delete(ctx, name); !errors.Is(err, ErrName) {
			t.Errorf("Delete(%q) = %v, want ErrName", name, err)
		}
	}
	for _, bound := range []string{"/abs", "a//", "..", "sp ace"} {
		var lastErr error
		for _, err := range st.List(ctx, bound, "") {
			lastErr = err
		}
		if !errors.Is(lastErr, ErrName) {
			t.Errorf("List(%q) ended with %v, want ErrName", bound, lastErr)
		}
		lastErr = nil
		for _, err := range st.List(ctx, "", bound) {
			lastErr = err
		}
		if !errors.Is(lastErr, ErrName) {
			t.Errorf("List(\"\", %q) ended with %v, want ErrName", bound, lastErr)
		}
	}
	if d, ok := st.(*dirStore); ok {
		if _, err := os.Stat(d.root); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("refused names touched the store: stat %s = %v", d.root, err)
		}
	}
	assertNothingLeft(t, st)
}

func testCleanup(t *testing.T, b backend) {
	st := b.open(t)
	ctx := context.Background()
	if err := create(t, st, "k/live", content(14, 10), true); err != nil {
		t.Fatal(err)
	}
	b.leaveBehind(t, st, "k/crashed", 1100*time.Millisecond)
	if n, err := st.Cleanup(ctx, time.Hour); err != nil || n != 0 {
		t.Errorf("Cleanup(1h) = %d, %v; want 0 (the leftover is younger)", n, err)
	}
	if n, err := st.Cleanup(ctx, time.Second); err != nil || n != 1 {
		t.Errorf("Cleanup(1s) = %d, %v; want 1", n, err)
	}
	if n, err := st.Cleanup(ctx, 0); err != nil || n != 0 {
		t.Errorf("second Cleanup = %d, %v; want 0", n, err)
	}
	if got := readAll(t, st, "k/live"); !bytes.Equal(got, content(14, 10)) {
		t.Error("Cleanup touched an object")
	}
}
