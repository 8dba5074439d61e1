package s3test

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
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

// TestRestartKeepsObjects: a server killed and started again serves what
// it stored before, on the same address.
func TestRestartKeepsObjects(t *testing.T) {
	s := Start(t)
	b := s.MakeBucket(t, "bkt")
	ctx := context.Background()
	if _, err := s.Client(t).PutObject(ctx, b, "k", strings.NewReader("v"), 1, minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	s.Stop()
	if err := s.Restart(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Client(t).StatObject(ctx, b, "k", minio.StatObjectOptions{}); err != nil {
		t.Errorf("after Restart: %v", err)
	}
}

// TestProxyFaults: each fault does what it says to the requests it
// matches, as many times as it says, and then requests pass again.
func TestProxyFaults(t *testing.T) {
	s := Start(t)
	b := s.MakeBucket(t, "bkt")
	p := NewProxy(t, s)
	ctx := context.Background()
	c, err := minio.New(strings.TrimPrefix(p.Endpoint, "http://"), &minio.Options{
		Creds: credentials.NewStaticV4(AccessKey, SecretKey, ""), Region: Region, BucketLookup: minio.BucketLookupPath, MaxRetries: 1,
	})
	if err != nil {
		t.Fatal(err)
	}
	put := func(key string) error {
		_, err := c.PutObject(ctx, b, key, bytes.NewReader(make([]byte, 1<<20)), 1<<20, minio.PutObjectOptions{})
		return err
	}
	isPut := func(r *http.Request) bool { return r.Method == http.MethodPut }

	p.Inject(Fault{Match: isPut, Times: 1, Status: http.StatusServiceUnavailable})
	if err := put("a"); minio.ToErrorResponse(err).StatusCode != http.StatusServiceUnavailable {
		t.Errorf("PUT under a 503 fault = %v", err)
	}
	if err := put("a"); err != nil {
		t.Errorf("PUT once the fault is used up = %v", err)
	}

	p.Inject(Fault{Match: isPut, Times: 1, LoseAnswer: true})
	if err := put("lost"); err == nil || minio.ToErrorResponse(err).StatusCode != 0 {
		t.Errorf("PUT whose answer is lost = %v, want a network error", err)
	}
	if _, err := c.StatObject(ctx, b, "lost", minio.StatObjectOptions{}); err != nil {
		t.Errorf("a PUT whose answer was lost did not reach the server: %v", err)
	}

	p.Inject(Fault{Match: isPut, Times: 1, CutAfter: 1000})
	if err := put("b"); err == nil || minio.ToErrorResponse(err).StatusCode != 0 {
		t.Errorf("PUT cut after 1000 bytes = %v, want a network error", err)
	}
	p.Inject(Fault{Times: 1, CutAfter: 1000})
	if _, err := readObject(ctx, c, b, "a"); err == nil {
		t.Error("GET cut after 1000 bytes read the whole object")
	}
	if n, err := readObject(ctx, c, b, "a"); err != nil || n != 1<<20 {
		t.Errorf("GET after the cuts = %d, %v", n, err)
	}

	hold := make(chan struct{})
	p.Inject(Fault{Match: isPut, Hold: hold})
	done := make(chan error, 1)
	go func() { done <- put("c") }()
	if got := <-p.Held; got != "PUT /bkt/c" {
		t.Errorf("held %q", got)
	}
	close(hold)
	if err := <-done; err == nil {
		t.Error("a held PUT succeeded")
	}
	if _, err := c.StatObject(ctx, b, "c", minio.StatObjectOptions{}); minio.ToErrorResponse(err).Code != "NoSuchKey" {
		t.Errorf("a held PUT reached the server: %v", err)
	}
	p.Clear()
	if err := put("c"); err != nil {
		t.Errorf("PUT after Clear = %v", err)
	}
	if seen, hurt := p.Counts(); hurt != 5 || seen < 9 {
		t.Errorf("Counts = %d seen, %d hurt; want 5 hurt of at least 9", seen, hurt)
	}
}

func readObject(ctx context.Context, c *minio.Client, bucket, key string) (int64, error) {
	o, err := c.GetObject(ctx, bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return 0, err
	}
	defer o.Close()
	return io.Copy(io.Discard, o)
}
