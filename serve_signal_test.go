//go:build linux

package main

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hotpipe/hotpipe/engine"
	"github.com/hotpipe/hotpipe/stream"
)

// startServe runs hotpipe serve over dir with the token on a free loopback
// port and returns its URL once it listens; it is killed when the test
// ends.
func startServe(t *testing.T, dir string) (*exec.Cmd, string) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "url")
	cmd := hotpipeCmd(dir, "serve", "--listen", "127.0.0.1:0", "--listen-file", file)
	cmd.Env = append(cmd.Env, "HOTPIPE_TOKEN=tok")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	for deadline := time.Now().Add(waitTimeout); ; time.Sleep(5 * time.Millisecond) {
		if b, err := os.ReadFile(file); err == nil && strings.HasSuffix(string(b), "\n") {
			return cmd, strings.TrimSpace(string(b))
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve wrote no URL within %v", waitTimeout)
		}
	}
}

// remoteBackup starts hot-backup --addr with args and returns it, its
// stdout once the first bytes of the stream have come, and its stderr.
func remoteBackup(t *testing.T, dir, url string, args ...string) (*exec.Cmd, *bufio.Reader, *bytes.Buffer) {
	t.Helper()
	cmd := hotpipeCmd(dir, append([]string{"hot-backup", "foo", "--addr", url}, args...)...)
	cmd.Env = append(cmd.Env, "HOTPIPE_TOKEN=tok")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReaderSize(out, 1<<20)
	if _, err := r.Peek(1); err != nil { // the stream is coming
		t.Fatalf("no stream: %v: %s", err, stderr.String())
	}
	return cmd, r, &stderr
}

// TestRemoteFollowEndsOnSIGINT: hot-backup --addr --follow, interrupted,
// asks the server to end the stream: it ends with its end record, a
// prefix of the source's history, and the command exits 0.
func TestRemoteFollowEndsOnSIGINT(t *testing.T) {
	dir := loadedDB(t, 100)
	_, url := startServe(t, dir)
	cmd, out, stderr := remoteBackup(t, dir, url, "--follow")
	mustRun(t, hotpipeCmd(dir, "-q", "load", "foo", "--txs", "50"))
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	stream, err := io.ReadAll(out)
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("hot-backup --addr --follow after SIGINT: %v: %s", err, stderr)
	}
	file := filepath.Join(t.TempDir(), "follow.backup")
	if err := os.WriteFile(file, stream, 0o644); err != nil {
		t.Fatal(err)
	}
	mustRun(t, hotpipeCmd(dir, "-q", "hot-restore", "bar", "-i", file))
	bar, err := engine.Open(dir, "bar", engine.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer bar.Close()
	lsn, h, err := bar.State()
	if err != nil || lsn < 100 {
		t.Fatalf("restored through LSN %d (%v), want at least 100", lsn, err)
	}
	foo, err := engine.Open(dir, "foo", engine.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer foo.Close()
	if want, err := foo.HashAt(lsn); err != nil || h != want {
		t.Errorf("restored h(%d) = %x, source's %x (%v)", lsn, h, want, err)
	}
}

// slowRemoteBackup serves a 12.5 MiB foo and starts a hot-backup --addr
// of it at 1 MB/s: it returns the server, and the backup once its stream
// is coming.
func slowRemoteBackup(t *testing.T) (srv, cmd *exec.Cmd, out *bufio.Reader, stderr *bytes.Buffer) {
	t.Helper()
	dir := t.TempDir()
	mustRun(t, hotpipeCmd(dir, "-q", "db", "create", "foo"))
	mustRun(t, hotpipeCmd(dir, "-q", "load", "foo", "--txs", "200", "--value-size", "65536"))
	srv, url := startServe(t, dir)
	cmd, out, stderr = remoteBackup(t, dir, url, "--max-rate", "1MB")
	return srv, cmd, out, stderr
}

// TestRemoteBackupServerKilled: a server killed mid-stream leaves the
// client a stream without an end record: exit 3, saying the connection
// broke.
func TestRemoteBackupServerKilled(t *testing.T) {
	srv, cmd, out, stderr := slowRemoteBackup(t)
	if err := srv.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, out)
	err := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != exitIntegrity {
		t.Fatalf("hot-backup --addr with its server killed: %v, want exit %d: %s", err, exitIntegrity, stderr)
	}
	if !strings.Contains(stderr.String(), "the connection broke: stream is truncated") {
		t.Errorf("stderr: %s", stderr)
	}
}

