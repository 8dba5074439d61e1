package server

import (
	"context"
	"errors"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hotpipe/hotpipe/engine"
	"github.com/hotpipe/hotpipe/internal/exitcode"
	"github.com/hotpipe/hotpipe/repo"
)

// jobsServed starts a server with a backup directory and a repository
// over a data directory holding foo with n transactions of valueSize
// bytes; opts may set JobRetention and JobsKept.
func jobsServed(t *testing.T, n, valueSize int, opts Options) (*Client, *Server, *engine.DB) {
	t.Helper()
	dir := t.TempDir()
	db := fooIn(t, dir, n, valueSize)
	store, err := repo.OpenStore(context.Background(), filepath.Join(dir, "repo"), repo.StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	opts.DataDir, opts.Token, opts.Logf = dir, token, t.Logf
	opts.BackupDir, opts.Repo = filepath.Join(dir, "backups"), repo.New(store)
	if err := os.Mkdir(opts.BackupDir, 0o755); err != nil {
		t.Fatal(err)
	}
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s)
	t.Cleanup(func() {
		s.Drain()
		if err := s.Wait(context.Background()); err != nil {
			t.Error(err)
		}
		hs.Close()
	})
	c, err := NewClient(hs.URL, ClientOptions{Token: token})
	if err != nil {
		t.Fatal(err)
	}
	return c, s, db
}

// settled waits for job id to settle and returns its status.
func settled(t *testing.T, c *Client, s *Server, id string) JobStatus {
	t.Helper()
	s.jobs.mu.Lock()
	j := s.jobs.jobs[id]
	s.jobs.mu.Unlock()
	if j == nil {
		t.Fatalf("no job %s", id)
	}
	select {
	case <-j.done:
	case <-time.After(waitTimeout):
		t.Fatalf("job %s still running after %v", id, waitTimeout)
	}
	st, err := c.Job(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

const waitTimeout = time.Minute

// waitUntil polls cond until it holds.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(waitTimeout); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no %s after %v", what, waitTimeout)
		}
	}
}

// hasBytes reports whether path holds at least n bytes.
func hasBytes(path string, n int64) func() bool {
	return func() bool { fi, err := os.Stat(path); return err == nil && fi.Size() >= n }
}

func startJob(t *testing.T, c *Client, req JobRequest) JobStatus {
	t.Helper()
	st, err := c.StartJob(context.Background(), req)
	if err != nil {
		t.Fatalf("start %+v: %v", req, err)
	}
	if st.State != JobRunning || st.ID == "" {
		t.Fatalf("started job %+v", st)
	}
	return st
}

// restoresTo checks that the backup file restores to db's state.
func restoresTo(t *testing.T, path string, db *engine.DB) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	lsn, h, err := restore(t, f)
	if err != nil {
		t.Fatal(err)
	}
	wantLSN, want, _ := db.State()
	if lsn != wantLSN || h != want {
		t.Fatalf("restored %s to LSN %d %s, want %d %s", path, lsn, h, wantLSN, want)
	}
}

// TestJobBackupToFile: a job backs foo up into a file of the backup
// directory; its status ends succeeded, with the result, and the file
// restores to foo's state.
func TestJobBackupToFile(t *testing.T) {
	c, s, db := jobsServed(t, 50, 100, Options{})
	st := startJob(t, c, JobRequest{Kind: JobBackup, DB: "foo", File: "foo.backup"})
	st = settled(t, c, s, st.ID)
	if st.State != JobSucceeded || st.Error != nil || !st.Complete || st.FirstLSN != 1 || st.LastLSN != 50 ||
		st.EndLSN != 50 || st.Frames != 50 || st.Bytes <= 0 || st.Percent == nil || *st.Percent != 100 ||
		st.Ended == nil || st.LastCommit == nil || st.File != "foo.backup" {
		t.Fatalf("status %+v", st)
	}
	restoresTo(t, filepath.Join(s.opts.BackupDir, "foo.backup"), db)
	jobs, err := c.Jobs(context.Background())
	if err != nil || len(jobs.Jobs) != 1 || jobs.Jobs[0].ID != st.ID {
		t.Fatalf("jobs %+v, %v", jobs, err)
	}
}

