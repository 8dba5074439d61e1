package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hotpipe/hotpipe/txframe"
)

func TestValidateName(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
	}{
		{name: "foo", ok: true},
		{name: "a", ok: true},
		{name: "0db_1-x", ok: true},
		{name: strings.Repeat("a", 63), ok: true},
		{name: strings.Repeat("a", 64)},
		{name: ""},
		{name: ".."},
		{name: ".hidden"},
		{name: "a/b"},
		{name: "../x"},
		{name: "a\x00b"},
		{name: "Foo"},
		{name: "-x"},
		{name: "_x"},
		{name: "ünï"},
		{name: "a b"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%q", tt.name), func(t *testing.T) {
			err := ValidateName(tt.name)
			if tt.ok != (err == nil) {
				t.Fatalf("ValidateName(%q) = %v, want ok=%v", tt.name, err, tt.ok)
			}
			if err != nil && !errors.Is(err, ErrInvalidName) {
				t.Fatalf("error %v is not ErrInvalidName", err)
			}
		})
	}
}

func TestInvalidNameTouchesNoFile(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	for _, name := range []string{"../escape", ".hidden", "a/b"} {
		if _, err := Create(data, name, CreateOptions{}); !errors.Is(err, ErrInvalidName) {
			t.Fatalf("Create(%q) = %v, want ErrInvalidName", name, err)
		}
		if _, err := Open(data, name, Options{}); !errors.Is(err, ErrInvalidName) {
			t.Fatalf("Open(%q) = %v, want ErrInvalidName", name, err)
		}
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Fatalf("invalid names created %v", ents)
	}
}

