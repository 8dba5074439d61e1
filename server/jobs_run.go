package server

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"filippo.io/age"

	"github.com/hotpipe/hotpipe/backup"
	"github.com/hotpipe/hotpipe/engine"
	"github.com/hotpipe/hotpipe/internal/exitcode"
	"github.com/hotpipe/hotpipe/repo"
)

// job is one running or ended job.
type job struct {
	ctx      context.Context // the server's, not a request's: a job outlives its client
	cancel   context.CancelFunc
	stop     chan struct{} // closed to stop an archive gracefully
	stopOnce sync.Once
	done     chan struct{} // closed once the job has settled

	recipients []age.Recipient // set before it runs

	mu  sync.Mutex
	st  JobStatus
	why string // JobAborted or JobInterrupted, once asked
}

// ended is when the job ended, or nil while it runs.
func (j *job) ended() *time.Time {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.st.Ended
}

// update changes the job's status under its lock.
func (j *job) update(f func(st *JobStatus)) {
	j.mu.Lock()
	defer j.mu.Unlock()
	f(&j.st)
}

// halt asks the job to end, as why (JobAborted, JobInterrupted): a backup
// stops at once at a frame boundary; an archive, asked the first time,
// writes what is durable as a last object, and stops at once when asked
// again.
func (j *job) halt(why string) {
	j.mu.Lock()
	if j.st.Ended != nil {
		j.mu.Unlock()
		return
	}
	first := j.why == ""
	if first {
		j.why = why
	}
	graceful := first && j.st.Kind == JobArchive
	j.mu.Unlock()
	if graceful {
		j.stopOnce.Do(func() { close(j.stop) })
		return
	}
	j.cancel()
}

// status is the job's status at now, with its rate, percent and ETA.
func (j *job) status(now time.Time) JobStatus {
	j.mu.Lock()
	st := j.st
	j.mu.Unlock()
	end := now
	if st.Ended != nil {
		end = *st.Ended
	}
	st.Seconds = max(end.Sub(st.Started).Seconds(), 0)
	if st.Seconds > 0 {
		st.Rate = float64(st.Bytes) / st.Seconds
	}
	if st.Kind != JobBackup {
		return st
	}
	var pct float64
	switch {
	case st.State == JobSucceeded:
		pct = 100
	case st.FirstLSN > 0 && st.EndLSN >= st.FirstLSN:
		total, done := st.EndLSN-st.FirstLSN+1, uint64(0)
		if st.LastLSN >= st.FirstLSN {
			done = min(st.LastLSN-st.FirstLSN+1, total)
		}
		pct = 100 * float64(done) / float64(total)
		if st.State == JobRunning && st.Frames > 0 {
			eta := st.Seconds * float64(total-done) / float64(st.Frames)
			st.ETA = &eta
		}
	default:
		return st
	}
	st.Percent = &pct
	return st
}

// runJob runs the job to its end and settles it: its state, result or
// error, and the server's metrics. It owns db.
func (s *Server) runJob(j *job, db *engine.DB, req JobRequest) {
	defer close(j.done)
	go func() {
		select {
		case <-s.drain:
			j.halt(JobInterrupted)
		case <-j.done:
		}
	}()
	if last, _, err := db.State(); err == nil && req.Kind == JobBackup {
		j.update(func(st *JobStatus) { // what the backup is to reach, until it says
			st.EndLSN = last
			if !req.Repo && !req.Append {
				st.FirstLSN = 1
			}
		})
	}
	var err error
	switch {
	case req.Kind == JobArchive:
		err = s.archiveJob(j, db, req)
	case req.Repo:
		err = s.repoBackupJob(j, db, req)
	default:
		err = s.fileBackupJob(j, db, req)
	}
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	s.settle(j, err)
}

// backupProgress notes a backup's progress in the job's status.
func (j *job) backupProgress(p backup.Progress) {
	j.update(func(st *JobStatus) {
		st.FirstLSN, st.EndLSN, st.LastLSN, st.Frames, st.Bytes = p.First, p.End, p.Last, p.Frames, p.Bytes
		st.LastCommit = commitTime(p.LastTime)
	})
}

