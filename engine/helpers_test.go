package engine

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/hotpipe/hotpipe/txframe"
)

// newDB creates database "db" in a fresh directory and opens it for write.
func newDB(t *testing.T, opts Options, co CreateOptions) (*DB, string) {
	t.Helper()
	dir := t.TempDir()
	if _, err := Create(dir, "db", co); err != nil {
		t.Fatal(err)
	}
	db := reopen(t, dir, opts)
	return db, dir
}

func reopen(t *testing.T, dir string, opts Options) *DB {
	t.Helper()
	db, err := Open(dir, "db", opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func put(k, v string) txframe.Entry {
	return txframe.Entry{Op: txframe.OpPut, Key: []byte(k), Value: []byte(v)}
}

func del(k string) txframe.Entry { return txframe.Entry{Op: txframe.OpDelete, Key: []byte(k)} }

// commitN commits n one-put transactions k<i>=v<i>, i from first.
func commitN(t testing.TB, db *DB, first, n int) {
	t.Helper()
	for i := first; i < first+n; i++ {
		if _, err := db.Commit([]txframe.Entry{put(fmt.Sprintf("k%d", i), fmt.Sprintf("v%d", i))}); err != nil {
			t.Fatal(err)
		}
	}
}

func mustState(t *testing.T, db *DB) (uint64, txframe.Hash) {
	t.Helper()
	lsn, h, err := db.State()
	if err != nil {
		t.Fatal(err)
	}
	return lsn, h
}

func mustGet(t *testing.T, db *DB, k string) string {
	t.Helper()
	v, err := db.Get([]byte(k))
	if err != nil {
		t.Fatalf("Get(%q): %v", k, err)
	}
	return string(v)
}

// readAll returns the concatenated frames from..to as the reader yields them.
func readAll(t *testing.T, db *DB, from, to uint64) []byte {
	t.Helper()
	r, err := db.Frames(from, to)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var all []byte
	for {
		b, err := r.Next()
		if err == io.EOF {
			return all
		}
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, b...)
	}
}

func segPath(dir string, first uint64) string { return filepath.Join(dir, "db", segName(first)) }

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}