func TestCreateListAndModes(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"b", "a"} {
		if _, err := Create(dir, n, CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := Create(dir, "a", CreateOptions{}); !errors.Is(err, ErrExists) {
		t.Fatalf("second Create = %v, want ErrExists", err)
	}
	names, err := List(dir)
	if err != nil || strings.Join(names, ",") != "a,b" {
		t.Fatalf("List = %v, %v", names, err)
	}
	if fi, _ := os.Stat(filepath.Join(dir, "a")); fi.Mode().Perm() != dirMode {
		t.Fatalf("database dir mode %v, want %v", fi.Mode().Perm(), os.FileMode(dirMode))
	}
	for _, f := range []string{metaFile, durableFile, segName(1)} {
		if fi, _ := os.Stat(filepath.Join(dir, "a", f)); fi.Mode().Perm() != fileMode {
			t.Fatalf("%s mode %v, want %v", f, fi.Mode().Perm(), os.FileMode(fileMode))
		}
	}
	if _, err := Open(dir, "zzz", Options{}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Open missing = %v, want ErrNotFound", err)
	}
}

func TestCreateKeepsGivenOriginAndReplica(t *testing.T) {
	o := NewOrigin()
	db, _ := newDB(t, Options{}, CreateOptions{Origin: o, Replica: true})
	m, _ := db.Meta()
	if m.Origin != o || !m.Replica {
		t.Fatalf("meta = %+v, want origin %s replica", m, o)
	}
}

func TestCommitGetScanDelete(t *testing.T) {
	db, _ := newDB(t, Options{}, CreateOptions{})
	lsn, err := db.Commit([]txframe.Entry{put("user:1", "alice"), put("user:2", "bob"), put("zz", "")})
	if err != nil || lsn != 1 {
		t.Fatalf("Commit = %d, %v", lsn, err)
	}
	if _, err := db.Commit([]txframe.Entry{put("user:1", "alicia"), del("user:2")}); err != nil {
		t.Fatal(err)
	}
	if got := mustGet(t, db, "user:1"); got != "alicia" {
		t.Fatalf("user:1 = %q", got)
	}
	if _, err := db.Get([]byte("user:2")); !errors.Is(err, ErrKeyNotFound) {
		t.Fatalf("deleted key: %v", err)
	}
	if got := mustGet(t, db, "zz"); got != "" {
		t.Fatalf("empty value = %q", got)
	}
	var seen []string
	err = db.Scan([]byte("user:"), func(k, v []byte) error { seen = append(seen, string(k)+"="+string(v)); return nil })
	if err != nil || strings.Join(seen, ",") != "user:1=alicia" {
		t.Fatalf("Scan = %v, %v", seen, err)
	}
	if _, err := db.Commit(nil); !errors.Is(err, txframe.ErrMalformed) {
		t.Fatalf("empty transaction: %v", err)
	}
	if lsn, _ := mustState(t, db); lsn != 2 {
		t.Fatalf("a refused commit took an LSN: last %d", lsn)
	}
}

func TestReopenKeepsStateAcrossSegments(t *testing.T) {
	db, dir := newDB(t, Options{SegmentSize: 1024}, CreateOptions{})
	commitN(t, db, 0, 200)
	lsn, h := mustState(t, db)
	db.Close()
	segs, _ := listSegments(filepath.Join(dir, "db"))
	if len(segs) < 10 {
		t.Fatalf("1 KiB segments: got %d segments for 200 frames", len(segs))
	}
	for i := 1; i < len(segs); i++ {
		if size := fileSize(t, segPath(dir, segs[i-1])); size > 1024 {
			t.Fatalf("segment %d is %d bytes, over the 1024 limit", segs[i-1], size)
		}
	}
	db = reopen(t, dir, Options{SegmentSize: 1024})
	if l, h2 := mustState(t, db); l != lsn || h2 != h {
		t.Fatalf("reopened at %d %s, want %d %s", l, h2, lsn, h)
	}
	if n, err := db.Check(); err != nil || n != 200 {
		t.Fatalf("Check = %d, %v", n, err)
	}
	commitN(t, db, 200, 10)
	if got := mustGet(t, db, "k5"); got != "v5" {
		t.Fatalf("k5 = %q", got)
	}
	if got := mustGet(t, db, "k205"); got != "v205" {
		t.Fatalf("k205 = %q", got)
	}
}

func TestHashAtMatchesChain(t *testing.T) {
	db, _ := newDB(t, Options{SegmentSize: 2048}, CreateOptions{})
	var hashes []txframe.Hash
	for i := 0; i < 50; i++ {
		commitN(t, db, i, 1)
		_, h := mustState(t, db)
		hashes = append(hashes, h)
	}
	if h, err := db.HashAt(0); err != nil || h != (txframe.Hash{}) {
		t.Fatalf("HashAt(0) = %s, %v", h, err)
	}
	for i, want := range hashes {
		if got, err := db.HashAt(uint64(i + 1)); err != nil || got != want {
			t.Fatalf("HashAt(%d) = %s, %v; want %s", i+1, got, err, want)
		}
	}
	if _, err := db.HashAt(51); !errors.Is(err, ErrLSNRange) {
		t.Fatalf("HashAt past the end: %v", err)
	}
}

func TestFramesRanges(t *testing.T) {
	db, _ := newDB(t, Options{SegmentSize: 700}, CreateOptions{})
	commitN(t, db, 0, 30)
	all := readAll(t, db, 1, 0)
	tests := []struct {
		name     string
		from, to uint64
		want     []uint64 // first and last LSN, or nil for none
		err      error
	}{
		{name: "everything", from: 1, to: 0, want: []uint64{1, 30}},
		{name: "middle across segments", from: 7, to: 23, want: []uint64{7, 23}},
		{name: "one frame", from: 30, to: 30, want: []uint64{30, 30}},
		{name: "empty range after the end", from: 31, to: 30},
		{name: "LSN 0", from: 0, to: 3, err: ErrLSNRange},
		{name: "past the end", from: 5, to: 31, err: ErrLSNRange},
		{name: "beyond empty", from: 32, to: 30, err: ErrLSNRange},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := db.Frames(tt.from, tt.to)
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("err = %v, want %v", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			r.Close()
			got := readAll(t, db, tt.from, tt.to)
			lsns := frameLSNs(t, got)
			if tt.want == nil {
				if len(lsns) != 0 {
					t.Fatalf("got LSNs %v, want none", lsns)
				}
				return
			}
			if lsns[0] != tt.want[0] || lsns[len(lsns)-1] != tt.want[1] || len(lsns) != int(tt.want[1]-tt.want[0]+1) {
				t.Fatalf("got LSNs %v, want %d..%d", lsns, tt.want[0], tt.want[1])
			}
			if !bytes.Contains(all, got) {
				t.Fatal("frames differ from the full read")
			}
		})
	}
}

