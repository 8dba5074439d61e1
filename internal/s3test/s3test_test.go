package s3test

import (
	"context"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestBinaryMissing: without the binary the error says to run make
// s3server, whichever way it was looked for.
func TestBinaryMissing(t *testing.T) {
	t.Setenv(EnvBinary, filepath.Join(t.TempDir(), "versitygw"))
	if _, err := Binary(); err == nil || !strings.Contains(err.Error(), "run make s3server") {
		t.Errorf("Binary with a missing %s = %v", EnvBinary, err)
	}
	t.Setenv(EnvBinary, "")
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	t.Setenv("PATH", t.TempDir())
	if _, err := Binary(); err == nil || !strings.Contains(err.Error(), "run make s3server") {
		t.Errorf("Binary with nothing installed = %v", err)
	}
}

// TestStartStop: a started server serves S3 on loopback until Stop, which
// may be called twice.
func TestStartStop(t *testing.T) {
	s := Start(t)
	if !strings.HasPrefix(s.Addr, "127.0.0.1:") {
		t.Errorf("server listens on %s, not loopback", s.Addr)
	}
	b := s.MakeBucket(t, "bkt")
	ok, err := s.Client(t).BucketExists(context.Background(), b)
	if err != nil || !ok {
		t.Fatalf("BucketExists = %v, %v", ok, err)
	}
	s.Stop()
	s.Stop()
	if c, err := net.DialTimeout("tcp", s.Addr, time.Second); err == nil {
		_ = c.Close()
		t.Error("the server still accepts connections after Stop")
	}
}