// TestJobAbortedFileIsResumedByAppend: a file job held mid-way (the
// slowest rate) and aborted leaves its file without an end record; an
// append job completes it, and it restores to foo's state.
func TestJobAbortedFileIsResumedByAppend(t *testing.T) {
	c, s, db := jobsServed(t, 300, 8<<10, Options{}) // 2.4 MiB: more than one 1 MiB block
	st := startJob(t, c, JobRequest{Kind: JobBackup, DB: "foo", File: "foo.backup", MaxRate: 1000})
	path := filepath.Join(s.opts.BackupDir, "foo.backup")
	waitUntil(t, "first block in the file", hasBytes(path, 1<<19))
	if _, err := c.AbortJob(context.Background(), st.ID); err != nil {
		t.Fatal(err)
	}
	st = settled(t, c, s, st.ID)
	if st.State != JobAborted || st.Complete || st.Error == nil || st.Error.ExitCode != exitcode.Interrupted ||
		!strings.Contains(st.Note, "append") {
		t.Fatalf("aborted: %+v %+v", st, st.Error)
	}
	st = settled(t, c, s, startJob(t, c, JobRequest{Kind: JobBackup, DB: "foo", File: "foo.backup", Append: true}).ID)
	if st.State != JobSucceeded || !st.Complete || st.LastLSN != 300 || st.FirstLSN <= 1 {
		t.Fatalf("append: %+v", st)
	}
	restoresTo(t, path, db)
}

// TestJobAbortedRepoBackupLeavesNoObject: a repository job aborted while
// it writes its object leaves none; a later job writes it.
func TestJobAbortedRepoBackupLeavesNoObject(t *testing.T) {
	c, s, _ := jobsServed(t, 300, 8<<10, Options{})
	st := startJob(t, c, JobRequest{Kind: JobBackup, DB: "foo", Repo: true, MaxRate: 1000})
	repoDir := filepath.Join(s.opts.DataDir, "repo")
	waitUntil(t, "object being written", func() bool {
		found := false
		_ = filepath.WalkDir(repoDir, func(p string, d fs.DirEntry, err error) error {
			found = found || (err == nil && strings.HasPrefix(d.Name(), ".tmp-") && hasBytes(p, 1<<19)())
			return nil
		})
		return found
	})
	if _, err := c.AbortJob(context.Background(), st.ID); err != nil {
		t.Fatal(err)
	}
	st = settled(t, c, s, st.ID)
	if st.State != JobAborted || st.Object != "" || !strings.Contains(st.Note, "no partial object") {
		t.Fatalf("aborted: %+v", st)
	}
	cat, err := s.opts.Repo.Catalog(context.Background(), "foo")
	if err != nil || len(cat.Histories) != 0 {
		t.Fatalf("catalog after the abort: %+v, %v", cat, err)
	}
	st = settled(t, c, s, startJob(t, c, JobRequest{Kind: JobBackup, DB: "foo", Repo: true, Level: 0}).ID)
	if st.State != JobSucceeded || st.Object == "" || st.LastLSN != 300 || st.Level == nil || *st.Level != 0 {
		t.Fatalf("second job: %+v", st)
	}
}