func frameLSNs(t *testing.T, b []byte) []uint64 {
	t.Helper()
	var lsns []uint64
	for len(b) > 0 {
		h, err := txframe.Peek(b)
		if err != nil {
			t.Fatal(err)
		}
		lsns = append(lsns, h.LSN)
		b = b[h.Len:]
	}
	return lsns
}

func TestCommitTimesNeverDecrease(t *testing.T) {
	clock := time.Unix(1000, 0)
	db, _ := newDB(t, Options{Now: func() time.Time { clock = clock.Add(-time.Second); return clock }}, CreateOptions{})
	commitN(t, db, 0, 5)
	var last int64
	for _, f := range splitFrames(t, readAll(t, db, 1, 0)) {
		fr, _, err := txframe.Decode(f)
		if err != nil {
			t.Fatal(err)
		}
		if fr.Time < last {
			t.Fatalf("LSN %d time %d < %d", fr.LSN, fr.Time, last)
		}
		last = fr.Time
	}
}

func splitFrames(t *testing.T, b []byte) [][]byte {
	t.Helper()
	var out [][]byte
	for len(b) > 0 {
		n, err := txframe.FrameLen(b)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b[:n])
		b = b[n:]
	}
	return out
}

func TestGroupCommitConcurrent(t *testing.T) {
	db, dir := newDB(t, Options{SegmentSize: 4096}, CreateOptions{})
	const workers, each = 16, 100
	var wg sync.WaitGroup
	lsns := make(chan uint64, workers*each)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				lsn, err := db.Commit([]txframe.Entry{put(fmt.Sprintf("w%d-%d", w, i), "x")})
				if err != nil {
					t.Error(err)
					return
				}
				lsns <- lsn
			}
		}()
	}
	wg.Wait()
	close(lsns)
	seen := make(map[uint64]bool)
	for l := range lsns {
		if seen[l] {
			t.Fatalf("LSN %d acknowledged twice", l)
		}
		seen[l] = true
	}
	if len(seen) != workers*each {
		t.Fatalf("%d LSNs, want %d", len(seen), workers*each)
	}
	for l := uint64(1); l <= workers*each; l++ {
		if !seen[l] {
			t.Fatalf("LSN %d never acknowledged", l)
		}
	}
	db.Close()
	db = reopen(t, dir, Options{SegmentSize: 4096})
	if n, err := db.Check(); err != nil || n != workers*each {
		t.Fatalf("Check = %d, %v", n, err)
	}
}

func TestSecondWriterIsRefused(t *testing.T) {
	db, dir := newDB(t, Options{}, CreateOptions{})
	_, err := Open(dir, "db", Options{})
	var le *LockedError
	if !errors.As(err, &le) || !errors.Is(err, ErrLocked) {
		t.Fatalf("second Open = %v, want *LockedError", err)
	}
	host, _ := os.Hostname()
	if le.Holder.PID != os.Getpid() || le.Holder.Host != host {
		t.Fatalf("holder = %+v, want pid %d on %s", le.Holder, os.Getpid(), host)
	}
	if h, held, err := LockHolder(dir, "db"); err != nil || !held || h.PID != os.Getpid() {
		t.Fatalf("LockHolder = %+v %v %v", h, held, err)
	}
	ro, err := Open(dir, "db", Options{ReadOnly: true})
	if err != nil {
		t.Fatalf("read-only open beside a writer: %v", err)
	}
	ro.Close()
	db.Close()
	if _, held, _ := LockHolder(dir, "db"); held {
		t.Fatal("lock still held after Close")
	}
	db2 := reopen(t, dir, Options{})
	db2.Close()
}