func commitTime(ns int64) *time.Time {
	if ns == 0 {
		return nil
	}
	t := time.Unix(0, ns).UTC()
	return &t
}

// fileBackupJob backs db up into a file of the backup directory, as
// hot-backup -o FILE [--append] does.
func (s *Server) fileBackupJob(j *job, db *engine.DB, req JobRequest) error {
	opts := backup.Options{MaxRate: req.MaxRate, Recipients: j.recipients, Progress: j.backupProgress, Repaired: func(r backup.Repair) {
		s.opts.Logf("job %s: %s: cut a torn tail of %d bytes at offset %d", j.st.ID, req.File, r.Cut, r.Offset)
	}}
	path := s.filePath(req.File)
	var res backup.Result
	var err error
	if req.Append {
		res, err = backup.Append(j.ctx, db, path, opts)
	} else {
		res, err = backup.File(j.ctx, db, path, opts)
	}
	j.update(func(st *JobStatus) {
		st.FirstLSN, st.EndLSN, st.LastLSN, st.Frames, st.Bytes = res.First, res.End, res.Last, res.Frames, res.Bytes
		st.Complete, st.UpToDate = res.Ended || res.UpToDate, res.UpToDate
		if t := commitTime(res.LastTime); t != nil {
			st.LastCommit = t
		}
	})
	if err != nil {
		return fmt.Errorf("backup of %s into %s: %w", req.DB, req.File, err)
	}
	return nil
}

// repoBackupJob writes a levelled backup of db into the repository, as
// hot-backup --repo does.
func (s *Server) repoBackupJob(j *job, db *engine.DB, req JobRequest) error {
	opts := repo.BackupOptions{Level: req.Level, MaxRate: req.MaxRate, Progress: j.backupProgress, Recipients: j.recipients}
	if req.Expires != nil {
		opts.Expires = *req.Expires
	}
	res, err := s.opts.Repo.Backup(j.ctx, db, opts)
	j.update(func(st *JobStatus) {
		st.Frames, st.Bytes, st.UpToDate = res.Frames, res.Bytes, res.UpToDate
		if e := res.Entry; e.Key != "" {
			st.Object, st.FirstLSN, st.LastLSN, st.EndLSN, st.Complete = e.Key, e.First, e.Last, e.Last, true
			st.LastCommit, st.Expires = timeOrNil(e.LastTime), timeOrNil(e.Expires)
		}
		st.Complete = st.Complete || res.UpToDate
	})
	if err != nil {
		return fmt.Errorf("backup of %s into %s: %w", req.DB, s.opts.Repo, err)
	}
	return nil
}

