// Package s3test runs a real S3-compatible server for tests: versitygw
// (github.com/versity/versitygw, installed by `make s3server`) over a temp
// directory on 127.0.0.1, one process per test that asks for one, stopped
// at the test's cleanup.
//
// A test that needs the server and cannot find it fails, saying to run
// `make s3server`: S3 tests are never skipped silently.
package s3test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// Credentials and region of every server Start runs. They are made up: the
// server listens on loopback only.
const (
	AccessKey = "hotpipe-test-key"
	SecretKey = "hotpipe-test-secret-0123456789"
	Region    = "us-east-1"
)

// EnvBinary names the variable that gives the versitygw binary's path;
// `make test` sets it.
const EnvBinary = "HOTPIPE_VERSITYGW"

// startTimeout bounds how long Start waits for the server's port to accept
// connections (it starts in well under a second, more on a loaded machine).
const startTimeout = 30 * time.Second

// Server is one running versitygw process.
type Server struct {
	// Endpoint is the server's URL, http://127.0.0.1:PORT.
	Endpoint string
	// Addr is the server's host:port.
	Addr string
	// Dir is the directory the server stores buckets and objects in.
	Dir string

	bin    string
	stderr *lockedBuffer
	mu     sync.Mutex    // guards cmd and exited
	cmd    *exec.Cmd     // nil while stopped
	exited chan struct{} // closed when the process has exited

	clientOnce sync.Once
	client     *minio.Client
	clientErr  error
}

// Binary returns the path of the versitygw binary: $HOTPIPE_VERSITYGW, else
// the cache `make s3server` installs into
// ($XDG_CACHE_HOME or ~/.cache)/hotpipe/bin, else versitygw on PATH.
func Binary() (string, error) {
	if p := os.Getenv(EnvBinary); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("%s=%s: %w: run make s3server", EnvBinary, p, err)
		}
		return p, nil
	}
	var looked []string
	cache := os.Getenv("XDG_CACHE_HOME")
	if cache == "" {
		if home, err := os.UserHomeDir(); err == nil {
			cache = filepath.Join(home, ".cache")
		}
	}
	if cache != "" {
		p := filepath.Join(cache, "hotpipe", "bin", "versitygw")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		looked = append(looked, p)
	}
	if p, err := exec.LookPath("versitygw"); err == nil {
		return p, nil
	}
	looked = append(looked, "versitygw on PATH")
	return "", fmt.Errorf("S3 test server not found (looked for $%s, %s): run make s3server",
		EnvBinary, strings.Join(looked, ", "))
}

// Start runs a server on a free loopback port over a new temp directory and
// returns once the port accepts connections. The server is stopped when the
// test ends. A missing binary fails the test.
func Start(t testing.TB) *Server {
	t.Helper()
	bin, err := Binary()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	// A port freed by another process between our probe and the server's
	// bind makes the server exit at once: try again with a new port.
	for attempt := 1; ; attempt++ {
		s, err := start(bin, dir)
		if err == nil {
			t.Cleanup(s.Stop)
			return s
		}
		if attempt == 3 {
			t.Fatalf("starting the S3 test server: %v", err)
		}
	}
}

// start runs the server once and waits for its port.
func start(bin, dir string) (*Server, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	s := &Server{Endpoint: "http://" + addr, Addr: addr, Dir: dir, bin: bin, stderr: &lockedBuffer{}}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.run(); err != nil {
		return nil, err
	}
	return s, nil
}

// run starts the process and waits for its port; s.mu is held.
func (s *Server) run() error {
	s.cmd = exec.Command(s.bin, "--port", s.Addr, "--region", Region, "--quiet", "posix", s.Dir)
	// Credentials go through the environment, not argv, where ps shows them.
	s.cmd.Env = append(os.Environ(), "ROOT_ACCESS_KEY="+AccessKey, "ROOT_SECRET_KEY="+SecretKey)
	s.cmd.Stdout = s.stderr
	s.cmd.Stderr = s.stderr
	if err := s.cmd.Start(); err != nil {
		s.cmd = nil
		return fmt.Errorf("%s: %w", s.bin, err)
	}
	exited := make(chan struct{})
	s.exited = exited
	go func(cmd *exec.Cmd) {
		_ = cmd.Wait() // the exit status is of no interest once Stop kills it
		close(exited)
	}(s.cmd)
	if err := s.waitReady(); err != nil {
		s.kill()
		return err
	}
	return nil
}

// freeAddr returns a loopback address whose port was free a moment ago.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := l.Addr().String()
	return addr, l.Close()
}

// waitReady polls the port until it accepts a connection, the process exits,
// or startTimeout passes.
func (s *Server) waitReady() error {
	deadline := time.Now().Add(startTimeout)
	for {
		c, err := net.DialTimeout("tcp", s.Addr, 100*time.Millisecond)
		if err == nil {
			return c.Close()
		}
		select {
		case <-s.exited:
			return fmt.Errorf("versitygw exited before accepting connections: %s", s.stderr.String())
		case <-time.After(5 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("versitygw did not accept connections on %s within %v: %s", s.Addr, startTimeout, s.stderr.String())
		}
	}
}

// Stop kills the server and waits for it to exit. It may be called more
// than once; tests that need the server gone (to test an unreachable
// endpoint, or a crash) call it themselves.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.kill()
}

// Restart kills the server if it runs and starts it again on the same
// address and directory, as a server that crashed and came back: what it
// had stored is still there.
func (s *Server) Restart() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.kill()
	return s.run()
}

// kill ends the process, if any; s.mu is held.
func (s *Server) kill() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill() // fails only if it has already exited
	<-s.exited
	s.cmd = nil
}

// Client returns a minio-go client of the server with the root
// credentials, made once: making one takes tens of milliseconds under the
// race detector.
func (s *Server) Client(t testing.TB) *minio.Client {
	t.Helper()
	s.clientOnce.Do(func() {
		s.client, s.clientErr = minio.New(s.Addr, &minio.Options{
			Creds:        credentials.NewStaticV4(AccessKey, SecretKey, ""),
			Region:       Region,
			BucketLookup: minio.BucketLookupPath,
		})
	})
	if s.clientErr != nil {
		t.Fatal(s.clientErr)
	}
	return s.client
}

// MakeBucket creates a bucket and returns its name.
func (s *Server) MakeBucket(t testing.TB, name string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := s.Client(t).MakeBucket(ctx, name, minio.MakeBucketOptions{Region: Region}); err != nil {
		t.Fatalf("make bucket %s: %v", name, err)
	}
	return name
}

// lockedBuffer collects the server's output for error messages.
type lockedBuffer struct {
	mu  sync.Mutex
	buf []byte
}

// maxOutput bounds the server output kept: only its start matters (why it
// failed to start), and a chatty server must not grow the test's memory.
const maxOutput = 64 << 10

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if room := maxOutput - len(b.buf); room > 0 {
		b.buf = append(b.buf, p[:min(len(p), room)]...)
	}
	return len(p), nil
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := strings.TrimSpace(string(b.buf))
	if s == "" {
		return "(no output)"
	}
	return s
}