// TestRemotePlainBackupStopsAtAFrameBoundary: SIGINT to a plain
// hot-backup --addr asks the server to stop, as SIGINT stops the local
// backup: the stream ends at a frame boundary without an end record, and
// the command exits 130 saying what the local one says.
func TestRemotePlainBackupStopsAtAFrameBoundary(t *testing.T) {
	_, cmd, out, stderr := slowRemoteBackup(t)
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(out)
	if err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != exitInterrupted {
		t.Fatalf("hot-backup --addr after SIGINT: %v, want exit %d: %s", err, exitInterrupted, stderr)
	}
	tail, err := stream.ReadTail(bytes.NewReader(got), int64(len(got)), "stdout")
	if err != nil {
		t.Fatalf("%v: %s", err, stderr)
	}
	if !regexp.MustCompile(`^hotpipe: backup of foo stopped after LSN [0-9]+: interrupted\n$`).MatchString(stderr.String()) {
		t.Errorf("stderr %q: want the local command's words", stderr)
	}
	if tail.Torn != 0 || tail.Complete || tail.Last == 0 || tail.Last >= 200 {
		t.Fatalf("stream of %d bytes: last LSN %d, torn %d, complete %v; want whole frames of a prefix, no end record",
			len(got), tail.Last, tail.Torn, tail.Complete)
	}
}

// TestServeSurvivesGarbage: a request line that is not HTTP gets 400, a
// header over the bound 431, a client that stalls midway through its
// headers holds nothing up, and the server goes on serving.
func TestServeSurvivesGarbage(t *testing.T) {
	dir := loadedDB(t, 10)
	_, url := startServe(t, dir)
	addr := strings.TrimPrefix(url, "http://")
	stalled, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer stalled.Close()
	if _, err := stalled.Write([]byte("GET /health HTTP/1.1\r\nHost: x\r\n")); err != nil { // and never the end
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, request, status string
	}{
		{"garbage", "\x00\x01 not http at all\r\n\r\n", "HTTP/1.1 400"},
		{"huge header", "GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", 200<<10) + "\r\n\r\n", "HTTP/1.1 431"},
		{"health", "GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", "HTTP/1.1 200"},
	} {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = conn.Write([]byte(c.request)) // the server may answer and close before it has read it all
		status, err := bufio.NewReader(conn).ReadString('\n')
		conn.Close()
		if !strings.HasPrefix(status, c.status) {
			t.Errorf("%s: answered %q (%v), want %s", c.name, status, err, c.status)
		}
	}
}

// TestServeSIGTERMEndsAFollowCleanly: serve, on SIGTERM, ends a remote
// --follow with its end record: the client exits 0 with a whole stream,
// and serve exits 0.
func TestServeSIGTERMEndsAFollowCleanly(t *testing.T) {
	dir := loadedDB(t, 100)
	srv, url := startServe(t, dir)
	cmd, out, stderr := remoteBackup(t, dir, url, "--follow")
	if err := srv.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	stream, err := io.ReadAll(out)
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("hot-backup --addr --follow when its server stopped: %v: %s", err, stderr)
	}
	if err := srv.Wait(); err != nil {
		t.Errorf("serve after SIGTERM: %v", err)
	}
	file := filepath.Join(t.TempDir(), "follow.backup")
	if err := os.WriteFile(file, stream, 0o644); err != nil {
		t.Fatal(err)
	}
	mustRun(t, hotpipeCmd(dir, "-q", "verify", "-i", file))
}
