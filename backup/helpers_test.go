package backup

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"testing"

	"github.com/hotpipe/hotpipe/engine"
	"github.com/hotpipe/hotpipe/stream"
	"github.com/hotpipe/hotpipe/txframe"
)

// testDB is a database for a test: a writer to commit with and a read-only
// handle to back up from, as hot-backup reads a database another process
// writes.
type testDB struct {
	dir    string
	writer *engine.DB
	reader *engine.DB
}

// newDB creates database name in a fresh directory with n transactions of
// a valueSize-byte value each, in segment files of segSize bytes (0: the
// default, so that every range is one block).
func newDB(t *testing.T, name string, n, valueSize int, segSize int64) *testDB {
	t.Helper()
	return newDBIn(t, t.TempDir(), name, engine.CreateOptions{SegmentSize: segSize}, n, valueSize)
}

// newDBIn creates database name in dir as co says, and commits n
// transactions to it.
func newDBIn(t *testing.T, dir, name string, co engine.CreateOptions, n, valueSize int) *testDB {
	t.Helper()
	if _, err := engine.Create(dir, name, co); err != nil {
		t.Fatal(err)
	}
	w, err := engine.Open(dir, name, engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	r, err := engine.Open(dir, name, engine.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	db := &testDB{dir: dir, writer: w, reader: r}
	db.commit(t, n, valueSize)
	return db
}

// commit commits n transactions of one put each.
func (db *testDB) commit(t *testing.T, n, valueSize int) {
	t.Helper()
	for range n {
		last, _, err := db.writer.State()
		if err != nil {
			t.Fatal(err)
		}
		key := fmt.Appendf(nil, "key:%06d", last+1)
		if _, err := db.writer.Commit([]txframe.Entry{{Op: txframe.OpPut, Key: key, Value: bytes.Repeat([]byte{'v'}, valueSize)}}); err != nil {
			t.Fatal(err)
		}
	}
}

// read is what a stream reader makes of a backup's output.
type read struct {
	first, last uint64 // the LSNs of the frames read
	frames      uint64
	ends        int   // end records read
	err         error // what stopped the reader; nil at a clean end
}

// readStream reads b as a stream to its end or its first error.
func readStream(b []byte) read {
	r := stream.NewReader([]stream.Input{{Name: "out", R: bytes.NewReader(b)}}, stream.Options{})
	var got read
	for {
		ev, err := r.Next()
		if err == io.EOF {
			return got
		}
		if err != nil {
			got.err = err
			return got
		}
		switch ev.Kind {
		case stream.KindFrames:
			if got.frames == 0 {
				got.first = ev.First
			}
			got.frames += ev.Last - ev.First + 1
			got.last = ev.Last
		case stream.KindEnd:
			got.ends++
		}
	}
}

// readFile reads the file at path as a stream.
func readFile(t *testing.T, path string) read {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return readStream(b)
}

// tailOf reads how a backup file ends.
func tailOf(t *testing.T, path string) stream.Tail {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	tail, err := stream.ReadTail(f, fi.Size(), path)
	if err != nil {
		t.Fatal(err)
	}
	return tail
}

// checkTruncatedAt requires got to be a stream cut at a frame boundary
// after LSN last: no end record, frames through last, and the reader
// stopped as at a truncated stream (an empty one if nothing was written).
func checkTruncatedAt(t *testing.T, got read, last uint64) {
	t.Helper()
	if got.ends != 0 || got.last != last || !errors.Is(got.err, stream.ErrTruncated) && !errors.Is(got.err, stream.ErrEmpty) {
		t.Fatalf("output reads as %+v; want truncated after LSN %d, without an end record", got, last)
	}
}
