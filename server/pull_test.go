package server

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hotpipe/hotpipe/engine"
	"github.com/hotpipe/hotpipe/internal/exitcode"
	"github.com/hotpipe/hotpipe/replica"
	"github.com/hotpipe/hotpipe/stream"
	"github.com/hotpipe/hotpipe/txframe"
)

// liveServer is a server on a real listener that a test can kill (every
// connection cut), drain (as on SIGTERM) and start again on the same
// address.
type liveServer struct {
	t    *testing.T
	dir  string
	addr string
	s    *Server
	hs   *http.Server
}

func startLive(t *testing.T, dir string) *liveServer {
	l := &liveServer{t: t, dir: dir, addr: "127.0.0.1:0"}
	l.start()
	t.Cleanup(l.kill)
	return l
}

func (l *liveServer) start() {
	l.t.Helper()
	ln, err := net.Listen("tcp", l.addr)
	if err != nil {
		l.t.Fatal(err)
	}
	l.addr = ln.Addr().String()
	if l.s, err = New(Options{DataDir: l.dir, Token: token, Logf: l.t.Logf}); err != nil {
		l.t.Fatal(err)
	}
	l.hs = &http.Server{Handler: l.s}
	go func() { _ = l.hs.Serve(ln) }()
}

func (l *liveServer) kill() { _ = l.hs.Close() }

func (l *liveServer) drain() {
	l.s.Drain()
	if err := l.hs.Shutdown(context.Background()); err != nil {
		l.t.Error(err)
	}
}

func (l *liveServer) client(tok string) *Client {
	c, err := NewClient(l.addr, ClientOptions{Token: tok})
	if err != nil {
		l.t.Fatal(err)
	}
	return c
}

// source makes database foo with n transactions in a new data directory,
// open for write (served's, whose own server the pull tests leave aside).
func source(t *testing.T, n int) (string, *engine.DB) {
	t.Helper()
	_, _, db := served(t, n, 100)
	return filepath.Dir(db.Dir()), db
}

// sameState fails the test unless database name in dir has src's state,
// and says whether it is a replica.
func sameState(t *testing.T, src *engine.DB, dir, name string) (replica bool) {
	t.Helper()
	db, err := engine.Open(dir, name, engine.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	lsn, h, err := db.State()
	wantLSN, wantH, werr := src.State()
	if err != nil || werr != nil || lsn != wantLSN || h != wantH {
		t.Fatalf("standby at LSN %d h %s (%v), source at LSN %d h %s (%v)", lsn, h, err, wantLSN, wantH, werr)
	}
	m, err := db.Meta()
	if err != nil {
		t.Fatal(err)
	}
	return m.Replica
}

// waitLSN waits until database name in dir is durable through lsn.
func waitLSN(t *testing.T, dir, name string, lsn uint64, pulled <-chan error) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); ; {
		got, err := durableLSN(dir, name, nil)
		if err == nil && got >= lsn {
			return
		}
		select {
		case err := <-pulled:
			t.Fatalf("the pull ended before LSN %d: %v", lsn, err)
		case <-time.After(2 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("standby at LSN %d (%v), not %d, after a minute", got, err, lsn)
		}
	}
}

// TestPullCatchesUpOnce: without Follow, Pull restores what the server
// has, into an absent database, and again appends what is new.
func TestPullCatchesUpOnce(t *testing.T) {
	dir, src := source(t, 300)
	l := startLive(t, dir)
	standby := t.TempDir()
	res, err := Pull(context.Background(), l.client(token), "foo", standby, "foo2", PullOptions{})
	if err != nil || !res.Full || res.First != 1 || res.Frames != 300 || res.Connections != 1 {
		t.Fatalf("Pull = %+v, %v; want a full restore of LSN 1..300 in one connection", res, err)
	}
	if sameState(t, src, standby, "foo2") {
		t.Error("a completed pull left the standby a replica")
	}
	commit(t, src, 50, 100)
	res, err = Pull(context.Background(), l.client(token), "foo", standby, "foo2", PullOptions{Append: true, ForceReplica: true})
	if err != nil || res.Full || res.First != 301 || res.Frames != 50 {
		t.Fatalf("second Pull = %+v, %v; want LSN 301..350 appended", res, err)
	}
	sameState(t, src, standby, "foo2")
}

