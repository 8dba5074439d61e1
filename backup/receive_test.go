package backup

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/hotpipe/hotpipe/engine"
	"github.com/hotpipe/hotpipe/stream"
	"github.com/hotpipe/hotpipe/txframe"
)

// errBroke is a connection that broke, as a server's client reports it.
var errBroke = fmt.Errorf("the connection broke: %w", stream.ErrTruncated)

// served is a Source of db, as a server serves it: the stream Backup
// writes after the LSN asked for. cut > 0 breaks it after that many bytes
// with errBroke, cut < 0 that many bytes before its end; damage flips the
// byte at that offset.
type served struct {
	db          *engine.DB
	cut, damage int
	opened      []uint64 // the LSNs asked after
}

func (s *served) open(ctx context.Context, after uint64) (io.ReadCloser, error) {
	s.opened = append(s.opened, after)
	var b bytes.Buffer
	if _, err := Backup(ctx, s.db, &b, Options{Start: after + 1}); err != nil {
		return nil, err
	}
	out := b.Bytes()
	if s.damage > 0 {
		out[s.damage] ^= 0x40
	}
	if s.cut < 0 {
		s.cut += len(out)
	}
	if s.cut > 0 {
		return io.NopCloser(io.MultiReader(bytes.NewReader(out[:min(s.cut, len(out))]), errReader{errBroke})), nil
	}
	return io.NopCloser(bytes.NewReader(out)), nil
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// TestFileFrom makes a backup file from a served stream: the same file a
// local backup makes, but for the header's creation time.
func TestFileFrom(t *testing.T) {
	t.Parallel()
	db := newDB(t, "foo", 50, 300, 0)
	for _, start := range []uint64{0, 21} {
		t.Run(fmt.Sprintf("start %d", start), func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "foo.backup")
			src := &served{db: db.reader}
			res, err := FileFrom(context.Background(), "foo", src.open, path, Options{Start: start})
			first := max(start, 1)
			if err != nil || res.First != first || res.Last != 50 || res.End != 50 || res.Frames != 51-first || !res.Ended {
				t.Fatalf("FileFrom = %v, Result %+v; want LSN %d..50, ended", err, res, first)
			}
			if got := readFile(t, path); got.err != nil || got.ends != 1 || got.first != first || got.last != 50 {
				t.Fatalf("the file reads as %+v; want LSN %d..50 in one segment", got, first)
			}
			local := filepath.Join(t.TempDir(), "local.backup")
			if _, err := File(context.Background(), db.reader, local, Options{Start: start}); err != nil {
				t.Fatal(err)
			}
			sameButCreated(t, path, local)
			if _, err := FileFrom(context.Background(), "foo", src.open, path, Options{}); !errors.Is(err, fs.ErrExist) {
				t.Fatalf("FileFrom of an existing file = %v, want fs.ErrExist", err)
			}
		})
	}
}

// sameButCreated requires two backup files to hold the same bytes but for
// their headers' creation times.
func sameButCreated(t *testing.T, a, b string) {
	t.Helper()
	x, err := os.ReadFile(a)
	if err != nil {
		t.Fatal(err)
	}
	y, err := os.ReadFile(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(x) != len(y) || !bytes.Equal(x[:24], y[:24]) || !bytes.Equal(x[32:136], y[32:136]) || !bytes.Equal(x[140:], y[140:]) {
		t.Fatalf("%s (%d bytes) differs from %s (%d bytes) beyond the creation time", a, len(x), b, len(y))
	}
}

// TestAppendFrom adds to backup files in each state Append meets, from a
// served stream: asked for what comes after the file's last LSN, it makes
// the file Append would.
func TestAppendFrom(t *testing.T) {
	t.Parallel()
	tests := appendCases
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			db := newDB(t, "foo", 50, 300, 0)
			path := filepath.Join(t.TempDir(), "foo.backup")
			var before stream.Tail
			var was []byte
			if tt.setup != nil {
				tt.setup(t, db, path)
				before = tailOf(t, path)
				was = readBytes(t, path)
			}
			var told []Repair
			src := &served{db: db.reader}
			res, err := AppendFrom(context.Background(), "foo", src.open, path, Options{Repaired: func(r Repair) { told = append(told, r) }})
			if err != nil || res.First != tt.first || res.Last != 50 || res.UpToDate != tt.upToDate || res.Ended == tt.upToDate {
				t.Fatalf("AppendFrom = %v, Result %+v; want LSN %d..50 (up to date: %v)", err, res, tt.first, tt.upToDate)
			}
			if len(src.opened) != 1 || src.opened[0] != tt.first-1 {
				t.Fatalf("the source was asked for the frames after %v, want after %d", src.opened, tt.first-1)
			}
			checkRepair(t, path, before, tt.repaired, res.Repaired, told)
			if got := readFile(t, path); got.err != nil || got.ends != tt.segments || got.first != 1 || got.last != 50 {
				t.Fatalf("the file reads as %+v; want LSN 1..50 in %d segment(s)", got, tt.segments)
			}
			if tt.upToDate && !bytes.Equal(readBytes(t, path), was) {
				t.Fatal("an up-to-date file was changed")
			}
		})
	}
}

