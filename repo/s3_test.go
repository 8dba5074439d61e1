package repo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/hotpipe/hotpipe/internal/s3test"
	"github.com/minio/minio-go/v7"
)

// roundTrip is an http.RoundTripper made of a function; next is the real
// transport.
type roundTrip func(req *http.Request, next http.RoundTripper) (*http.Response, error)

func (f roundTrip) RoundTrip(req *http.Request) (*http.Response, error) {
	return f(req, http.DefaultTransport)
}

// errCut is the network failure the test transports simulate.
var errCut = errors.New("connection reset by test transport")

// isObjectPut reports whether req creates an object: a single PUT or the
// completion of a multipart upload.
func isObjectPut(req *http.Request) bool {
	q := req.URL.Query()
	return req.Method == http.MethodPut && !q.Has("uploadId") ||
		req.Method == http.MethodPost && q.Has("uploadId")
}

// openS3 opens a store of a new bucket on srv with the test options,
// changed by edit.
func openS3(t *testing.T, srv *s3test.Server, edit func(*S3Options)) (Store, string) {
	t.Helper()
	b := srv.MakeBucket(t, fmt.Sprintf("test-%d", bucketSeq.Add(1)))
	o := testS3Options(srv)
	if edit != nil {
		edit(&o)
	}
	return mustOpen(t, "s3://"+b+"/pre", StoreOptions{S3: o}), b
}

// TestS3ClearErrors: wrong credentials, an unknown key, a wrong region,
// no credentials and a missing bucket fail every operation with an error
// that wraps ErrAccess or ErrNoBucket, names the store and endpoint, says
// what to check, never shows the secret, and writes nothing.
func TestS3ClearErrors(t *testing.T) {
	srv := s3test.Start(t)
	good, bucket := openS3(t, srv, nil)
	const secret = "not-the-secret-5up3r"
	cases := []struct {
		name   string
		url    string
		edit   func(*S3Options)
		want   error
		saying string
	}{
		{"wrong secret", "", func(o *S3Options) { o.SecretAccessKey = secret }, ErrAccess, "check AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY"},
		{"unknown key", "", func(o *S3Options) { o.AccessKeyID = "nobody" }, ErrAccess, "check AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY"},
		{"wrong region", "", func(o *S3Options) { o.Region = "eu-north-9" }, ErrAccess, `region "eu-north-9" refused`},
		{"no credentials", "", func(o *S3Options) { o.AccessKeyID, o.SecretAccessKey = "", "" }, ErrAccess, "check AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY"},
		{"missing bucket", "s3://no-such-bucket/pre", nil, ErrNoBucket, "bucket does not exist (endpoint"},
	}
	// No credentials from this machine's environment or files.
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_ACCESS_KEY", "AWS_SECRET_ACCESS_KEY", "AWS_SECRET_KEY", "AWS_SESSION_TOKEN"} {
		t.Setenv(k, "")
	}
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", t.TempDir()+"/none")
	ctx := context.Background()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := testS3Options(srv)
			if c.edit != nil {
				c.edit(&o)
			}
			url := c.url
			if url == "" {
				url = "s3://" + bucket + "/pre"
			}
			st := mustOpen(t, url, StoreOptions{S3: o})
			var errs []error
			errs = append(errs, st.Create(ctx, "db/x", strings.NewReader("data"), 4))
			errs = append(errs, st.Create(ctx, "db/y", bytes.NewReader(make([]byte, 6<<20)), -1)) // multipart
			_, err := st.Open(ctx, "db/x")
			errs = append(errs, err)
			for _, err := range st.List(ctx, "", "") {
				errs = append(errs, err)
			}
			errs = append(errs, st.Delete(ctx, "db/x"))
			_, err = st.Cleanup(ctx, 0)
			errs = append(errs, err)
			for i, err := range errs {
				switch {
				case !errors.Is(err, c.want):
					t.Errorf("operation %d: %v, want %v", i, err, c.want)
				case !strings.Contains(err.Error(), c.saying) || !strings.Contains(err.Error(), srv.Endpoint) || !strings.HasPrefix(err.Error(), url+": "):
					t.Errorf("operation %d: %q does not name the store and endpoint and say %q", i, err, c.saying)
				case strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), s3test.SecretKey):
					t.Errorf("operation %d: the error shows a secret: %v", i, err)
				}
			}
		})
	}
	if got := list(t, good, "", ""); len(got) != 0 {
		t.Errorf("refused requests wrote %v", got)
	}
}

// TestS3TooManyParts: an object too large for S3's 10,000 parts is
// refused before anything is read or sent.
func TestS3TooManyParts(t *testing.T) {
	st := mustOpen(t, "s3://bkt/p", StoreOptions{S3: S3Options{Endpoint: "http://127.0.0.1:1", PartSize: MinPartSize}})
	err := st.Create(context.Background(), "x", strings.NewReader(""), MinPartSize*maxParts+1)
	if !errors.Is(err, ErrSize) || !strings.Contains(err.Error(), "raise the part size") {
		t.Errorf("Create of %d bytes = %v, want ErrSize", MinPartSize*maxParts+1, err)
	}
}

