package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"

	"filippo.io/age"

	"github.com/hotpipe/hotpipe/engine"
	"github.com/hotpipe/hotpipe/internal/exitcode"
	"github.com/hotpipe/hotpipe/repo"
)

// Job kinds.
const (
	JobBackup  = "backup"  // one backup, into a file of the backup directory or into the repository
	JobArchive = "archive" // the continuous archive into the repository, until aborted
)

// Job states.
const (
	JobRunning     = "running"
	JobSucceeded   = "succeeded"
	JobFailed      = "failed"
	JobAborted     = "aborted"     // POST /v1/jobs/{id}/abort
	JobInterrupted = "interrupted" // the server stopped (Drain)
)

// JobStates lists the states, in the order metrics give them.
var JobStates = []string{JobRunning, JobSucceeded, JobFailed, JobAborted, JobInterrupted}

// JobRequest is the body of POST /v1/jobs: what a job is to do.
type JobRequest struct {
	Kind string `json:"job_kind"` // JobBackup or JobArchive
	DB   string `json:"db"`
	// Repo: into the server's repository (serve --repo). An archive
	// always goes there.
	Repo bool `json:"repo,omitempty"`
	// File: into this file of the server's backup directory (serve
	// --backup-dir): a plain name, no directory.
	File string `json:"file,omitempty"`
	// Append adds to File what it lacks, as hot-backup --append does.
	Append bool `json:"append,omitempty"`
	// Level and Expires are a repository backup's, as hot-backup --repo's.
	Level   int        `json:"level,omitempty"`
	Expires *time.Time `json:"expires,omitempty"`
	// MaxRate paces a backup, in bytes a second (at least 1000).
	MaxRate float64 `json:"max_rate,omitempty"`
	// MaxDelay ("1s") and ObjectSize (bytes) are an archive's, as
	// archive --max-delay and --object-size.
	MaxDelay   string `json:"max_delay,omitempty"`
	ObjectSize int64  `json:"object_size,omitempty"`
	// Recipients encrypt the backup (a file, repository objects) with age to each of these public
	// keys (age1..., ssh-ed25519 ..., ssh-rsa ...), as hot-backup
	// --recipient does; the server needs no private key.
	Recipients []string `json:"recipients,omitempty"`
}

// JobStatus is a job as GET /v1/jobs/{id} answers it: what it does, its
// state, how far it has come and, once ended, its result or error.
type JobStatus struct {
	ID         string     `json:"id"`
	Kind       string     `json:"job_kind"`
	DB         string     `json:"db"`
	File       string     `json:"file,omitempty"`
	Repo       string     `json:"repo,omitempty"`
	Append     bool       `json:"append,omitempty"`
	Level      *int       `json:"level,omitempty"`
	State      string     `json:"state"`
	Started    time.Time  `json:"started"`
	Ended      *time.Time `json:"ended,omitempty"`
	Seconds    float64    `json:"seconds"`
	FirstLSN   uint64     `json:"first_lsn"`
	LastLSN    uint64     `json:"last_lsn"` // the last LSN written (archived)
	EndLSN     uint64     `json:"end_lsn"`  // the last LSN to write; an archive's database's last durable LSN
	LastCommit *time.Time `json:"last_commit,omitempty"`
	Frames     uint64     `json:"frames"`
	Bytes      int64      `json:"bytes"`
	Rate       float64    `json:"bytes_per_second"`
	Percent    *float64   `json:"percent,omitempty"`
	ETA        *float64   `json:"eta_seconds,omitempty"`
	LagLSNs    *uint64    `json:"lag_lsns,omitempty"`    // an archive's
	LagSeconds *float64   `json:"lag_seconds,omitempty"` // an archive's
	Objects    int        `json:"object_count,omitempty"`
	Object     string     `json:"object,omitempty"` // a repository backup's object
	Expires    *time.Time `json:"expires,omitempty"`
	Complete   bool       `json:"complete"`             // the backup ends in its end record
	Encrypted  bool       `json:"encrypted,omitempty"`  // with age, to the request's recipients
	UpToDate   bool       `json:"up_to_date,omitempty"` // nothing was needed
	// Note says what an aborted or interrupted job left, and how to go on.
	Note  string     `json:"note,omitempty"`
	Error *ErrorJSON `json:"error,omitempty"`
}

