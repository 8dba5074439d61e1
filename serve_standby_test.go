//go:build linux

package main

import (
	"bufio"
	"bytes"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// TestStandbyFollowsThroughAServerKill: hot-restore --from --follow pulls
// foo from hotpipe serve while a writer commits; the server is killed
// (-9) and started again on the same port; the standby says it retries,
// reconnects, and catches up with every frame once. SIGINT then ends it
// gracefully: exit 0, the source's state hash.
func TestStandbyFollowsThroughAServerKill(t *testing.T) {
	dir := loadedDB(t, 100)
	srv, u := startServe(t, dir)
	standby := hotpipeCmd(dir, "hot-restore", "foo2", "--append", "--from", u+"/foo", "--follow")
	standby.Env = append(standby.Env, "HOTPIPE_TOKEN=tok")
	lines := &lineLog{retried: make(chan struct{}), done: make(chan struct{})}
	stderr, err := standby.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := standby.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = standby.Process.Kill(); _ = standby.Wait() })
	go lines.read(stderr)
	waitFor(t, func() bool { return durableLSN(dir, "foo2") >= 100 })

	writer := hotpipeCmd(dir, "-q", "load", "foo", "--txs", "400", "--rate", "400", "--workers", "1", "--seed", "2")
	if err := writer.Start(); err != nil {
		t.Fatal(err)
	}
	if err := srv.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = srv.Wait()
	select {
	case <-lines.retried:
	case <-lines.done:
		t.Fatalf("the standby ended when its server was killed:\n%s", lines)
	}
	restartServe(t, dir, u)
	if err := writer.Wait(); err != nil {
		t.Fatalf("the writer: %v", err)
	}
	waitFor(t, func() bool { return durableLSN(dir, "foo2") >= 500 })

	if err := standby.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	<-lines.done
	if err := standby.Wait(); err != nil {
		t.Fatalf("the standby after SIGINT: %v\n%s", err, lines)
	}
	t.Logf("the standby's stderr:\n%s", lines)
	if !strings.Contains(lines.String(), "hot-restore foo2: applied LSN 1..500, ") {
		t.Errorf("stderr:\n%s", lines)
	}
	if got, want := dbState(t, dir, "foo2"), dbState(t, dir, "foo"); got != want {
		t.Errorf("foo2 at %s, foo at %s", got, want)
	}
}

// restartServe starts hotpipe serve over dir again at the address of u,
// and returns once it listens; it is killed when the test ends.
func restartServe(t *testing.T, dir, u string) {
	t.Helper()
	addr, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "url")
	cmd := hotpipeCmd(dir, "serve", "--listen", addr.Host, "--listen-file", file)
	cmd.Env = append(cmd.Env, "HOTPIPE_TOKEN=tok")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	waitFor(t, func() bool { b, err := os.ReadFile(file); return err == nil && strings.HasSuffix(string(b), "\n") })
}

// lineLog collects a process's stderr, and closes retried at the first
// line that says it retries.
type lineLog struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	retried chan struct{}
	done    chan struct{}
}

func (l *lineLog) read(r io.Reader) {
	defer close(l.done)
	said := false
	for sc := bufio.NewScanner(r); sc.Scan(); {
		l.mu.Lock()
		l.buf.WriteString(sc.Text() + "\n")
		l.mu.Unlock()
		if !said && strings.Contains(sc.Text(), "went away at LSN") && strings.Contains(sc.Text(), "trying again in") {
			said = true
			close(l.retried)
		}
	}
}

func (l *lineLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}