// TestS3CredentialsFromEnvironment: with no keys in the options, the
// store signs with AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.
func TestS3CredentialsFromEnvironment(t *testing.T) {
	srv := s3test.Start(t)
	t.Setenv("AWS_ACCESS_KEY_ID", s3test.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", s3test.SecretKey)
	st, _ := openS3(t, srv, func(o *S3Options) { o.AccessKeyID, o.SecretAccessKey = "", "" })
	if err := st.Create(context.Background(), "x", strings.NewReader("y"), 1); err != nil {
		t.Fatalf("Create with credentials from the environment: %v", err)
	}
}

// TestS3Unreachable: a server that is gone gives ErrUnavailable naming the
// endpoint, after minio-go's retries.
func TestS3Unreachable(t *testing.T) {
	srv := s3test.Start(t)
	st, _ := openS3(t, srv, func(o *S3Options) { o.MaxRetries = 2 })
	srv.Stop()
	err := st.Create(context.Background(), "x", strings.NewReader("y"), 1)
	t.Log(err)
	if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), srv.Endpoint) {
		t.Errorf("Create against a stopped server = %v, want ErrUnavailable naming %s", err, srv.Endpoint)
	}
	if _, err := st.Open(context.Background(), "x"); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Open against a stopped server = %v, want ErrUnavailable", err)
	}
}

// TestS3RetryResendsWholeBody: a PUT cut midway is retried by minio-go
// from a rewound body, so the object is whole, never truncated.
func TestS3RetryResendsWholeBody(t *testing.T) {
	srv := s3test.Start(t)
	var cuts atomic.Int32
	st, _ := openS3(t, srv, func(o *S3Options) {
		o.Transport = roundTrip(func(req *http.Request, next http.RoundTripper) (*http.Response, error) {
			if req.Method == http.MethodPut && cuts.Add(1) == 1 {
				_, _ = io.CopyN(io.Discard, req.Body, 1000) // part of the body, then the connection drops
				return nil, errCut
			}
			return next.RoundTrip(req)
		})
	})
	for _, c := range []struct {
		name string
		data []byte
	}{{"single", content(20, 200<<10)}, {"multipart", content(21, 6<<20)}} {
		cuts.Store(0)
		if err := st.Create(context.Background(), c.name, bytes.NewReader(c.data), -1); err != nil {
			t.Fatalf("%s: Create whose first attempt was cut: %v", c.name, err)
		}
		if got := readAll(t, st, c.name); !bytes.Equal(got, c.data) {
			t.Errorf("%s: stored %d bytes, want the %d sent", c.name, len(got), len(c.data))
		}
	}
}

// TestS3LostAnswer: a Create whose request succeeded but whose answer was
// lost is retried, finds its own object (412), and succeeds; one that
// finds another writer's object fails with ErrExist.
func TestS3LostAnswer(t *testing.T) {
	srv := s3test.Start(t)
	var lose atomic.Bool
	st, bucket := openS3(t, srv, func(o *S3Options) {
		o.Transport = roundTrip(func(req *http.Request, next http.RoundTripper) (*http.Response, error) {
			if isObjectPut(req) && lose.CompareAndSwap(true, false) {
				resp, err := next.RoundTrip(req)
				if err == nil {
					_ = resp.Body.Close()
				}
				return nil, errCut
			}
			return next.RoundTrip(req)
		})
	})
	for _, c := range []struct {
		name string
		data []byte
	}{{"single", content(22, 100<<10)}, {"multipart", content(23, 6<<20)}} {
		lose.Store(true)
		if err := st.Create(context.Background(), c.name, bytes.NewReader(c.data), -1); err != nil {
			t.Fatalf("%s: Create whose answer was lost = %v, want success", c.name, err)
		}
		if lose.Load() {
			t.Fatalf("%s: no answer was lost", c.name)
		}
		if got := readAll(t, st, c.name); !bytes.Equal(got, c.data) {
			t.Errorf("%s: wrong content", c.name)
		}
	}
	assertNoLeftovers(t, st)

	// The first attempt fails before reaching the server, and meanwhile
	// another writer creates the name: the retry's 412 is theirs.
	other := srv.Client(t)
	var once sync.Once
	st2 := mustOpen(t, "s3://"+bucket+"/pre", StoreOptions{S3: func() S3Options {
		o := testS3Options(srv)
		o.Transport = roundTrip(func(req *http.Request, next http.RoundTripper) (*http.Response, error) {
			cut := false
			once.Do(func() {
				cut = true
				_, err := other.PutObject(req.Context(), bucket, "pre/raced", strings.NewReader("theirs"), 6, minio.PutObjectOptions{})
				if err != nil {
					t.Error(err)
				}
			})
			if cut {
				return nil, errCut
			}
			return next.RoundTrip(req)
		})
		return o
	}()})
	if err := st2.Create(context.Background(), "raced", strings.NewReader("mine"), 4); !errors.Is(err, ErrExist) {
		t.Errorf("Create that lost a race during its retry = %v, want ErrExist", err)
	}
	if got := readAll(t, st2, "raced"); string(got) != "theirs" {
		t.Errorf("content %q, want the other writer's", got)
	}
}

