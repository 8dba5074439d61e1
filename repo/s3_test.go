package repo

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

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

// isPartPut reports whether req uploads a part of a multipart upload, and
// which.
func isPartPut(req *http.Request) (part int, ok bool) {
	q := req.URL.Query()
	if req.Method != http.MethodPut || !q.Has("uploadId") || !q.Has("partNumber") {
		return 0, false
	}
	n, err := strconv.Atoi(q.Get("partNumber"))
	return n, err == nil
}

// s3Error is an S3 error answer to req, made by a test transport.
func s3Error(req *http.Request, status int, code, msg string) *http.Response {
	body := `<?xml version="1.0" encoding="UTF-8"?><Error><Code>` + code + `</Code><Message>` + msg + `</Message></Error>`
	return &http.Response{
		StatusCode: status, Status: fmt.Sprintf("%d %s", status, http.StatusText(status)), Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: http.Header{"Content-Type": {"application/xml"}}, Body: io.NopCloser(strings.NewReader(body)),
		ContentLength: int64(len(body)), Request: req,
	}
}

// TestS3PartsInFlight: with Parallel 4, four parts of a six-part object
// are in flight at once, never more; with Parallel 1, one at a time. The
// object is whole, and its ETag is the MD5 of the parts' MD5s in order,
// which the lost-answer check compares with.
func TestS3PartsInFlight(t *testing.T) {
	srv := s3test.Start(t)
	data := content(30, 6*MinPartSize-1000) // six parts, the last short
	var want bytes.Buffer
	for p := data; len(p) > 0; p = p[min(len(p), MinPartSize):] {
		sum := md5.Sum(p[:min(len(p), MinPartSize)])
		want.Write(sum[:])
	}
	sum := md5.Sum(want.Bytes())
	wantETag := hex.EncodeToString(sum[:]) + "-6"
	for _, c := range []struct {
		parallel, want int
		hold           time.Duration // how long a part waits for want in flight
	}{
		{parallel: 4, want: 4, hold: 10 * time.Second},
		{parallel: 1, want: 1, hold: 100 * time.Millisecond},
	} {
		for _, known := range []bool{true, false} {
			t.Run(fmt.Sprintf("parallel=%d/known=%v", c.parallel, known), func(t *testing.T) {
				var mu sync.Mutex
				inFlight, most := 0, 0
				enough := make(chan struct{})
				st, _ := openS3(t, srv, func(o *S3Options) {
					o.Parallel = c.parallel
					o.Transport = roundTrip(func(req *http.Request, next http.RoundTripper) (*http.Response, error) {
						if _, ok := isPartPut(req); !ok {
							return next.RoundTrip(req)
						}
						mu.Lock()
						inFlight++
						if inFlight == c.want && most < c.want && c.want > 1 {
							close(enough) // the first time, not when part 5 makes four again
						}
						most = max(most, inFlight)
						mu.Unlock()
						defer func() {
							mu.Lock()
							inFlight--
							mu.Unlock()
						}()
						// Hold the part until want are in flight, so
						// that a loaded machine shows them all at once.
						select {
						case <-enough:
						case <-time.After(c.hold):
						}
						return next.RoundTrip(req)
					})
				})
				if err := create(t, st, "x", data, known); err != nil {
					t.Fatal(err)
				}
				mu.Lock()
				defer mu.Unlock()
				if most != c.want {
					t.Errorf("Parallel %d: up to %d parts in flight, want %d", c.parallel, most, c.want)
				}
				if inFlight != 0 {
					t.Errorf("%d parts still in flight after Create returned", inFlight)
				}
				if got := readAll(t, st, "x"); !bytes.Equal(got, data) {
					t.Error("the object differs from the data sent")
				}
				s := st.(*s3Store)
				if !s.holds(context.Background(), "pre/x", wantETag, int64(len(data))) {
					t.Errorf("the object's ETag or size differ from %s, %d", wantETag, len(data))
				}
			})
		}
	}
}

// TestS3PartFailsInFlight: a part that fails while others are in flight
// makes Create stop reading, wait for those, abort the upload and return
// the part's error: ErrUnavailable after retries of a 503, ErrAccess for
// a 403. Nothing is left behind.
func TestS3PartFailsInFlight(t *testing.T) {
	srv := s3test.Start(t)
	data := content(31, 6*MinPartSize) // six parts, four in flight
	for _, c := range []struct {
		status     int
		code, msg  string
		want       error
		wantSaying string
	}{
		{http.StatusServiceUnavailable, "ServiceUnavailable", "Please reduce your request rate.", ErrUnavailable, "503"},
		{http.StatusForbidden, "AccessDenied", "Access Denied.", ErrAccess, "AccessDenied"},
	} {
		for _, known := range []bool{true, false} {
			t.Run(fmt.Sprintf("%d/known=%v", c.status, known), func(t *testing.T) {
				var mu sync.Mutex
				inFlight, atFailure, last := 0, 0, 0
				failed := make(chan struct{})
				var failOnce sync.Once
				st, _ := openS3(t, srv, func(o *S3Options) {
					o.Parallel = 4
					o.MaxRetries = 2
					o.Transport = roundTrip(func(req *http.Request, next http.RoundTripper) (*http.Response, error) {
						part, ok := isPartPut(req)
						if !ok {
							return next.RoundTrip(req)
						}
						mu.Lock()
						inFlight++
						last = max(last, part)
						mu.Unlock()
						defer func() {
							mu.Lock()
							inFlight--
							mu.Unlock()
						}()
						if part == 3 {
							// Part 3 fails once parts 1, 2 and 4 are
							// held (or after a while, to fail clearly).
							deadline := time.Now().Add(10 * time.Second)
							for {
								mu.Lock()
								n := inFlight
								mu.Unlock()
								if n >= 4 || time.Now().After(deadline) {
									break
								}
								time.Sleep(time.Millisecond)
							}
							_, _ = io.Copy(io.Discard, req.Body)
							mu.Lock()
							atFailure = max(atFailure, inFlight)
							mu.Unlock()
							return s3Error(req, c.status, c.code, c.msg), nil
						}
						// The other parts wait until Create gives them up.
						select {
						case <-req.Context().Done():
							return nil, req.Context().Err()
						case <-time.After(30 * time.Second):
							failOnce.Do(func() { close(failed) })
							return next.RoundTrip(req)
						}
					})
				})
				err := create(t, st, "x", data, known)
				t.Log(err)
				if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.wantSaying) || !strings.Contains(err.Error(), "no object was made") {
					t.Errorf("Create whose part 3 failed = %v, want %v saying %q and that no object was made", err, c.want, c.wantSaying)
				}
				select {
				case <-failed:
					t.Error("parts in flight were not cancelled when part 3 failed")
				default:
				}
				mu.Lock()
				if atFailure < 4 {
					t.Errorf("%d parts in flight when part 3 failed, want 4", atFailure)
				}
				if last > 4 {
					t.Errorf("part %d was sent after part 3 failed: the source was read on", last)
				}
				if inFlight != 0 {
					t.Errorf("%d parts still in flight after Create returned", inFlight)
				}
				mu.Unlock()
				assertNothingLeft(t, st)
			})
		}
	}
}
