//go:build linux

package backup

import (
	"context"
	"errors"
	"os"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/hotpipe/hotpipe/engine"
	"github.com/hotpipe/hotpipe/txframe"
)

// bigFrames is a database whose frames (about 200 KiB) fill a 1 MiB read
// block five at a time, so that a backup into a pipe splices several
// blocks, all after the first on the splicer's goroutine.
func bigFrames(t *testing.T) *testDB {
	t.Helper()
	return newDB(t, "foo", 30, 200<<10, 0)
}

// frameAt returns the segment file and offset of frame lsn.
func frameAt(t *testing.T, db *testDB, lsn uint64) (string, int64) {
	t.Helper()
	r, err := db.reader.Frames(lsn, lsn)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := r.Next(); err != nil {
		t.Fatal(err)
	}
	_, off := r.Position()
	return r.BlockFile().Name(), off
}

// flipByte damages one byte of a file.
func flipByte(t *testing.T, path string, off int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, off); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0x40
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

// countSplices wraps the splice call to count its calls, and lets fail
// replace the answer of call k (1-based); nil keeps it.
func countSplices(calls *atomic.Int64, fail func(k int64, src *os.File, off int64, n int) (int, error, bool)) func(func(*os.File, int64, int) (int, error)) func(*os.File, int64, int) (int, error) {
	return func(splice func(*os.File, int64, int) (int, error)) func(*os.File, int64, int) (int, error) {
		return func(src *os.File, off int64, n int) (int, error) {
			k := calls.Add(1)
			if fail != nil {
				if m, err, ok := fail(k, src, off, n); ok {
					return m, err
				}
			}
			return splice(src, off, n)
		}
	}
}

// TestSpliceAheadStopsAtDamage: a bad CRC in a later block stops a
// backup splicing ahead before any byte of the damaged frame leaves: the
// frames before it are in the pipe, all spliced, and nothing after them.
func TestSpliceAheadStopsAtDamage(t *testing.T) {
	t.Parallel()
	db := bigFrames(t)
	path, off := frameAt(t, db, 18)
	flipByte(t, path, off+1000)
	var calls atomic.Int64
	out, spliced, res, err := pipeBackup(t, context.Background(), db, Options{spliceWrap: countSplices(&calls, nil)})
	var ce *engine.CorruptionError
	if !errors.As(err, &ce) || ce.LSN != 18 || ce.Offset != off || !errors.Is(err, txframe.ErrChecksum) {
		t.Fatalf("Backup = %v; want a checksum CorruptionError at offset %d, LSN 18", err, off)
	}
	if calls.Load() < 3 || spliced != res.Bytes || res.Last != 17 {
		t.Fatalf("%d splices, %d of %d bytes spliced, Result %+v; want several splices, all bytes, through LSN 17", calls.Load(), spliced, res.Bytes, res)
	}
	checkTruncatedAt(t, readStream(out), 17)
}

// TestSpliceAheadFailure: a splice ahead that fails is the backup's
// error, returned by the next write; nothing is written after it, and the
// Result counts only the blocks before it.
func TestSpliceAheadFailure(t *testing.T) {
	t.Parallel()
	db := bigFrames(t)
	var calls atomic.Int64
	eio := func(k int64, _ *os.File, _ int64, _ int) (int, error, bool) {
		return 0, &os.SyscallError{Syscall: "splice", Err: syscall.EIO}, k == 3
	}
	out, spliced, res, err := pipeBackup(t, context.Background(), db, Options{spliceWrap: countSplices(&calls, eio)})
	if !errors.Is(err, syscall.EIO) || res.Ended || calls.Load() != 3 {
		t.Fatalf("Backup = %v, Result %+v after %d splices; want EIO after the third, no end record", err, res, calls.Load())
	}
	got := readStream(out)
	if res.Bytes != spliced || res.Last == 0 || res.Frames != res.Last {
		t.Fatalf("Result %+v, %d bytes spliced; want the two blocks spliced", res, spliced)
	}
	checkTruncatedAt(t, got, res.Last)
}

// TestSpliceAheadRefused: a splice ahead that the kernel refuses is
// written instead, from the block read and checked again (the reader's
// buffer has moved on): the same stream as the write path; and a block
// that no longer checks is not written at all.
func TestSpliceAheadRefused(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		damage bool // the refused block's file is damaged before it is read again
	}{
		{name: "written after a check"},
		{name: "damaged since the reader checked it", damage: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			db := bigFrames(t)
			var calls, asked atomic.Int64
			refuse := func(k int64, src *os.File, off int64, n int) (int, error, bool) {
				if k != 3 {
					asked.Add(int64(n)) // spliced whole
					return 0, nil, false
				}
				if tt.damage {
					flipByte(t, src.Name(), off+500)
				}
				return 0, &os.SyscallError{Syscall: "splice", Err: syscall.EINVAL}, true
			}
			out, spliced, res, err := pipeBackup(t, context.Background(), db, Options{spliceWrap: countSplices(&calls, refuse)})
			if tt.damage {
				if !errors.Is(err, txframe.ErrChecksum) || res.Ended || res.Bytes != spliced {
					t.Fatalf("Backup = %v, Result %+v, %d bytes spliced; want a checksum error, the spliced blocks counted", err, res, spliced)
				}
				checkTruncatedAt(t, readStream(out), res.Last)
				return
			}
			if err != nil || calls.Load() != 3 || spliced != asked.Load() || spliced >= res.Bytes {
				t.Fatalf("Backup = %v after %d splices, %d of %d bytes spliced; want the first two blocks' %d spliced, the rest written", err, calls.Load(), spliced, res.Bytes, asked.Load())
			}
			sameStream(t, tt.name, out, plainBytes(t, db, Options{plain: true}))
		})
	}
}

// TestSpliceAheadCancel: a backup cancelled while a block is spliced
// ahead waits for that splice, and leaves no splicing goroutine behind.
// Not parallel: it counts every splice ahead of the package.
func TestSpliceAheadCancel(t *testing.T) {
	db := bigFrames(t)
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	var calls atomic.Int64
	stop := func(k int64, _ *os.File, _ int64, _ int) (int, error, bool) {
		if k == 3 {
			cancel(errStop) // while this block is in flight
		}
		return 0, nil, false
	}
	out, spliced, res, err := pipeBackup(t, ctx, db, Options{spliceWrap: countSplices(&calls, stop)})
	if n := aheadRunning.Load(); n != 0 {
		t.Fatalf("%d splices ahead still running after Backup returned", n)
	}
	// The job checks its context after each block it hands over: it has
	// handed over the third, or the fourth while the third was in flight.
	if c := calls.Load(); !errors.Is(err, errStop) || res.Ended || res.Bytes != spliced || c != 3 && c != 4 {
		t.Fatalf("Backup = %v, Result %+v, %d bytes spliced in %d calls; want stopped after the third or fourth block, all counted", err, res, spliced, c)
	}
	checkTruncatedAt(t, readStream(out), res.Last)
}
