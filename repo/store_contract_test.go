package repo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// The cases of the Store contract, listed in contractCases and run by
// TestStoreContract against every backend.

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

func testLargeObject(t *testing.T, b backend) {
	st := b.open(t)
	// 10 MiB + 1: three parts on S3, two of 5 MiB and one of a byte.
	data := content(7, 10<<20+1)
	for _, known := range []bool{true, false} {
		name := fmt.Sprintf("big/known-%v", known)
		if err := create(t, st, name, data, known); err != nil {
			t.Fatalf("Create(%s): %v", name, err)
		}
		if got := readAll(t, st, name); !bytes.Equal(got, data) {
			t.Errorf("%s: read back differs", name)
		}
		if err := create(t, st, name, content(8, 6<<20), known); !errors.Is(err, ErrExist) {
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

func testFailingReader(t *testing.T, b backend) {
	st := b.open(t)
	for _, c := range []struct {
		name      string
		size, cut int
	}{
		{"small", 100 << 10, 50 << 10},
		{"after the first part", 6 << 20, 5<<20 + 1000}, // on S3, once part 1 is uploaded
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
	r := &cancelAfter{r: bytes.NewReader(content(6, 6<<20)), n: 5<<20 + 100<<10, cancel: cancel} // on S3, once part 1 is uploaded
	if err := st.Create(ctx, "c/y", r, -1); !errors.Is(err, context.Canceled) {
		t.Errorf("Create cancelled midway = %v, want context.Canceled", err)
	}
	assertNothingLeft(t, st)
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
	prefixes := []string{"", "a", "a/", "a/c", "a/c/", "a.", "z/x", "Z"}
	afters := []string{"", "a", "a-", "a.", "a/", "a/b", "a/c", "a/c/d", "a/c-", "a0", "b", "zz", "A", "Z/z"}
	for _, prefix := range prefixes {
		for _, after := range afters {
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
	b.leaveBehind(t, st, "k/crashed", 300*time.Millisecond)
	if n, err := st.Cleanup(ctx, time.Hour); err != nil || n != 0 {
		t.Errorf("Cleanup(1h) = %d, %v; want 0 (the leftover is younger)", n, err)
	}
	if n, err := st.Cleanup(ctx, 250*time.Millisecond); err != nil || n != 1 {
		t.Errorf("Cleanup(250ms) = %d, %v; want 1", n, err)
	}
	if n, err := st.Cleanup(ctx, 0); err != nil || n != 0 {
		t.Errorf("second Cleanup = %d, %v; want 0", n, err)
	}
	if got := readAll(t, st, "k/live"); !bytes.Equal(got, content(14, 10)) {
		t.Error("Cleanup touched an object")
	}
}