func TestReadOnlyHandleRefusesWrites(t *testing.T) {
	db, dir := newDB(t, Options{}, CreateOptions{})
	commitN(t, db, 0, 3)
	ro := reopen(t, dir, Options{ReadOnly: true})
	for name, err := range map[string]error{
		"Commit":     func() error { _, err := ro.Commit([]txframe.Entry{put("a", "b")}); return err }(),
		"Apply":      func() error { _, err := ro.Apply(nil); return err }(),
		"SetReplica": ro.SetReplica(true),
	} {
		if !errors.Is(err, ErrReadOnly) {
			t.Errorf("%s on a read-only handle = %v, want ErrReadOnly", name, err)
		}
	}
	if lsn, _ := mustState(t, ro); lsn != 3 {
		t.Fatalf("read-only State LSN %d, want 3", lsn)
	}
}

func TestClosedHandle(t *testing.T) {
	db, _ := newDB(t, Options{}, CreateOptions{})
	db.Close()
	if _, err := db.Commit([]txframe.Entry{put("a", "b")}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Commit after Close = %v", err)
	}
	if err := db.Close(); err != nil {
		t.Fatalf("second Close = %v", err)
	}
}

func TestGetsInterleavedWithCommitsAcrossSegments(t *testing.T) {
	db, _ := newDB(t, Options{SegmentSize: 300}, CreateOptions{})
	for i := 0; i < 60; i++ {
		commitN(t, db, i, 1)
		if _, err := db.Commit([]txframe.Entry{put("latest", fmt.Sprint(i))}); err != nil {
			t.Fatal(err)
		}
		if got := mustGet(t, db, "latest"); got != fmt.Sprint(i) {
			t.Fatalf("after commit %d: latest = %q", i, got)
		}
		if got := mustGet(t, db, fmt.Sprintf("k%d", i/2)); got != fmt.Sprintf("v%d", i/2) {
			t.Fatalf("k%d = %q", i/2, got)
		}
	}
}

func TestWaitDurable(t *testing.T) {
	db, dir := newDB(t, Options{}, CreateOptions{})
	commitN(t, db, 0, 2)
	ro := reopen(t, dir, Options{ReadOnly: true})
	if lsn, err := ro.WaitDurable(context.Background(), 1, time.Hour); err != nil || lsn != 2 {
		t.Fatalf("already past: %d, %v", lsn, err)
	}
	if lsn, err := ro.WaitDurable(context.Background(), 2, 20*time.Millisecond); err != nil || lsn != 2 {
		t.Fatalf("timeout: %d, %v", lsn, err)
	}
	go func() {
		time.Sleep(20 * time.Millisecond)
		commitN(t, db, 2, 1)
	}()
	if lsn, err := ro.WaitDurable(context.Background(), 2, time.Minute); err != nil || lsn != 3 {
		t.Fatalf("woken by a commit: %d, %v", lsn, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if lsn, err := ro.WaitDurable(ctx, 3, time.Minute); err != nil || lsn != 3 {
		t.Fatalf("cancelled: %d, %v", lsn, err)
	}
}

// TestLockSurvivesItsFile: the writer lock is on the database directory, so
// removing or replacing LOCK while a writer holds it lets no second writer
// in; the holder is still reported once the label is written again.
func TestLockSurvivesItsFile(t *testing.T) {
	for _, tt := range []struct {
		name   string
		tamper func(path string) error
	}{
		{"LOCK removed", os.Remove},
		{"LOCK replaced by an unlocked file", func(p string) error {
			if err := os.Remove(p); err != nil {
				return err
			}
			return os.WriteFile(p, nil, 0o600)
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			db, dir := newDB(t, Options{}, CreateOptions{})
			defer db.Close()
			if err := tt.tamper(filepath.Join(dir, "db", lockFile)); err != nil {
				t.Fatal(err)
			}
			if _, err := Open(dir, "db", Options{}); !errors.Is(err, ErrLocked) {
				t.Fatalf("second Open after %s = %v, want ErrLocked", tt.name, err)
			}
			if _, held, err := LockHolder(dir, "db"); err != nil || !held {
				t.Fatalf("LockHolder = %v, %v; want held", held, err)
			}
			commitN(t, db, 0, 1) // the first writer goes on undisturbed
		})
	}
}
