//go:build linux

package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/hotpipe/hotpipe/backup"
	"github.com/hotpipe/hotpipe/engine"
	"github.com/hotpipe/hotpipe/internal/exitcode"
	"github.com/hotpipe/hotpipe/txframe"
)

// sendServer serves dir over plain HTTP on loopback, counting the frame
// bytes its backup streams send from their files in sent, and passing
// what it logs to logf (t.Logf when nil).
func sendServer(t *testing.T, dir string, sent *atomic.Int64, logf func(string, ...any)) (*httptest.Server, *Server) {
	t.Helper()
	if logf == nil {
		logf = t.Logf
	}
	s, err := New(Options{DataDir: dir, Token: token, Logf: logf, sent: func(n int) { sent.Add(int64(n)) }})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s)
	t.Cleanup(hs.Close)
	return hs, s
}

// randomFoo creates database foo in dir with n transactions of random
// values of size bytes in segments of segSize, and closes it.
func randomFoo(t *testing.T, dir string, n, size int, segSize int64) {
	t.Helper()
	if _, err := engine.Create(dir, "foo", engine.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	db, err := engine.Open(dir, "foo", engine.Options{SegmentSize: segSize})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rng := rand.NewChaCha8([32]byte{1})
	for i := range n {
		v := make([]byte, size)
		_, _ = rng.Read(v)
		if _, err := db.Commit([]txframe.Entry{{Op: txframe.OpPut, Key: fmt.Appendf(nil, "k%d", i), Value: v}}); err != nil {
			t.Fatal(err)
		}
	}
}

// remoteBytes is the stream of a remote backup of foo and how it ended.
func remoteBytes(t *testing.T, hs *httptest.Server, req BackupRequest) ([]byte, BackupResult, error) {
	t.Helper()
	st, err := client(t, hs).Backup(context.Background(), "foo", req)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	b, err := io.ReadAll(st)
	return b, st.Result(), err
}

// sameBytes requires two streams to hold the same bytes but for their
// headers' creation times (bytes 24..32, and so the header CRC, 136..140).
func sameBytes(t *testing.T, what string, x, y []byte) {
	t.Helper()
	if len(x) < 140 || len(x) != len(y) || !bytes.Equal(x[:24], y[:24]) || !bytes.Equal(x[32:136], y[32:136]) || !bytes.Equal(x[140:], y[140:]) {
		t.Fatalf("%s: the %d bytes sent differ from the %d of the copy path beyond the creation time", what, len(x), len(y))
	}
}

// TestSendfileIsTheCopyPathsBytes: a backup stream over plain HTTP sends
// every frame block from its segment file, and the client reads the bytes
// the copy path makes of the same range: one frame, many segments, a
// frame larger than a block, a start/end range; a paced backup is all
// copied, with the same bytes.
func TestSendfileIsTheCopyPathsBytes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		n, size    int
		segSize    int64
		start, end uint64
		maxRate    float64
		copied     bool // no block sent from its file
	}{
		{name: "one frame", n: 1, size: 10},
		{name: "many segments", n: 300, size: 3000, segSize: 64 << 10},
		{name: "frame larger than a block", n: 3, size: 3 << 20},
		{name: "start and end", n: 300, size: 3000, segSize: 64 << 10, start: 57, end: 233},
		{name: "paced", n: 50, size: 1000, maxRate: 1 << 30, copied: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			randomFoo(t, dir, tt.n, tt.size, tt.segSize)
			var sent atomic.Int64
			hs, _ := sendServer(t, dir, &sent, nil)
			got, res, err := remoteBytes(t, hs, BackupRequest{Start: tt.start, End: tt.end, MaxRate: tt.maxRate})
			if err != nil {
				t.Fatalf("remote backup: %v", err)
			}
			want := res.Bytes
			if tt.copied {
				want = 0
			}
			if sent.Load() != want || res.Bytes == 0 || !res.Ended {
				t.Fatalf("%d of the %d frame bytes were sent from their files (result %+v); want %d", sent.Load(), res.Bytes, res, want)
			}
			db, err := engine.Open(dir, "foo", engine.Options{ReadOnly: true})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			var buf bytes.Buffer
			if _, err := backup.Backup(context.Background(), db, &buf, backup.Options{Start: tt.start, End: tt.end}); err != nil {
				t.Fatal(err)
			}
			sameBytes(t, tt.name, got, buf.Bytes())
		})
	}
}