// TestJobSurvivesItsClient: a job runs on the server's context: its
// client's request ending and its connection dropping change nothing.
func TestJobSurvivesItsClient(t *testing.T) {
	c, s, db := jobsServed(t, 20, 10, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	st, err := c.StartJob(ctx, JobRequest{Kind: JobBackup, DB: "foo", File: "foo.backup", MaxRate: 1000})
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	c.http.CloseIdleConnections()
	st = settled(t, c, s, st.ID)
	if st.State != JobSucceeded {
		t.Fatalf("status %+v %+v", st, st.Error)
	}
	restoresTo(t, filepath.Join(s.opts.BackupDir, "foo.backup"), db)
}

// fakeClock is a clock tests move.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (f *fakeClock) Now() time.Time { f.mu.Lock(); defer f.mu.Unlock(); return f.now }
func (f *fakeClock) Add(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = f.now.Add(d)
}

// TestEndedJobsArePruned: ended jobs are kept JobsKept at most, and for
// JobRetention; then GET answers 404.
func TestEndedJobsArePruned(t *testing.T) {
	c, s, _ := jobsServed(t, 5, 10, Options{JobsKept: 2, JobRetention: time.Hour})
	clock := &fakeClock{now: time.Now()}
	s.jobs.now = clock.Now
	var ids []string
	for i := range 3 {
		st := startJob(t, c, JobRequest{Kind: JobBackup, DB: "foo", File: "foo.backup" + strings.Repeat("x", i)})
		ids = append(ids, settled(t, c, s, st.ID).ID)
	}
	jobs, err := c.Jobs(context.Background())
	if err != nil || len(jobs.Jobs) != 2 || jobs.Jobs[0].ID != ids[1] || jobs.Jobs[1].ID != ids[2] {
		t.Fatalf("jobs %+v, %v", jobs, err)
	}
	_, err = c.Job(context.Background(), ids[0])
	if exitcode.Of(err) != exitcode.Failure || !strings.Contains(err.Error(), "no such job") {
		t.Fatalf("the oldest job: %v", err)
	}
	clock.Add(time.Hour + time.Second)
	if jobs, err = c.Jobs(context.Background()); err != nil || len(jobs.Jobs) != 0 {
		t.Fatalf("jobs after the retention %+v, %v", jobs, err)
	}
}

// TestDrainInterruptsJobs: Drain marks a running job interrupted, Wait
// returns once it has settled, and no job starts after it.
func TestDrainInterruptsJobs(t *testing.T) {
	c, s, _ := jobsServed(t, 300, 8<<10, Options{})
	st := startJob(t, c, JobRequest{Kind: JobBackup, DB: "foo", File: "foo.backup", MaxRate: 1000})
	waitUntil(t, "first block in the file", hasBytes(filepath.Join(s.opts.BackupDir, "foo.backup"), 1<<19))
	s.Drain()
	if err := s.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	st, err := c.Job(context.Background(), st.ID)
	if err != nil || st.State != JobInterrupted || st.Error == nil || st.Error.ExitCode != exitcode.Interrupted ||
		!strings.Contains(st.Note, "append") {
		t.Fatalf("after Drain: %+v %+v, %v", st, st.Error, err)
	}
	_, err = c.StartJob(context.Background(), JobRequest{Kind: JobBackup, DB: "foo", File: "bar.backup"})
	if exitcode.Of(err) != exitcode.Interrupted {
		t.Fatalf("a job after Drain: %v", err)
	}
}

// TestJobRequestsRefused: malformed or unservable requests are answered
// 4xx with the exit code the CLI ends in, and the server keeps serving.
func TestJobRequestsRefused(t *testing.T) {
	c, s, _ := jobsServed(t, 5, 10, Options{})
	bare, _ := New(Options{DataDir: s.opts.DataDir, Token: token})
	hs := httptest.NewServer(bare)
	defer hs.Close()
	cases := []struct {
		name, url, body string
		status, code    int
		says            string
	}{
		{"unknown field", "", `{"job_kind":"backup","db":"foo","file":"a","bogus":1}`, 400, 2, `unknown field "bogus"`},
		{"oversized", "", `{"job_kind":"backup","db":"foo","file":"` + strings.Repeat("a", 70<<10) + `"}`, 413, 2, "at most 65536 bytes"},
		{"two objects", "", `{"job_kind":"backup","db":"foo","file":"a"}{}`, 400, 2, "more than one"},
		{"not JSON", "", `job please`, 400, 2, "job request"},
		{"bad db name", "", `{"job_kind":"backup","db":"../foo","file":"a"}`, 400, 2, "invalid"},
		{"absent db", "", `{"job_kind":"backup","db":"nope","file":"a"}`, 404, 1, "nope: database does not exist"},
		{"path as file", "", `{"job_kind":"backup","db":"foo","file":"../x"}`, 400, 2, "plain file name"},
		{"hidden file", "", `{"job_kind":"backup","db":"foo","file":".x"}`, 400, 2, "plain file name"},
		{"kind", "", `{"job_kind":"restore","db":"foo","file":"a"}`, 400, 2, `job_kind "restore"`},
		{"no target", "", `{"job_kind":"backup","db":"foo"}`, 400, 2, "give one"},
		{"slow rate", "", `{"job_kind":"backup","db":"foo","file":"a","max_rate":10}`, 400, 2, "at least 1000"},
		{"level", "", `{"job_kind":"backup","db":"foo","repo":true,"level":10}`, 400, 2, "level 10"},
		{"level of a file", "", `{"job_kind":"backup","db":"foo","file":"a","level":1}`, 400, 2, "repository backup's"},
		{"rate of an archive", "", `{"job_kind":"archive","db":"foo","max_rate":5000}`, 400, 2, "no level, expires or max_rate"},
		{"max_delay", "", `{"job_kind":"archive","db":"foo","max_delay":"1y"}`, 400, 2, "max_delay"},
		{"no repo", hs.URL, `{"job_kind":"backup","db":"foo","repo":true}`, 400, 2, "start hotpipe serve with --repo URL"},
		{"no backup dir", hs.URL, `{"job_kind":"backup","db":"foo","file":"a"}`, 400, 2, "start hotpipe serve with --backup-dir DIR"},
		{"no repo to archive", hs.URL, `{"job_kind":"archive","db":"foo"}`, 400, 2, "--repo URL"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			url := tc.url
			if url == "" {
				url = c.String()
			}
			req, _ := http.NewRequest(http.MethodPost, url+"/v1/jobs", strings.NewReader(tc.body))
			req.Header.Set("Authorization", "Bearer "+token)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			e := errorOf(t, resp)
			if resp.StatusCode != tc.status || e.ExitCode != tc.code || !strings.Contains(e.Message, tc.says) {
				t.Errorf("%d %+v, want %d, exit %d, %q", resp.StatusCode, e, tc.status, tc.code, tc.says)
			}
		})
	}
	if _, err := c.Job(context.Background(), "12345"); !errors.Is(err, err) || exitcode.Of(err) != exitcode.Failure {
		t.Errorf("an unknown job: %v", err)
	}
	st := settled(t, c, s, startJob(t, c, JobRequest{Kind: JobBackup, DB: "foo", File: "a"}).ID)
	if st.State != JobSucceeded {
		t.Errorf("a job after the refusals: %+v", st)
	}
}
