//go:build linux

package backup

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/hotpipe/hotpipe/engine"
	"github.com/hotpipe/hotpipe/stream"
	"github.com/hotpipe/hotpipe/txframe"
)

// intoPipe runs Backup of db into a pipe read to its end by another
// goroutine, and returns what the pipe carried and how many bytes were
// spliced; the backup must succeed.
func intoPipe(t *testing.T, ctx context.Context, db *testDB, opts Options) ([]byte, int64, Result) {
	t.Helper()
	b, n, res, err := pipeBackup(t, ctx, db, opts)
	if err != nil {
		t.Fatalf("Backup into a pipe: %v", err)
	}
	return b, n, res
}

// pipeBackup is intoPipe, returning the backup's error.
func pipeBackup(t *testing.T, ctx context.Context, db *testDB, opts Options) ([]byte, int64, Result, error) {
	t.Helper()
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	got := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(pr)
		got <- b
	}()
	var spliced atomic.Int64
	opts.spliced = func(n int) { spliced.Add(int64(n)) }
	res, err := Backup(ctx, db.reader, pw, opts)
	if cerr := pw.Close(); err == nil {
		err = cerr
	}
	return <-got, spliced.Load(), res, err
}

// plainBytes is the backup of db into a buffer: the write path.
func plainBytes(t *testing.T, db *testDB, opts Options) []byte {
	t.Helper()
	var buf bytes.Buffer
	if _, err := Backup(context.Background(), db.reader, &buf, opts); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// sameStream requires two backups to hold the same bytes but for their
// headers' creation times (bytes 24..32, and so the header CRC, 136..140).
func sameStream(t *testing.T, what string, x, y []byte) {
	t.Helper()
	if len(x) < 140 || len(x) != len(y) || !bytes.Equal(x[:24], y[:24]) || !bytes.Equal(x[32:136], y[32:136]) || !bytes.Equal(x[140:], y[140:]) {
		t.Fatalf("%s: %d bytes differ from the plain path's %d beyond the creation time", what, len(x), len(y))
	}
}

// TestSpliceIsTheWritePathsBytes: a backup into a pipe splices its frame
// blocks from the segment files, and the pipe carries the bytes the write
// path makes of the same database and range: one small frame, many
// segments, a frame larger than the pipe, a start/end range, paced.
func TestSpliceIsTheWritePathsBytes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		n, size    int
		segSize    int64
		start, end uint64
		maxRate    float64
	}{
		{name: "one frame", n: 1, size: 10},
		{name: "one block", n: 200, size: 300},
		{name: "many segments", n: 300, size: 3000, segSize: 64 << 10},
		{name: "frame larger than the pipe", n: 3, size: 3 << 20},
		{name: "start and end", n: 300, size: 3000, segSize: 64 << 10, start: 57, end: 233},
		{name: "paced", n: 50, size: 1000, maxRate: 1 << 30},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			db := newDB(t, "foo", tt.n, tt.size, tt.segSize)
			opts := Options{Start: tt.start, End: tt.end, MaxRate: tt.maxRate}
			got, spliced, res := intoPipe(t, context.Background(), db, opts)
			if spliced != res.Bytes || spliced == 0 {
				t.Fatalf("%d of the %d frame bytes were spliced; want all", spliced, res.Bytes)
			}
			opts.plain = true
			sameStream(t, tt.name, got, plainBytes(t, db, opts))
			if r := readStream(got); r.err != nil || r.ends != 1 {
				t.Fatalf("the spliced stream reads as %+v", r)
			}
		})
	}
}

// TestSpliceFollows: a following backup into a pipe splices the commits it
// follows too, and ends with the bytes of a plain backup of the same range.
func TestSpliceFollows(t *testing.T) {
	t.Parallel()
	db := newDB(t, "foo", 20, 500, 32<<10)
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var spliced atomic.Int64
	type outcome struct {
		res Result
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		res, err := Backup(ctx, db.reader, pw, Options{Follow: true, spliced: func(n int) { spliced.Add(int64(n)) }})
		pw.Close()
		done <- outcome{res, err}
	}()
	var out bytes.Buffer
	r := stream.NewReader([]stream.Input{{Name: "pipe", R: io.TeeReader(pr, &out)}}, stream.Options{})
	committed := false
	for {
		ev, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if ev.Kind != stream.KindFrames {
			continue
		}
		if ev.Last == 20 && !committed {
			db.commit(t, 80, 700) // followed: across segment files
			committed = true
		}
		if ev.Last == 100 {
			cancel()
		}
	}
	if _, err := io.Copy(&out, pr); err != nil {
		t.Fatal(err)
	}
	got := <-done
	if got.err != nil || !got.res.Ended || got.res.Last != 100 {
		t.Fatalf("Backup = %v, %+v; want ended after LSN 100", got.err, got.res)
	}
	if spliced.Load() != got.res.Bytes {
		t.Fatalf("%d of %d frame bytes spliced", spliced.Load(), got.res.Bytes)
	}
	sameStream(t, "follow", out.Bytes(), plainBytes(t, db, Options{End: 100, plain: true}))
}