// pulling runs a following Pull of foo into foo2 in standby, and returns
// the channel of its end and the function that stops it gracefully.
func pulling(t *testing.T, c *Client, standby string, retried chan<- error) (<-chan error, func() PullResult) {
	stop := make(chan struct{})
	ended := make(chan error, 1)
	var res PullResult
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var err error
		res, err = Pull(context.Background(), c, "foo", standby, "foo2", PullOptions{Follow: true, Stop: stop, MinWait: time.Millisecond,
			MaxWait: 20 * time.Millisecond, GiveUpAfter: -1, Retrying: func(r PullRetry) {
				select {
				case retried <- r.Err:
				default:
				}
			}})
		ended <- err
	}()
	t.Cleanup(func() {
		select {
		case <-stop:
		default:
			close(stop)
		}
		wg.Wait()
	})
	return ended, func() PullResult {
		close(stop)
		if err := <-ended; err != nil {
			t.Fatalf("the standby stopped with %v", err)
		}
		wg.Wait()
		return res
	}
}

// TestPullFollowsAWriter: a following standby applies what a writer
// commits as it comes, and a stop ends it gracefully, equal to the
// source and no longer a replica.
func TestPullFollowsAWriter(t *testing.T) {
	dir, src := source(t, 100)
	l := startLive(t, dir)
	standby := t.TempDir()
	ended, stop := pulling(t, l.client(token), standby, nil)
	for range 10 {
		commit(t, src, 20, 100)
	}
	waitLSN(t, standby, "foo2", 300, ended)
	res := stop()
	if res.Frames != 300 || res.Connections != 1 {
		t.Errorf("result %+v: want 300 frames in one connection", res)
	}
	if sameState(t, src, standby, "foo2") {
		t.Error("a stopped standby is still a replica")
	}
}

// TestPullResumesAfterTheServerGoes: a server killed mid-stream (every
// connection cut) or drained (the stream ended with its end record), then
// started again on the same address: the standby reconnects, resumes from
// its own durable LSN, and ends equal to the source, every frame once.
func TestPullResumesAfterTheServerGoes(t *testing.T) {
	for _, c := range []struct {
		name string
		stop func(*liveServer)
	}{{"killed", (*liveServer).kill}, {"drained", (*liveServer).drain}} {
		t.Run(c.name, func(t *testing.T) {
			dir, src := source(t, 100)
			l := startLive(t, dir)
			standby := t.TempDir()
			retried := make(chan error, 1)
			ended, stop := pulling(t, l.client(token), standby, retried)
			waitLSN(t, standby, "foo2", 100, ended)
			c.stop(l)
			commit(t, src, 50, 100) // while the server is away
			<-retried
			l.start()
			commit(t, src, 50, 100)
			waitLSN(t, standby, "foo2", 200, ended)
			res := stop()
			if res.Frames != 200 || res.First != 1 || res.Connections < 2 {
				t.Errorf("result %+v: want LSN 1..200 once each, over two connections or more", res)
			}
			sameState(t, src, standby, "foo2")
		})
	}
}

// TestPullStopsAtOnce: what waiting cannot change ends the pull with its
// error, without a retry.
func TestPullStopsAtOnce(t *testing.T) {
	dir, _ := source(t, 10)
	other, _ := source(t, 20) // foo of another history
	short, _ := source(t, 5)
	for _, c := range []struct{ from, as string }{{other, "bar"}, {short, "short"}} {
		if err := copyDB(c.from, dir, "foo", c.as); err != nil {
			t.Fatal(err)
		}
	}
	l := startLive(t, dir)
	for _, c := range []struct {
		name, tok, source string
		code              int
		is                error
	}{
		{name: "wrong token", tok: "wrong", source: "foo", code: exitcode.Failure},
		{name: "no such database", tok: token, source: "nope", code: exitcode.Failure},
		{name: "bad name", tok: token, source: "No", code: exitcode.Usage},
		{name: "another history", tok: token, source: "bar", code: exitcode.History, is: txframe.ErrHistory},
		{name: "the standby ahead", tok: token, source: "short", code: exitcode.History, is: txframe.ErrHistory},
	} {
		t.Run(c.name, func(t *testing.T) {
			standby := t.TempDir()
			if _, err := Pull(context.Background(), l.client(token), "foo", standby, "foo2", PullOptions{}); err != nil {
				t.Fatal(err)
			}
			_, err := Pull(context.Background(), l.client(c.tok), c.source, standby, "foo2", PullOptions{Follow: true, Append: true,
				ForceReplica: true, GiveUpAfter: -1, Retrying: func(r PullRetry) { t.Errorf("retried %v", r.Err) }})
			if err == nil || exitcode.Of(err) != c.code || (c.is != nil && !errors.Is(err, c.is)) {
				t.Errorf("Pull = %v (exit %d), want exit %d", err, exitcode.Of(err), c.code)
			}
		})
	}
}