func readBytes(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestAppendFromAnotherHistory: a file the stream does not continue (a
// backup of another database, or one past the database's end) is refused
// as another history, and left untouched, torn tail and all; a refused
// append to a missing file leaves no file.
func TestAppendFromAnotherHistory(t *testing.T) {
	t.Parallel()
	db := newDB(t, "foo", 50, 300, 0)
	other := newDB(t, "foo", 60, 300, 0) // the same name, another origin
	short := newDB(t, "foo", 20, 300, 0)
	for _, c := range []struct {
		name  string
		setup func(t *testing.T, db *testDB, path string)
		src   *testDB
	}{
		{"another origin", backupTo(50), other},
		{"another origin, torn", tornBackup, other},
		{"past the database's end", backupTo(50), short},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "foo.backup")
			c.setup(t, db, path)
			was := readBytes(t, path)
			src := &served{db: c.src.reader}
			_, err := AppendFrom(context.Background(), "foo", src.open, path, Options{})
			if !errors.Is(err, txframe.ErrHistory) {
				t.Fatalf("AppendFrom = %v, want ErrHistory", err)
			}
			if !bytes.Equal(readBytes(t, path), was) {
				t.Fatal("the refused file was changed")
			}
		})
	}
	t.Run("a missing file and a missing database", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "foo.backup")
		src := func(context.Context, uint64) (io.ReadCloser, error) { return nil, engine.ErrNotFound }
		if _, err := AppendFrom(context.Background(), "foo", src, path, Options{}); !errors.Is(err, engine.ErrNotFound) {
			t.Fatalf("AppendFrom = %v, want the source's error", err)
		}
		if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("the refused backup left %s (%v)", path, err)
		}
	})
}

// TestReceiveBreaks: a stream that breaks inside a frame, or brings a
// damaged frame, leaves a file of the whole frames checked before it,
// fsynced and without an end record (a *FileError, Incomplete, wrapping
// the cause), and AppendFrom completes it without a repair.
func TestReceiveBreaks(t *testing.T) {
	t.Parallel()
	db := newDB(t, "foo", 50, 300, 0)
	frame := (19270 - stream.HeaderSize) / 50 // about a frame's bytes
	for _, c := range []struct {
		name        string
		cut, damage int
		cause       error
	}{
		{"broken inside frame 1", stream.HeaderSize + 20, 0, stream.ErrTruncated},
		{"broken inside frame 20", stream.HeaderSize + 19*frame + 30, 0, stream.ErrTruncated},
		{"broken inside the end record", -40, 0, stream.ErrTruncated},
		{"frame 20 damaged", 0, stream.HeaderSize + 19*frame + 100, txframe.ErrChecksum},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "foo.backup")
			src := &served{db: db.reader, cut: c.cut, damage: c.damage}
			res, err := FileFrom(context.Background(), "foo", src.open, path, Options{})
			var fe *FileError
			if !errors.As(err, &fe) || fe.State != Incomplete || !errors.Is(err, c.cause) || res.Ended || fe.Last != res.Last {
				t.Fatalf("FileFrom = %v, Result %+v; want Incomplete, wrapping %v", err, res, c.cause)
			}
			if c.cut > 0 && !errors.Is(err, errBroke) {
				t.Fatalf("FileFrom = %v, want the source's own error", err)
			}
			checkTruncatedAt(t, readFile(t, path), res.Last)
			if tail := tailOf(t, path); tail.Torn != 0 || tail.Last != res.Last || tail.Complete {
				t.Fatalf("the file's tail is %+v; want whole frames through LSN %d", tail, res.Last)
			}
			res, err = AppendFrom(context.Background(), "foo", (&served{db: db.reader}).open, path, Options{})
			if err != nil || res.Repaired != nil || !res.Ended || res.Last != 50 {
				t.Fatalf("AppendFrom after the break = %v, Result %+v", err, res)
			}
			if got := readFile(t, path); got.err != nil || got.ends != 1 || got.first != 1 || got.last != 50 {
				t.Fatalf("the resumed file reads as %+v; want LSN 1..50 in one segment", got)
			}
		})
	}
}