// TestS3GivesUp: a server that answers 503 to every PUT makes Create fail
// with ErrUnavailable after MaxRetries attempts, leaving nothing.
func TestS3GivesUp(t *testing.T) {
	srv := s3test.Start(t)
	var attempts atomic.Int32
	st, _ := openS3(t, srv, func(o *S3Options) {
		o.MaxRetries = 2
		o.Transport = roundTrip(func(req *http.Request, next http.RoundTripper) (*http.Response, error) {
			if req.Method != http.MethodPut {
				return next.RoundTrip(req)
			}
			attempts.Add(1)
			_, _ = io.Copy(io.Discard, req.Body)
			body := `<?xml version="1.0" encoding="UTF-8"?><Error><Code>ServiceUnavailable</Code><Message>Please reduce your request rate.</Message></Error>`
			return &http.Response{
				StatusCode: http.StatusServiceUnavailable, Status: "503 Service Unavailable", Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
				Header: http.Header{"Content-Type": {"application/xml"}}, Body: io.NopCloser(strings.NewReader(body)),
				ContentLength: int64(len(body)), Request: req,
			}, nil
		})
	})
	err := st.Create(context.Background(), "x", strings.NewReader("data"), 4)
	t.Log(err)
	if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "503") {
		t.Errorf("Create against a failing server = %v, want ErrUnavailable with the 503", err)
	}
	if n := attempts.Load(); n != 2 {
		t.Errorf("%d attempts, want MaxRetries = 2", n)
	}
	err = st.Create(context.Background(), "y", bytes.NewReader(make([]byte, 6<<20)), -1)
	if !errors.Is(err, ErrUnavailable) {
		t.Errorf("multipart Create against a failing server = %v, want ErrUnavailable", err)
	}
	assertNothingLeft(t, st)
}

// TestS3ReadResumes: a GET cut midway is started again from where it
// broke, by Read and by ReadAt.
func TestS3ReadResumes(t *testing.T) {
	srv := s3test.Start(t)
	var cut atomic.Int32
	st, _ := openS3(t, srv, func(o *S3Options) {
		o.Transport = roundTrip(func(req *http.Request, next http.RoundTripper) (*http.Response, error) {
			resp, err := next.RoundTrip(req)
			if err == nil && req.Method == http.MethodGet && resp.StatusCode < 300 && cut.Add(-1) >= 0 {
				resp.Body = &cutBody{ReadCloser: resp.Body, left: 100 << 10}
			}
			return resp, err
		})
	})
	data := content(24, 1<<20)
	if err := st.Create(context.Background(), "x", bytes.NewReader(data), int64(len(data))); err != nil {
		t.Fatal(err)
	}
	cut.Store(2)
	if got := readAll(t, st, "x"); !bytes.Equal(got, data) {
		t.Errorf("Read through two cut GETs: %d bytes, want the %d stored", len(got), len(data))
	}
	obj, err := st.Open(context.Background(), "x")
	if err != nil {
		t.Fatal(err)
	}
	defer closeObj(t, obj)
	cut.Store(2)
	p := make([]byte, 500<<10)
	if n, err := obj.ReadAt(p, 1000); err != nil || !bytes.Equal(p[:n], data[1000:1000+len(p)]) {
		t.Errorf("ReadAt through two cut GETs: %d bytes, %v", n, err)
	}
	cut.Store(100)
	if _, err := obj.ReadAt(p, 0); !errors.Is(err, ErrUnavailable) {
		t.Errorf("ReadAt through GETs that always break = %v, want ErrUnavailable", err)
	}
}

// cutBody yields left bytes, then a network error.
type cutBody struct {
	io.ReadCloser
	left int
}

func (c *cutBody) Read(p []byte) (int, error) {
	if c.left <= 0 {
		return 0, errCut
	}
	n, err := c.ReadCloser.Read(p[:min(len(p), c.left)])
	c.left -= n
	return n, err
}

// TestS3ObjectReplacedWhileOpen: an object deleted and created again
// under its name while open fails the read instead of mixing the two.
func TestS3ObjectReplacedWhileOpen(t *testing.T) {
	srv := s3test.Start(t)
	st, _ := openS3(t, srv, nil)
	ctx := context.Background()
	if err := st.Create(ctx, "x", strings.NewReader("first"), 5); err != nil {
		t.Fatal(err)
	}
	obj, err := st.Open(ctx, "x")
	if err != nil {
		t.Fatal(err)
	}
	defer closeObj(t, obj)
	if err := st.Delete(ctx, "x"); err != nil {
		t.Fatal(err)
	}
	if err := st.Create(ctx, "x", strings.NewReader("other"), 5); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(obj); !errors.Is(err, ErrNotExist) {
		t.Errorf("Read of a replaced object = %v, want ErrNotExist", err)
	}
	if _, err := obj.ReadAt(make([]byte, 2), 1); !errors.Is(err, ErrNotExist) {
		t.Errorf("ReadAt of a replaced object = %v, want ErrNotExist", err)
	}
}