// TestSendfileRefusesABadFrame: a frame whose bytes were damaged on disk
// is refused before it leaves: the blocks before it were sent from their
// files, the client gets an integrity error, and no byte of the damaged
// frame's neighbourhood reaches it.
func TestSendfileRefusesABadFrame(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	randomFoo(t, dir, 100, 64<<10, 0) // 6.4 MiB: several blocks
	segs, err := filepath.Glob(filepath.Join(dir, "foo", "*.seg"))
	if err != nil || len(segs) == 0 {
		t.Fatalf("segments: %v %v", segs, err)
	}
	seg := segs[len(segs)-1]
	b, err := os.ReadFile(seg)
	if err != nil {
		t.Fatal(err)
	}
	at := len(b) * 3 / 4
	window := slices.Clone(b[at-16 : at+16]) // random bytes: found in a stream only if that frame was sent
	b[at] ^= 0x40
	if err := os.WriteFile(seg, b, 0o644); err != nil {
		t.Fatal(err)
	}
	var sent atomic.Int64
	hs, _ := sendServer(t, dir, &sent, nil)
	got, _, err := remoteBytes(t, hs, BackupRequest{})
	if exitcode.Of(err) != exitcode.Integrity {
		t.Fatalf("remote backup of a damaged database: %v (exit %d), want an integrity error", err, exitcode.Of(err))
	}
	if sent.Load() == 0 {
		t.Fatalf("no block was sent from its file before the damaged frame")
	}
	b[at] ^= 0x40
	if bytes.Contains(got, window) || bytes.Contains(got, b[at-16:at+16]) {
		t.Fatalf("bytes of the damaged frame reached the client")
	}
}

// TestSendfileClientGone: a client that closes the connection midway ends
// the stream on the server with an error (logged, counted as failed), and
// the stream's handler ends: nothing is left running.
func TestSendfileClientGone(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	randomFoo(t, dir, 400, 64<<10, 0) // 25 MiB: more than the socket holds
	var sent atomic.Int64
	logged := make(chan string, 10)
	hs, s := sendServer(t, dir, &sent, func(f string, args ...any) { logged <- fmt.Sprintf(f, args...) })
	req, err := http.NewRequest(http.MethodGet, hs.URL+"/v1/databases/foo/backup", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(resp.Body, make([]byte, 4096)); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close() // unread bytes: the connection is reset
	msg := <-logged
	if !strings.HasPrefix(msg, "backup of foo: stopped after LSN") {
		t.Errorf("logged %q, want the backup's end", msg)
	}
	if err := s.waitStreams(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := s.count.failedStreams.Load(); n != 1 {
		t.Errorf("%d failed streams counted, want 1", n)
	}
}

// TestSendfileRefusedFallsBack: when sendfile refuses (a file system or
// socket that cannot), that block and all after it are written from the
// buffer, and the stream is the same.
func TestSendfileRefusedFallsBack(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	conn := &bufConn{w: &out}
	calls := 0
	s := &sockStream{conn: conn, send: func(_ net.Conn, _ *os.File, _ int64, _ int) (int, error) {
		calls++
		return 0, &os.SyscallError{Syscall: "sendfile", Err: errEINVAL}
	}}
	f, err := os.CreateTemp(t.TempDir(), "src")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	block := []byte("frames")
	for range 2 {
		s.OfferRange(f, 0, block)
		if n, err := s.Write(block); n != len(block) || err != nil {
			t.Fatalf("Write: %d, %v", n, err)
		}
	}
	if _, err := s.Write([]byte("end")); err != nil {
		t.Fatal(err)
	}
	if err := s.finish(http.Header{TrailerResult: {`{"ended":true}`}}); err != nil {
		t.Fatal(err)
	}
	want := "6\r\nframes\r\n6\r\nframes\r\n3\r\nend\r\n0\r\nHotpipe-Result: {\"ended\":true}\r\n\r\n"
	if out.String() != want || calls != 1 {
		t.Fatalf("sent %q after %d sendfile calls, want %q after 1", out.String(), calls, want)
	}
	if !errors.Is(conn.closed, net.ErrClosed) {
		t.Errorf("the connection was not closed")
	}
}

var errEINVAL = syscall.EINVAL

// bufConn is a connection that writes into w.
type bufConn struct {
	net.Conn
	w      io.Writer
	closed error
}

func (c *bufConn) Write(p []byte) (int, error) { return c.w.Write(p) }
func (c *bufConn) Close() error                { c.closed = net.ErrClosed; return nil }

// TestSendfileDrained: Drain stops a stream whose connection was taken
// over at a frame boundary, as it stops one net/http writes: the client
// reads the server's "interrupted" (exit 130), and waitStreams returns.
func TestSendfileDrained(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	randomFoo(t, dir, 400, 64<<10, 0) // 25 MiB: more than the socket holds
	var sent atomic.Int64
	hs, s := sendServer(t, dir, &sent, nil)
	st, err := client(t, hs).Backup(context.Background(), "foo", BackupRequest{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := io.ReadFull(st, make([]byte, 4096)); err != nil {
		t.Fatal(err)
	}
	s.Drain()
	_, err = io.Copy(io.Discard, st)
	if exitcode.Of(err) != exitcode.Interrupted || st.Result().Ended {
		t.Fatalf("drained stream: %v (exit %d), result %+v; want exit %d, no end record", err, exitcode.Of(err), st.Result(), exitcode.Interrupted)
	}
	if sent.Load() == 0 {
		t.Fatalf("no block was sent from its file")
	}
	if err := s.waitStreams(context.Background()); err != nil {
		t.Fatal(err)
	}
}