// TestReceiveFaults: a failed write or fsync of a received file takes it
// back as File's and Append's are: removed when the run created it, cut
// back to what was durable when not.
func TestReceiveFaults(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name                string
		setup               func(t *testing.T, db *testDB, path string)
		failWrite, failSync int
		cause               error
		state               FileState
	}{
		{name: "FileFrom: a write fails half-way", failWrite: 2, cause: syscall.ENOSPC, state: Removed},
		{name: "FileFrom: the final fsync fails", failSync: 1, cause: syscall.EIO, state: Removed},
		{name: "AppendFrom a complete file: the end record's write fails", setup: backupTo(20), failWrite: 3, cause: syscall.ENOSPC, state: CutBack},
		{name: "AppendFrom a torn file: the final fsync fails", setup: tornBackup, failSync: 2, cause: syscall.EIO, state: CutBack},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			db := newDB(t, "foo", 50, 300, 0)
			path := filepath.Join(t.TempDir(), "foo.backup")
			do := FileFrom
			var before stream.Tail
			if c.setup != nil {
				c.setup(t, db, path)
				before, do = tailOf(t, path), AppendFrom
			}
			res, err := do(context.Background(), "foo", (&served{db: db.reader}).open, path, Options{file: faults(c.failWrite, c.failSync)})
			var fe *FileError
			if !errors.As(err, &fe) || fe.State != c.state || !errors.Is(err, c.cause) || res.Ended {
				t.Fatalf("= %v (Result %+v); want a *FileError of state %d wrapping %v", err, res, c.state, c.cause)
			}
			if c.state == Removed {
				if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
					t.Fatalf("%s is still there (%v)", path, err)
				}
				return
			}
			checkTakenBack(t, db, path, before, fe)
		})
	}
}

// TestReceiveStopped: a plain run stopped by its context leaves whole
// frames and no end record, an error that is context.Canceled; a following
// one stopped ends with its end record and no error, as locally.
func TestReceiveStopped(t *testing.T) {
	t.Parallel()
	db := newDB(t, "foo", 50, 300, 0)
	for _, follow := range []bool{false, true} {
		t.Run(fmt.Sprintf("follow %v", follow), func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			pr, pw := io.Pipe()
			src := func(ctx context.Context, after uint64) (io.ReadCloser, error) {
				go func() { // the pipe stays open after the end record: the stream waits for more
					_, _ = Backup(context.Background(), db.reader, pw, Options{Start: after + 1, End: 30})
				}()
				return &cancelled{ctx: ctx, r: pr}, nil
			}
			path := filepath.Join(t.TempDir(), "foo.backup")
			opts := Options{Follow: follow, SyncEvery: time.Millisecond, Progress: func(p Progress) {
				if p.Last >= 30 {
					cancel()
				}
			}}
			res, err := FileFrom(ctx, "foo", src, path, opts)
			pw.Close()
			got := readFile(t, path)
			if follow {
				if err != nil || !res.Ended || got.err != nil || got.last != res.Last || got.ends != 1 {
					t.Fatalf("following FileFrom stopped = %v, Result %+v, file %+v; want it ended", err, res, got)
				}
				return
			}
			var fe *FileError
			if !errors.Is(err, context.Canceled) || !errors.As(err, &fe) || fe.State != Incomplete || res.Ended {
				t.Fatalf("FileFrom stopped = %v, Result %+v; want Incomplete, context.Canceled", err, res)
			}
			checkTruncatedAt(t, got, res.Last)
		})
	}
}

// cancelled reads r until ctx is done, as a request's body does.
type cancelled struct {
	ctx context.Context
	r   io.Reader
}

func (c *cancelled) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

func (c *cancelled) Close() error { return nil }

// syncSeen tells of each fsync of a backup file, with the file's length.
type syncSeen struct {
	syncWriter
	f     *os.File
	syncs chan int64
}

