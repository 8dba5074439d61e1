package s3test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Fault is what a Proxy does to the requests it matches instead of
// passing them on unharmed.
type Fault struct {
	// Match picks the requests the fault applies to; nil matches all.
	Match func(*http.Request) bool
	// Times is how many matching requests the fault applies to; 0 means
	// every one until the fault is cleared.
	Times int
	// Status, if set, answers the request with this status and an S3
	// error body (500 InternalError, 503 ServiceUnavailable, ...) without
	// passing it on.
	Status int
	// Delay holds the request this long before passing it on: a slow
	// server.
	Delay time.Duration
	// CutAfter, if positive, passes the request on but cuts the client's
	// connection once this many bytes of the request body were read (or,
	// for a request without a body, of the response body were sent).
	CutAfter int64
	// LoseAnswer passes the request on and cuts the connection instead of
	// answering: the request took effect, and the client cannot know.
	LoseAnswer bool
	// Hold, if not nil, reads half the request body then stops: it is
	// announced on Proxy.Held and waits until Hold is closed, when its
	// connection is cut. Nothing reaches the server.
	Hold chan struct{}
}

// Proxy is an HTTP proxy in front of a Server that injects faults: tests
// point a client at its Endpoint and choose, request by request, whether
// it passes, is answered with an error, is slow, is cut, or hangs. It
// forwards the Host header unchanged, so signed requests stay valid.
type Proxy struct {
	// Endpoint is the proxy's URL, http://127.0.0.1:PORT.
	Endpoint string
	// Held receives a description ("PUT /bucket/key") of each request a
	// Hold fault has stopped.
	Held chan string

	srv    *http.Server
	target *httputil.ReverseProxy

	mu      sync.Mutex
	faults  []*Fault
	applied map[*Fault]int
	seen    int
	hurt    int
}

// NewProxy starts a proxy to s on a free loopback port; it is closed when
// the test ends.
func NewProxy(t testing.TB, s *Server) *Proxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(s.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{Endpoint: "http://" + l.Addr().String(), Held: make(chan string, 16), applied: map[*Fault]int{}}
	p.target = &httputil.ReverseProxy{
		Director: func(r *http.Request) { r.URL.Scheme, r.URL.Host = u.Scheme, u.Host },
		// A cut or refused connection to the server is a 502, as from a
		// load balancer in front of a dead one.
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			if c, ok := r.Context().Value(cutKey{}).(*cutReader); ok && c.cut.Load() {
				panic(http.ErrAbortHandler) // net/http closes the connection without a word
			}
			writeS3Error(w, http.StatusBadGateway, "BadGateway", err.Error())
		},
	}
	p.srv = &http.Server{Handler: p, ReadHeaderTimeout: time.Minute}
	go func() { _ = p.srv.Serve(l) }()
	t.Cleanup(func() { _ = p.srv.Close() })
	return p
}

// Inject adds f: each request takes the first fault that matches it and
// has not used up its Times.
func (p *Proxy) Inject(f Fault) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.faults = append(p.faults, &f)
}

// Clear removes every fault: requests pass again.
func (p *Proxy) Clear() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.faults = nil
}

// Counts returns how many requests the proxy has seen and how many of
// them a fault hit.
func (p *Proxy) Counts() (seen, hurt int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.seen, p.hurt
}

// fault picks the fault for r, if any, and counts it.
func (p *Proxy) fault(r *http.Request) *Fault {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.seen++
	for _, f := range p.faults {
		if (f.Match == nil || f.Match(r)) && (f.Times == 0 || p.applied[f] < f.Times) {
			p.applied[f]++
			p.hurt++
			return f
		}
	}
	return nil
}

func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f := p.fault(r)
	switch {
	case f == nil:
		p.target.ServeHTTP(w, r)
	case f.Hold != nil:
		_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, max(r.ContentLength/2, 0)))
		p.Held <- r.Method + " " + r.URL.Path
		<-f.Hold
		panic(http.ErrAbortHandler) // net/http closes the connection without a word
	case f.LoseAnswer:
		p.target.ServeHTTP(httptest.NewRecorder(), r)
		panic(http.ErrAbortHandler)
	case f.Status != 0:
		_, _ = io.Copy(io.Discard, r.Body)
		writeS3Error(w, f.Status, codeOf(f.Status), "injected by the test proxy")
	case f.CutAfter > 0 && r.ContentLength != 0:
		c := &cutReader{r: r.Body, left: f.CutAfter}
		r.Body = c
		p.target.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), cutKey{}, c)))
	case f.CutAfter > 0:
		p.target.ServeHTTP(&cutWriter{ResponseWriter: w, left: f.CutAfter}, r)
	default:
		select {
		case <-time.After(f.Delay):
		case <-r.Context().Done():
			return
		}
		p.target.ServeHTTP(w, r)
	}
}

// cutReader fails the request once left bytes of its body are read; the
// proxy's error handler then cuts the client's connection. (Read runs on
// the transport's goroutine, where a panic would not be the handler's.)
type cutReader struct {
	r    io.ReadCloser
	left int64
	cut  atomic.Bool
}

// cutKey keys a request's cutReader in its context, for the error handler.
type cutKey struct{}

var errCut = errors.New("cut by the test proxy")

func (c *cutReader) Read(b []byte) (int, error) {
	if c.left <= 0 {
		c.cut.Store(true)
		return 0, errCut
	}
	n, err := c.r.Read(b[:min(int64(len(b)), c.left)])
	c.left -= int64(n)
	return n, err
}

func (c *cutReader) Close() error { return c.r.Close() }

// cutWriter ends the response with the connection once left bytes of its
// body are sent.
type cutWriter struct {
	http.ResponseWriter
	left int64
}

func (c *cutWriter) Write(b []byte) (int, error) {
	if int64(len(b)) >= c.left {
		_, _ = c.ResponseWriter.Write(b[:c.left])
		if fl, ok := c.ResponseWriter.(http.Flusher); ok {
			fl.Flush()
		}
		panic(http.ErrAbortHandler)
	}
	c.left -= int64(len(b))
	return c.ResponseWriter.Write(b)
}

func codeOf(status int) string {
	switch status {
	case http.StatusServiceUnavailable:
		return "ServiceUnavailable"
	case http.StatusInternalServerError:
		return "InternalError"
	case http.StatusTooManyRequests:
		return "SlowDown"
	}
	return strings.ReplaceAll(http.StatusText(status), " ", "")
}

func writeS3Error(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>%s</Message></Error>`, code, msg)
}