// Jobs is what GET /v1/jobs answers: running and kept jobs, oldest first.
type Jobs struct {
	Jobs []JobStatus `json:"jobs"`
}

// Limits of jobs.
const (
	// maxJobBody bounds a job request's JSON: a few hundred bytes are
	// enough, and nothing is read beyond it.
	maxJobBody = 64 << 10
	// maxFileName bounds a backup file's name (most file systems' limit).
	maxFileName = 255
	// maxRunningJobs bounds the jobs running at once: each holds a
	// database open and a goroutine.
	maxRunningJobs = 64
)

// Errors of jobs.
var (
	// ErrNoJob means no job has that id (or it ended long enough ago to
	// have been forgotten).
	ErrNoJob = errors.New("no such job")
	// ErrStopping means the server is stopping, and starts no job.
	ErrStopping = fmt.Errorf("the server is stopping: %w", context.Canceled)
	// ErrFileName means a backup file name that is not a plain name.
	ErrFileName = fmt.Errorf("%w: a backup file is named by a plain file name: no slash, no .., no leading dot, at most %d bytes", errUsage, maxFileName)
)

// ValidateFileName checks a name of a file in the backup directory: a
// plain name, so that no request can make the server touch a file
// elsewhere.
func ValidateFileName(name string) error {
	bad := name == "" || len(name) > maxFileName || strings.HasPrefix(name, ".") || strings.Contains(name, "..") ||
		strings.ContainsAny(name, `/\`) || strings.ContainsFunc(name, unicode.IsControl)
	if bad {
		return fmt.Errorf("%q: %w", name, ErrFileName)
	}
	return nil
}

// jobTable holds the server's jobs.
type jobTable struct {
	mu        sync.Mutex
	jobs      map[string]*job
	next      uint64           // the last id given
	retention time.Duration    // how long an ended job is kept
	keep      int              // how many ended jobs are kept at most
	now       func() time.Time // the clock, for tests of retention
	dbs       map[string]*dbRecord
}

// dbRecord is what metrics say of a database's backups.
type dbRecord struct {
	lastSuccess    time.Time
	failures       uint64
	archiveSuccess time.Time // an archive job last wrote an object
}

func newJobTable(opts Options) *jobTable {
	t := &jobTable{jobs: map[string]*job{}, retention: opts.JobRetention, keep: opts.JobsKept, now: time.Now, dbs: map[string]*dbRecord{}}
	if t.retention <= 0 {
		t.retention = 24 * time.Hour
	}
	if t.keep <= 0 {
		t.keep = 100
	}
	return t
}

// record is db's record; the caller holds t.mu.
func (t *jobTable) record(db string) *dbRecord {
	r := t.dbs[db]
	if r == nil {
		r = &dbRecord{}
		t.dbs[db] = r
	}
	return r
}

// backupEnded notes a backup's outcome for metrics: a success, or a
// failure that was not an interruption (an abort, a client gone, the
// server stopping).
func (s *Server) backupEnded(db string, err error) {
	t := s.jobs
	t.mu.Lock()
	defer t.mu.Unlock()
	switch {
	case err == nil:
		t.record(db).lastSuccess = t.now()
	case exitcode.Of(err) != exitcode.Interrupted:
		t.record(db).failures++
	}
}

// startJob answers POST /v1/jobs: it checks the request, opens the
// database as a reader, starts the job on the server's own context (it
// survives its client) and answers 201 with the job's status.
func (s *Server) startJob(w http.ResponseWriter, r *http.Request) {
	req, err := decodeJob(w, r)
	if err == nil {
		err = s.checkJob(req)
	}
	if err == nil && req.File != "" {
		err = s.checkTarget(req.File)
	}
	var recipients []age.Recipient
	if err == nil {
		recipients, err = jobRecipients(req)
	}
	if err != nil {
		writeError(w, err)
		return
	}
	db, err := engine.Open(s.opts.DataDir, req.DB, engine.Options{ReadOnly: true})
	if err != nil {
		writeError(w, err)
		return
	}
	j, err := s.addJob(req)
	if err != nil {
		db.Close()
		writeError(w, err)
		return
	}
	j.recipients = recipients
	st := j.status(s.jobs.now()) // as it starts: a job that fails at once still answers 201
	go s.runJob(j, db, req)
	writeJSON(w, http.StatusCreated, st)
}

// checkTarget refuses a job's file that exists and is not a regular
// file: a symbolic link would have the job write outside the backup
// directory, a FIFO would hold it up.
func (s *Server) checkTarget(name string) error {
	fi, err := os.Lstat(s.filePath(name))
	if err == nil && !fi.Mode().IsRegular() {
		return fmt.Errorf("%s: %w", name, errNotRegular)
	}
	return nil
}

// decodeJob reads a job request: one JSON object of known fields, at
// most maxJobBody bytes.
func decodeJob(w http.ResponseWriter, r *http.Request) (JobRequest, error) {
	var req JobRequest
	if err := known(r.URL.Query()); err != nil {
		return req, err
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxJobBody))
	dec.DisallowUnknownFields()
	err := dec.Decode(&req)
	if err == nil && dec.Decode(&struct{}{}) != io.EOF {
		err = errors.New("more than one JSON object")
	}
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return req, &httpError{status: http.StatusRequestEntityTooLarge, err: fmt.Errorf("%w: a job request is at most %d bytes", errUsage, maxJobBody)}
	}
	if err != nil {
		return req, fmt.Errorf("%w: job request: %v", errUsage, err)
	}
	return req, nil
}

// checkJob refuses a request the server cannot run: a bad kind, name,
// option, or a target the server was not given.
func (s *Server) checkJob(req JobRequest) error {
	if err := engine.ValidateName(req.DB); err != nil {
		return err
	}
	usage := func(format string, args ...any) error {
		return fmt.Errorf("%w: job of %s: %s", errUsage, req.DB, fmt.Sprintf(format, args...))
	}
	switch {
	case req.Kind != JobBackup && req.Kind != JobArchive:
		return usage("job_kind %q: give %q or %q", req.Kind, JobBackup, JobArchive)
	case req.Kind == JobBackup && req.Repo == (req.File != ""):
		return usage("a backup goes into the repository (repo) or a file (file): give one")
	case req.Kind == JobArchive && req.File != "":
		return usage("an archive goes into the repository, not a file")
	case (req.Repo || req.Kind == JobArchive) && s.opts.Repo == nil:
		return usage("this server has no repository: start hotpipe serve with --repo URL")
	case req.File != "" && s.opts.BackupDir == "":
		return usage("this server has no backup directory: start hotpipe serve with --backup-dir DIR")
	case req.Append && req.File == "":
		return usage("append goes with file")
	case req.File != "" && (req.Level != 0 || req.Expires != nil):
		return usage("level and expires are a repository backup's")
	case req.Kind == JobArchive && (req.Level != 0 || req.Expires != nil || req.MaxRate != 0):
		return usage("an archive takes no level, expires or max_rate")
	case req.Level < 0 || req.Level > repo.MaxLevel:
		return usage("level %d: %v", req.Level, repo.ErrLevel)
	case req.Expires != nil && !req.Expires.After(time.Now()):
		return usage("expires %s is not in the future", req.Expires.Format(time.RFC3339))
	case req.MaxRate != 0 && req.MaxRate < 1000:
		return usage("max_rate %g: give at least 1000 bytes a second", req.MaxRate)
	case req.Kind != JobArchive && (req.MaxDelay != "" || req.ObjectSize != 0):
		return usage("max_delay and object_size are an archive's")
	case req.ObjectSize != 0 && req.ObjectSize < 1<<20:
		return usage("object_size %d: give at least 1 MiB", req.ObjectSize)
	}
	if req.File != "" {
		if err := ValidateFileName(req.File); err != nil {
			return err
		}
	}
	if req.MaxDelay != "" {
		if d, err := time.ParseDuration(req.MaxDelay); err != nil || d < 10*time.Millisecond || d > 24*time.Hour {
			return usage("max_delay %q: give 10ms to 24h", req.MaxDelay)
		}
	}
	return nil
}

// addJob registers a new running job of req.
func (s *Server) addJob(req JobRequest) (*job, error) {
	t := s.jobs
	t.mu.Lock()
	defer t.mu.Unlock()
	select {
	case <-s.drain: // checked under t.mu: Wait sees every job added before Drain
		return nil, ErrStopping
	default:
	}
	t.prune()
	running := 0
	for _, j := range t.jobs {
		if j.ended() != nil {
			continue
		}
		running++
		if req.Kind == JobArchive && j.st.Kind == JobArchive && j.st.DB == req.DB {
			return nil, &httpError{status: http.StatusConflict, err: fmt.Errorf("%w: job %s archives %s already", errUsage, j.st.ID, req.DB)}
		}
	}
	if running >= maxRunningJobs {
		return nil, &httpError{status: http.StatusTooManyRequests, err: fmt.Errorf("%d jobs are running: wait for one to end", running)}
	}
	t.next++
	ctx, cancel := context.WithCancel(context.Background())
	j := &job{ctx: ctx, cancel: cancel, stop: make(chan struct{}), done: make(chan struct{}),
		st: JobStatus{ID: strconv.FormatUint(t.next, 10), Kind: req.Kind, DB: req.DB, File: req.File,
			Append: req.Append, Encrypted: len(req.Recipients) > 0, State: JobRunning, Started: t.now().UTC()}}
	if req.Repo || req.Kind == JobArchive {
		j.st.Repo = s.opts.Repo.String()
	}
	if req.Kind == JobBackup && req.Repo {
		level := req.Level
		j.st.Level = &level
	}
	t.jobs[j.st.ID] = j
	return j, nil
}

// job returns the job id, or an error answered 404.
func (s *Server) job(id string) (*job, error) {
	s.jobs.mu.Lock()
	defer s.jobs.mu.Unlock()
	s.jobs.prune()
	j := s.jobs.jobs[id]
	if j == nil {
		return nil, &httpError{status: http.StatusNotFound, err: fmt.Errorf("job %q: %w", id, ErrNoJob)}
	}
	return j, nil
}

// listJobs answers GET /v1/jobs: running and kept jobs, oldest first.
func (s *Server) listJobs(w http.ResponseWriter, r *http.Request) {
	if err := known(r.URL.Query()); err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, Jobs{Jobs: s.jobStatuses()})
}

// jobStatuses is every job's status, oldest first.
func (s *Server) jobStatuses() []JobStatus {
	t := s.jobs
	t.mu.Lock()
	t.prune()
	jobs := make([]*job, 0, len(t.jobs))
	for _, j := range t.jobs {
		jobs = append(jobs, j)
	}
	now := t.now()
	t.mu.Unlock()
	out := make([]JobStatus, 0, len(jobs))
	for _, j := range jobs {
		out = append(out, j.status(now))
	}
	slices.SortFunc(out, func(a, b JobStatus) int { return cmpID(a.ID, b.ID) })
	return out
}

// cmpID orders ids as the numbers they are: in the order jobs started.
func cmpID(a, b string) int {
	if len(a) != len(b) {
		return len(a) - len(b)
	}
	return strings.Compare(a, b)
}

// getJob answers GET /v1/jobs/{id}.
func (s *Server) getJob(w http.ResponseWriter, r *http.Request) { s.answerJob(w, r, nil) }

// abortJob answers POST /v1/jobs/{id}/abort: a backup stops at a frame
// boundary (a file is left resumable with append, a repository gets no
// partial object); an archive writes what is durable as a last object
// (asked twice, it stops at once). Aborting an ended job changes nothing.
// The answer is the job's status, which is "aborted" once it has settled.
func (s *Server) abortJob(w http.ResponseWriter, r *http.Request) {
	s.answerJob(w, r, func(j *job) { j.halt(JobAborted) })
}

// answerJob answers with the status of the job the request names, after
// do, if set, has done its part.
func (s *Server) answerJob(w http.ResponseWriter, r *http.Request, do func(*job)) {
	err := known(r.URL.Query())
	var j *job
	if err == nil {
		j, err = s.job(r.PathValue("id"))
	}
	if err != nil {
		writeError(w, err)
		return
	}
	if do != nil {
		do(j)
	}
	writeJSON(w, http.StatusOK, j.status(s.jobs.now()))
}

// filePath is the path of the backup directory's file name.
func (s *Server) filePath(name string) string { return filepath.Join(s.opts.BackupDir, name) }
