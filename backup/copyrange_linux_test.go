//go:build linux

package backup

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"
)

// fileBytes backs db up into a new file with File, then, when more is
// set, Appends what db has after opts.End, and returns the file's bytes,
// how many frame bytes were copied by copy_file_range, and the length of
// what File wrote.
func fileBytes(t *testing.T, db *testDB, opts Options, more int) ([]byte, int64, int) {
	t.Helper()
	var copied atomic.Int64
	opts.spliced = func(n int) { copied.Add(int64(n)) }
	path := filepath.Join(t.TempDir(), "foo.backup")
	if res, err := File(context.Background(), db.reader, path, opts); err != nil || !res.Ended {
		t.Fatalf("File = %v, %+v", err, res)
	}
	first := len(readBytes(t, path))
	if more > 0 {
		opts.Start, opts.End = 0, 0
		if res, err := Append(context.Background(), db.reader, path, opts); err != nil || !res.Ended {
			t.Fatalf("Append = %v, %+v", err, res)
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b, copied.Load(), first
}

// TestCopyRangeIsTheWritePathsBytes: File and Append copy frame blocks
// file to file with copy_file_range, and the file holds the bytes the
// write path makes: a table over sizes, segments, a frame larger than a
// read block, a start/end range, and an Append after new commits.
func TestCopyRangeIsTheWritePathsBytes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		n, size    int
		segSize    int64
		start, end uint64
		more       int // commits between File and Append
	}{
		{name: "one frame", n: 1, size: 10},
		{name: "many segments", n: 300, size: 3000, segSize: 64 << 10},
		{name: "frame larger than a read block", n: 3, size: 3 << 20},
		{name: "start and end", n: 300, size: 3000, segSize: 64 << 10, start: 57, end: 233},
		{name: "append", n: 100, size: 2000, segSize: 64 << 10, more: 150},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			db := newDB(t, "foo", tt.n, tt.size, tt.segSize)
			opts := Options{Start: tt.start, End: tt.end}
			if tt.more > 0 {
				// both files are made as File then Append: commit once, back
				// up the first part, and append the rest
				db.commit(t, tt.more, tt.size)
				opts.End = uint64(tt.n)
			}
			got, copied, first := fileBytes(t, db, opts, tt.more)
			opts.plain = true
			want, none, _ := fileBytes(t, db, opts, tt.more)
			if copied == 0 || none != 0 {
				t.Fatalf("copy_file_range moved %d bytes, and %d on the plain path; want all, and none", copied, none)
			}
			if len(got) != len(want) || first > len(got) {
				t.Fatalf("%d bytes, want %d", len(got), len(want))
			}
			sameStream(t, tt.name, got[:first], want[:first])
			if tt.more > 0 { // the appended segment has a header of its own
				sameStream(t, tt.name+", appended", got[first:], want[first:])
			}
			if r := readStream(got); r.err != nil || r.ends != 1+min(tt.more, 1) {
				t.Fatalf("the copied file reads as %+v", r)
			}
		})
	}
}

// TestCopyRangeFaults: a copy_file_range that fails is a failed write: the
// backup fails, and a file File created is removed, one Append extended is
// cut back to what was durable; one the kernel refuses (EXDEV: another
// file system) is written instead, with the same bytes.
func TestCopyRangeFaults(t *testing.T) {
	t.Parallel()
	eio := func(*os.File, int64, int) (int, error) {
		return 0, &os.SyscallError{Syscall: "copy_file_range", Err: syscall.EIO}
	}
	exdev := func(*os.File, int64, int) (int, error) {
		return 0, &os.SyscallError{Syscall: "copy_file_range", Err: syscall.EXDEV}
	}
	t.Run("File, EIO", func(t *testing.T) {
		t.Parallel()
		db := newDB(t, "foo", 30, 500, 0)
		path := filepath.Join(t.TempDir(), "foo.backup")
		res, err := File(context.Background(), db.reader, path, Options{copyRange: eio})
		var fe *FileError
		if !errors.As(err, &fe) || fe.State != Removed || !errors.Is(err, syscall.EIO) || res.Ended {
			t.Fatalf("File = %v, %+v; want EIO, the file removed", err, res)
		}
		if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("after a failed copy the file is there: %v", err)
		}
	})
	t.Run("Append, EIO", func(t *testing.T) {
		t.Parallel()
		db := newDB(t, "foo", 30, 500, 0)
		path := filepath.Join(t.TempDir(), "foo.backup")
		if _, err := File(context.Background(), db.reader, path, Options{}); err != nil {
			t.Fatal(err)
		}
		before := readBytes(t, path)
		db.commit(t, 20, 500)
		res, err := Append(context.Background(), db.reader, path, Options{copyRange: eio})
		var fe *FileError
		if !errors.As(err, &fe) || fe.State != CutBack || fe.Size != int64(len(before)) || fe.Last != 30 || res.Ended {
			t.Fatalf("Append = %v, %+v; want EIO, the file cut back to its %d bytes through LSN 30", err, res, len(before))
		}
		if got := readBytes(t, path); string(got) != string(before) {
			t.Fatalf("after a failed copy the file is %d bytes, not the %d it was", len(got), len(before))
		}
	})
	t.Run("File, EXDEV", func(t *testing.T) {
		t.Parallel()
		db := newDB(t, "foo", 30, 500, 0)
		got, copied, _ := fileBytes(t, db, Options{copyRange: exdev}, 0)
		want, _, _ := fileBytes(t, db, Options{plain: true}, 0)
		if copied != 0 {
			t.Fatalf("%d bytes counted as copied by a refused copy_file_range", copied)
		}
		sameStream(t, "EXDEV", got, want)
	})
}
