// Package server is hotpipe's admin API over one data directory: HTTP
// with JSON, and streaming bodies for backup streams, so that backups,
// restores and checks run without a shell on the database host.
//
// Every endpoint but GET /health needs the bearer token (compared in
// constant time); a server without a token may listen on loopback only
// (CheckListen). Database names are checked before anything is touched.
// Backups run as lock-free readers: the application keeps writing. Errors
// are JSON objects that carry the exit code the same command run locally
// would end in, so that a remote command ends as the local one would.
package server

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/hotpipe/hotpipe/repo"
)

// Options configure a Server.
type Options struct {
	// DataDir is the data directory whose databases the server serves.
	DataDir string
	// Token is the bearer token every request but GET /health must carry.
	// Empty means none is asked for: allowed on loopback only (see
	// CheckListen).
	Token string
	// Logf, if set, logs what the server does that no client sees: a
	// stream that failed after it began, a client that went away.
	Logf func(format string, args ...any)
	// RestoreIdle is how long a restore waits for more of its body before
	// it stops, releasing the writer lock; 0 means DefaultRestoreIdle.
	RestoreIdle time.Duration

	// BackupDir is where jobs write backup files, and the files verify
	// reads (serve --backup-dir); empty: no file jobs. A request names a
	// file by a plain name (ValidateFileName), never a path.
	BackupDir string
	// Repo is the repository jobs back up and archive into (serve --repo);
	// nil: no repository jobs.
	Repo *repo.Repository
	// JobRetention is how long an ended job is kept with its result; 0
	// means 24 hours. JobsKept bounds how many are kept; 0 means 100.
	JobRetention time.Duration
	JobsKept     int

	// sent, if set, is told of each frame block a backup stream sent
	// from its segment file (tests).
	sent func(n int)
}

// ErrNoToken means a server was asked to listen beyond loopback without a
// token.
var ErrNoToken = errors.New("a server listening beyond loopback needs a token")

// Server serves the admin API: see the package documentation.
type Server struct {
	opts      Options
	mux       *http.ServeMux
	drain     chan struct{} // closed by Drain
	drainOnce sync.Once

	mu      sync.Mutex
	streams map[string]*liveStream // running streams by id, for their list and stop
	count   counters
	jobs    *jobTable
}

// New returns a server of opts.DataDir.
func New(opts Options) (*Server, error) {
	if opts.DataDir == "" {
		return nil, errors.New("server: no data directory")
	}
	if opts.Logf == nil {
		opts.Logf = func(string, ...any) {}
	}
	s := &Server{opts: opts, mux: http.NewServeMux(), drain: make(chan struct{}), streams: map[string]*liveStream{}, jobs: newJobTable(opts)}
	s.mux.HandleFunc("GET /health", s.health)
	s.mux.Handle("GET /metrics", s.authorized(s.metrics))
	s.mux.Handle("GET /v1/databases", s.authorized(s.databases))
	s.mux.Handle("GET /v1/databases/{db}", s.authorized(s.status))
	s.mux.Handle("GET /v1/databases/{db}/hash", s.authorized(s.hash))
	s.mux.Handle("GET /v1/databases/{db}/backup", s.authorized(s.backup))
	s.mux.Handle("POST /v1/databases/{db}/restore", s.authorized(s.restore))
	s.mux.Handle("GET /v1/databases/{db}/check", s.authorized(s.check))
	s.mux.Handle("GET /v1/streams", s.authorized(s.listStreams))
	s.mux.Handle("POST /v1/streams/{id}/stop", s.authorized(s.stopStream))
	s.mux.Handle("POST /v1/jobs", s.authorized(s.startJob))
	s.mux.Handle("GET /v1/jobs", s.authorized(s.listJobs))
	s.mux.Handle("GET /v1/jobs/{id}", s.authorized(s.getJob))
	s.mux.Handle("POST /v1/jobs/{id}/abort", s.authorized(s.abortJob))
	s.mux.Handle("GET /v1/files", s.authorized(s.listFiles))
	s.mux.Handle("GET /v1/files/{name}/verify", s.authorized(s.verifyFiles))
	s.mux.Handle("/", s.authorized(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, &httpError{status: http.StatusNotFound, err: fmt.Errorf("%w: no endpoint %s %s", errUsage, r.Method, r.URL.Path)})
	}))
	return s, nil
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec := &statusRecorder{ResponseWriter: w}
	s.mux.ServeHTTP(rec, r)
	if rec.status >= 400 {
		s.count.errorAnswers.Add(1)
	}
}

// Drain asks every running stream to end, as SIGTERM ends the same
// command run locally: a following backup writes its end record, a plain
// one stops at a frame boundary without one. Call it before
// http.Server.Shutdown, which waits for them.
func (s *Server) Drain() { s.drainOnce.Do(func() { close(s.drain) }) }

func (s *Server) health(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
}

// authorized lets a request with the bearer token through to h, and
// answers any other with 401.
func (s *Server) authorized(h http.HandlerFunc) http.Handler {
	want := []byte("Bearer " + s.opts.Token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.opts.Token != "" && subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="hotpipe"`)
			writeError(w, &httpError{status: http.StatusUnauthorized, err: errUnauthorized})
			return
		}
		h(w, r)
	})
}

// errUnauthorized is a request without the server's token.
var errUnauthorized = errors.New("unauthorized: the server wants its token (HOTPIPE_TOKEN, or --token-file)")

// CheckListen refuses addr (host:port) without a token unless its host is
// a loopback address or localhost: anyone who can reach the port could
// back up, restore and read every database.
func CheckListen(addr, token string) error {
	if token != "" {
		return nil
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%w: listen address %q: %v", errUsage, addr, err)
	}
	if strings.EqualFold(host, "localhost") {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("%w: %q is not a loopback address: give a token (HOTPIPE_TOKEN or --token-file)", ErrNoToken, addr)
}