func timeOrNil(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

// archiveJob follows db into the repository, as archive does, until the
// job is aborted or the server stops.
func (s *Server) archiveJob(j *job, db *engine.DB, req JobRequest) error {
	opts := repo.ArchiveOptions{ObjectSize: req.ObjectSize, Stop: j.stop, Recipients: j.recipients}
	opts.MaxDelay, _ = time.ParseDuration(req.MaxDelay) // checked; "" is the default
	var start uint64
	started := false
	opts.Progress = func(p repo.ArchiveProgress) {
		if !started {
			start, started = p.Archived, true
		}
		lag, lagSeconds := p.LagLSNs(), p.Lag.Seconds()
		j.update(func(st *JobStatus) {
			st.FirstLSN, st.LastLSN, st.EndLSN, st.Frames, st.Bytes = start+1, p.Archived, p.Durable, p.Archived-start, p.Bytes
			st.LastCommit, st.LagLSNs, st.LagSeconds, st.Objects = timeOrNil(p.ArchivedTime), &lag, &lagSeconds, p.Objects
		})
	}
	opts.Written = func(repo.Entry) {
		s.jobs.mu.Lock()
		s.jobs.record(req.DB).archiveSuccess = s.jobs.now()
		s.jobs.mu.Unlock()
	}
	opts.Retrying = func(rt repo.Retry) {
		s.opts.Logf("job %s: archive of %s: attempt %d failed: %v; trying again in %s", j.st.ID, req.DB, rt.Attempt, rt.Err, rt.Wait)
	}
	if err := s.opts.Repo.Archive(j.ctx, db, opts); err != nil {
		return fmt.Errorf("archive of %s into %s: %w", req.DB, s.opts.Repo, err)
	}
	return nil
}

// settle records how the job ended: its state, error and note, and the
// server's backup metrics.
func (s *Server) settle(j *job, err error) {
	now := s.jobs.now().UTC()
	j.mu.Lock()
	st, why := &j.st, j.why
	st.Ended = &now
	switch {
	case why != "" && (err != nil || st.Kind == JobArchive):
		st.State = why
		st.Note = haltNote(st)
		if err != nil {
			msg := fmt.Sprintf("job %s %s after LSN %d", st.ID, why, st.LastLSN)
			if exitcode.Of(err) != exitcode.Interrupted { // it failed meanwhile: say how
				msg += ": " + err.Error()
			}
			e := errorJSON(&haltError{msg: msg, err: err})
			st.Error = &e
		}
	case err == nil:
		st.State = JobSucceeded
	default:
		st.State = JobFailed
		e := errorJSON(err)
		st.Error = &e
	}
	kind, db := st.Kind, st.DB
	j.mu.Unlock()
	if kind == JobBackup || err != nil { // an archive's success is its objects
		s.backupEnded(db, err)
	}
}

// haltError is the error of an aborted or interrupted job: a message of
// its own (the note says what the job left), unwrapping to the job's
// error and so to its exit code, 130 when it stopped as asked.
type haltError struct {
	msg string
	err error
}

func (e *haltError) Error() string { return e.msg }
func (e *haltError) Unwrap() error { return e.err }

// haltNote says what an aborted or interrupted job left, and how to go on.
func haltNote(st *JobStatus) string {
	switch {
	case st.Kind == JobArchive:
		return fmt.Sprintf("the archive stopped after LSN %d: a new archive job resumes after it", st.LastLSN)
	case st.Repo != "":
		return "the repository holds no partial object of this backup: a new backup job writes it"
	case st.Encrypted:
		return fmt.Sprintf("%s is encrypted and ends after LSN %d without its sealed last chunk: it reads as truncated, and append cannot add to it: remove it and start a new backup job", st.File, st.LastLSN)
	}
	return fmt.Sprintf("%s ends after LSN %d without an end record: a backup job with append completes it", st.File, st.LastLSN)
}

// prune forgets ended jobs older than the retention, and the oldest
// beyond the number kept; the caller holds t.mu.
func (t *jobTable) prune() {
	var ended []*job
	cutoff := t.now().Add(-t.retention)
	for id, j := range t.jobs {
		e := j.ended()
		switch {
		case e == nil:
		case e.Before(cutoff):
			delete(t.jobs, id)
		default:
			ended = append(ended, j)
		}
	}
	if len(ended) <= t.keep {
		return
	}
	sort.Slice(ended, func(a, b int) bool { return cmpID(ended[a].st.ID, ended[b].st.ID) < 0 })
	for _, j := range ended[:len(ended)-t.keep] {
		delete(t.jobs, j.st.ID)
	}
}

// abortGrace is how long Wait lets aborted jobs settle once its context
// has ended.
const abortGrace = 5 * time.Second

// Wait waits until every job has settled and every stream has ended: call
// it after Drain, which asks them to end. When ctx ends first, it aborts what still runs and
// gives it up to abortGrace to settle (a file synced, an upload
// abandoned), and returns an error naming the jobs that were still
// running.
func (s *Server) Wait(ctx context.Context) error {
	t := s.jobs
	t.mu.Lock()
	var jobs []*job
	for _, j := range t.jobs {
		jobs = append(jobs, j)
	}
	t.mu.Unlock()
	var left []string
	grace := time.After(abortGrace) // runs from the start: it bounds Wait once ctx is done
	for _, j := range jobs {
		select {
		case <-j.done:
			continue
		case <-ctx.Done():
		}
		j.cancel()
		left = append(left, j.st.ID)
		select {
		case <-j.done:
		case <-grace:
		}
	}
	if len(left) > 0 {
		return fmt.Errorf("jobs %v still running: %w", left, ctx.Err())
	}
	return s.waitStreams(ctx)
}