// TestSpliceFallsBack: outputs that are not a pipe, and encrypted ones, are
// written, never spliced, with the same stream.
func TestSpliceFallsBack(t *testing.T) {
	t.Parallel()
	db := newDB(t, "foo", 40, 2000, 0)
	never := func(int) { t.Error("spliced a block into an output that is not a plain pipe") }
	f, err := os.Create(t.TempDir() + "/out")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := Backup(context.Background(), db.reader, f, Options{spliced: never}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	sameStream(t, "regular file", b, plainBytes(t, db, Options{plain: true}))

	k := newKeys(t)
	_, spliced, res := intoPipe(t, context.Background(), db, Options{Recipients: k.recipients})
	if spliced != 0 || res.Frames != 40 {
		t.Fatalf("encrypted into a pipe: %d bytes spliced, %+v; want written, all 40 frames", spliced, res)
	}
}

// TestSpliceRefusedWrites: when the kernel refuses a splice (EINVAL, before
// or after part of a block moved), the rest of the block and every block
// after it are written from the checked buffer; a splice that fails
// otherwise is the write's error, and nothing of it is written again.
func TestSpliceRefusedWrites(t *testing.T) {
	t.Parallel()
	src, err := os.Open("/dev/null") // never read: the seam stands in for splice
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	tests := []struct {
		name    string
		moved   int   // bytes the failing splice moved
		err     error // its error
		wantErr error
		calls   int // splices tried over two blocks
	}{
		{name: "EINVAL at once", err: &os.SyscallError{Syscall: "splice", Err: syscall.EINVAL}, calls: 1},
		{name: "EINVAL after part", moved: 3, err: &os.SyscallError{Syscall: "splice", Err: syscall.EINVAL}, calls: 1},
		{name: "EIO", err: &os.SyscallError{Syscall: "splice", Err: syscall.EIO}, wantErr: syscall.EIO, calls: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			pr, pw, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			defer pr.Close()
			s := newSpliceOut(pw)
			if s == nil {
				t.Fatal("no splicer into a pipe")
			}
			calls := 0
			s.spliceFn = func(_ *os.File, _ int64, n int) (int, error) {
				calls++
				if tt.moved > 0 { // stands for the bytes splice moved
					if _, err := pw.Write(bytes.Repeat([]byte{'a'}, tt.moved)); err != nil {
						t.Fatal(err)
					}
				}
				return tt.moved, tt.err
			}
			got := make(chan []byte, 1)
			go func() { b, _ := io.ReadAll(pr); got <- b }()
			var errs []error
			for _, block := range [][]byte{[]byte("aaaaaaaaaa"), []byte("bbbbbbbbbb")} {
				s.offer(src, 0, block)
				_, err := s.Write(block)
				errs = append(errs, err)
				if err != nil {
					break
				}
			}
			pw.Close()
			b := <-got
			switch {
			case tt.wantErr != nil:
				if !errors.Is(errs[0], tt.wantErr) || len(b) != 0 {
					t.Fatalf("Write = %v after %q; want %v, nothing written", errs, b, tt.wantErr)
				}
			case errs[0] != nil || errs[1] != nil || string(b) != "aaaaaaaaaabbbbbbbbbb":
				t.Fatalf("Writes = %v, pipe carried %q; want both blocks whole", errs, b)
			}
			if calls != tt.calls {
				t.Fatalf("%d splices tried; want %d", calls, tt.calls)
			}
		})
	}
}

// TestSpliceFindsDamage: a frame damaged in its segment file stops a
// backup into a pipe as it stops the write path: the frames before it sent, no end record, and a *engine.CorruptionError naming the
// same file, offset and LSN, wrapping txframe.ErrChecksum.
func TestSpliceFindsDamage(t *testing.T) {
	t.Parallel()
	db := newDB(t, "foo", 40, 300, 0)
	r, err := db.reader.Frames(20, 20)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Next(); err != nil {
		t.Fatal(err)
	}
	f, off := r.BlockFile().Name(), func() int64 { _, o := r.Position(); return o }()
	r.Close()
	seg, err := os.OpenFile(f, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 1)
	if _, err := seg.ReadAt(b, off+100); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0x40
	if _, err := seg.WriteAt(b, off+100); err != nil {
		t.Fatal(err)
	}
	seg.Close()
	for _, tt := range []struct {
		name string
		opts Options
	}{{"spliced", Options{}}, {"written", Options{plain: true}}} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			out, _, _, err := pipeBackup(t, context.Background(), db, tt.opts)
			var ce *engine.CorruptionError
			if !errors.As(err, &ce) || ce.Path != f || ce.Offset != off || ce.LSN != 20 || !errors.Is(err, txframe.ErrChecksum) {
				t.Fatalf("Backup = %v; want a checksum CorruptionError at %s offset %d, LSN 20", err, f, off)
			}
			checkTruncatedAt(t, readStream(out), 19)
		})
	}
}