// copyDB restores database name of dir from into database as of dir to,
// through a server of from.
func copyDB(from, to, name, as string) error {
	s, err := New(Options{DataDir: from, Token: token})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: s}
	go func() { _ = hs.Serve(ln) }()
	defer hs.Close()
	c, err := NewClient(ln.Addr().String(), ClientOptions{Token: token})
	if err != nil {
		return err
	}
	_, err = Pull(context.Background(), c, name, to, as, PullOptions{})
	return err
}

// TestPullGivesUp: a server that never answers ends the pull after
// GiveUpAfter, with ErrGaveUp (exit 1), having retried.
func TestPullGivesUp(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	c, err := NewClient(addr, ClientOptions{Token: token})
	if err != nil {
		t.Fatal(err)
	}
	retries := 0
	_, err = Pull(context.Background(), c, "foo", t.TempDir(), "foo2", PullOptions{Follow: true, MinWait: time.Millisecond,
		MaxWait: 5 * time.Millisecond, GiveUpAfter: 50 * time.Millisecond, Retrying: func(PullRetry) { retries++ }})
	if !errors.Is(err, ErrGaveUp) || exitcode.Of(err) != exitcode.Failure {
		t.Fatalf("Pull = %v (exit %d), want ErrGaveUp, exit 1", err, exitcode.Of(err))
	}
	if retries == 0 {
		t.Error("gave up without a retry")
	}
}

// TestPullCancelled: cancelling ctx cuts a following standby at a frame
// boundary: the error is context.Canceled, and what it applied is durable.
func TestPullCancelled(t *testing.T) {
	dir, src := source(t, 100)
	l := startLive(t, dir)
	standby := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	var applied replica.Progress
	ended := make(chan error, 1)
	go func() {
		res, err := Pull(ctx, l.client(token), "foo", standby, "foo2", PullOptions{Follow: true})
		applied = res.Progress
		ended <- err
	}()
	waitLSN(t, standby, "foo2", 100, ended)
	cancel()
	if err := <-ended; !errors.Is(err, context.Canceled) {
		t.Fatalf("Pull cancelled = %v, want context.Canceled", err)
	}
	if applied.Last != 100 {
		t.Errorf("applied through LSN %d, want 100", applied.Last)
	}
	if !sameState(t, src, standby, "foo2") {
		t.Error("a full restore cut short is no longer a replica")
	}
}

// TestPullGivesUpOnAServerThatCutsEveryStream: a server that sends a
// stream's header and then cuts it, every time, is no server to pull
// from: the standby gives up after GiveUpAfter, as when none answers.
func TestPullGivesUpOnAServerThatCutsEveryStream(t *testing.T) {
	_, _, db := served(t, 5, 10)
	header := backupOf(t, db)[:stream.HeaderSize]
	var streams atomic.Int32
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		streams.Add(1)
		w.Header().Set("Content-Type", StreamType)
		_, _ = w.Write(header)
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler) // cut the connection: a truncated stream
	}))
	defer hs.Close()
	_, err := Pull(context.Background(), client(t, hs), "foo", t.TempDir(), "foo2", PullOptions{Follow: true,
		MinWait: time.Millisecond, MaxWait: 10 * time.Second, GiveUpAfter: 200 * time.Millisecond})
	if !errors.Is(err, ErrGaveUp) {
		t.Fatalf("Pull = %v, want ErrGaveUp", err)
	}
	if n := streams.Load(); n < 2 {
		t.Errorf("%d streams before giving up", n)
	}
}