func (s *syncSeen) Sync() error {
	err := s.syncWriter.Sync()
	fi, serr := s.f.Stat()
	if err == nil && serr == nil {
		s.syncs <- fi.Size()
	}
	return err
}

// TestReceiveFollowSyncsWhileIdle: a following run fsyncs what it has
// written while its source is idle, not only when the next bytes come:
// the frames received are durable within SyncEvery however long the
// database waits for its next commit.
func TestReceiveFollowSyncsWhileIdle(t *testing.T) {
	t.Parallel()
	db := newDB(t, "foo", 20, 300, 0)
	var b bytes.Buffer
	if _, err := Backup(context.Background(), db.reader, &b, Options{}); err != nil {
		t.Fatal(err)
	}
	open := b.Bytes()[:b.Len()-stream.EndSize] // a following stream, waiting for commits
	pr, pw := io.Pipe()
	go func() { _, _ = pw.Write(open) }() // and never more
	src := func(ctx context.Context, after uint64) (io.ReadCloser, error) {
		return &cancelled{ctx: ctx, r: pr}, nil
	}
	syncs := make(chan int64, 100)
	seam := func(f *os.File) syncWriter { return &syncSeen{syncWriter: f, f: f, syncs: syncs} }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	path := filepath.Join(t.TempDir(), "foo.backup")
	go func() {
		_, err := FileFrom(ctx, "foo", src, path, Options{Follow: true, SyncEvery: 20 * time.Millisecond, file: seam})
		done <- err
	}()
	for size := range syncs {
		if size == int64(len(open)) {
			break // all 20 frames durable while the source says nothing more
		}
	}
	cancel()
	pw.CloseWithError(context.Canceled) // the request's body ends with its context
	if err := <-done; err != nil {
		t.Fatalf("following FileFrom = %v", err)
	}
	if got := readFile(t, path); got.err != nil || got.last != 20 || got.ends != 1 {
		t.Fatalf("the file reads as %+v; want LSN 1..20, ended", got)
	}
}

// FuzzFileFrom feeds FileFrom any bytes as a server's stream: it never
// panics, and what it leaves is a complete, checked stream when it
// succeeds, and otherwise no file or whole checked frames without an end
// record, which Append resumes without a repair.
func FuzzFileFrom(f *testing.F) {
	good := fuzzSeed(f)
	f.Add(good)
	f.Add(good[:len(good)-30])
	f.Add(good[:stream.HeaderSize+40])
	f.Add(append(bytes.Clone(good), good...))
	dir := f.TempDir()
	n := 0
	f.Fuzz(func(t *testing.T, in []byte) {
		n++
		path := filepath.Join(dir, fmt.Sprintf("%d.backup", n))
		src := func(context.Context, uint64) (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(in)), nil }
		res, err := FileFrom(context.Background(), "foo", src, path, Options{})
		defer os.Remove(path)
		if _, serr := os.Stat(path); errors.Is(serr, os.ErrNotExist) {
			if err == nil {
				t.Fatal("FileFrom succeeded and left no file")
			}
			return
		}
		got := readFile(t, path)
		if err == nil {
			if got.err != nil || got.ends != 1 || !res.Ended {
				t.Fatalf("FileFrom succeeded, and the file reads as %+v", got)
			}
			return
		}
		checkTruncatedAt(t, got, res.Last)
		if tail := tailOf(t, path); tail.Torn != 0 || tail.Complete {
			t.Fatalf("a failed FileFrom left the tail %+v", tail)
		}
	})
}

// fuzzSeed is a stream of a database of 5 small transactions.
func fuzzSeed(f *testing.F) []byte {
	dir := f.TempDir()
	if _, err := engine.Create(dir, "foo", engine.CreateOptions{}); err != nil {
		f.Fatal(err)
	}
	db, err := engine.Open(dir, "foo", engine.Options{})
	if err != nil {
		f.Fatal(err)
	}
	defer db.Close()
	for i := range 5 {
		if _, err := db.Commit([]txframe.Entry{{Op: txframe.OpPut, Key: fmt.Appendf(nil, "k%d", i), Value: []byte("v")}}); err != nil {
			f.Fatal(err)
		}
	}
	var b bytes.Buffer
	if _, err := Backup(context.Background(), db, &b, Options{}); err != nil {
		f.Fatal(err)
	}
	return b.Bytes()
}
