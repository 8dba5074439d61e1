package server

import (
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hotpipe/hotpipe/engine"
)

// counters are what the server counts for GET /metrics.
type counters struct {
	streams       atomic.Int64 // running
	streamFrames  atomic.Uint64
	streamBytes   atomic.Int64
	errorAnswers  atomic.Uint64 // answers of 4xx and 5xx
	failedStreams atomic.Uint64 // streams that ended in an error after their first byte

	restores       atomic.Int64 // running
	restoredFrames atomic.Uint64
	restoredBytes  atomic.Int64
	failedRestores atomic.Uint64 // restores that ended in an error, refusals included
}

// metrics answers GET /metrics in Prometheus's text format (version
// 0.0.4): per database its last LSN and commit time, its last successful
// backup and its failed ones; the server's streams, bytes, frames and
// errors; its jobs by state, the progress of running ones, and the lag of
// running archives.
func (s *Server) metrics(w http.ResponseWriter, r *http.Request) {
	if err := known(r.URL.Query()); err != nil {
		writeError(w, err)
		return
	}
	var b strings.Builder
	metric := func(name, kind, help string) { fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, kind) }
	names, err := engine.List(s.opts.DataDir)
	if err != nil {
		writeError(w, err)
		return
	}
	var statuses []Status
	for _, n := range names {
		if st, err := StatusOf(s.opts.DataDir, n, engine.Options{}); err == nil {
			statuses = append(statuses, st)
		}
	}
	metric("hotpipe_db_last_lsn", "gauge", "Last durable LSN of the database.")
	for _, st := range statuses {
		fmt.Fprintf(&b, "hotpipe_db_last_lsn{db=%q} %d\n", st.Name, st.LastLSN)
	}
	metric("hotpipe_db_last_commit_timestamp_seconds", "gauge", "Commit time of the database's last durable LSN.")
	for _, st := range statuses {
		if st.LastCommit != nil {
			fmt.Fprintf(&b, "hotpipe_db_last_commit_timestamp_seconds{db=%q} %g\n", st.Name, float64(st.LastCommit.UnixNano())/1e9)
		}
	}
	c := &s.count
	metric("hotpipe_server_streams", "gauge", "Backup streams running.")
	fmt.Fprintf(&b, "hotpipe_server_streams %d\n", c.streams.Load())
	metric("hotpipe_server_stream_frames_total", "counter", "Frames the server's streams have sent.")
	fmt.Fprintf(&b, "hotpipe_server_stream_frames_total %d\n", c.streamFrames.Load())
	metric("hotpipe_server_stream_bytes_total", "counter", "Bytes of frames the server's streams have sent.")
	fmt.Fprintf(&b, "hotpipe_server_stream_bytes_total %d\n", c.streamBytes.Load())
	metric("hotpipe_server_failed_streams_total", "counter", "Streams that ended in an error after they began.")
	fmt.Fprintf(&b, "hotpipe_server_failed_streams_total %d\n", c.failedStreams.Load())
	metric("hotpipe_server_restores", "gauge", "Restores running (each holds its database's writer lock).")
	fmt.Fprintf(&b, "hotpipe_server_restores %d\n", c.restores.Load())
	metric("hotpipe_server_restored_frames_total", "counter", "Frames the server's restores have applied.")
	fmt.Fprintf(&b, "hotpipe_server_restored_frames_total %d\n", c.restoredFrames.Load())
	metric("hotpipe_server_restored_bytes_total", "counter", "Bytes of frames the server's restores have applied.")
	fmt.Fprintf(&b, "hotpipe_server_restored_bytes_total %d\n", c.restoredBytes.Load())
	metric("hotpipe_server_failed_restores_total", "counter", "Restores that ended in an error or a refusal.")
	fmt.Fprintf(&b, "hotpipe_server_failed_restores_total %d\n", c.failedRestores.Load())
	metric("hotpipe_server_error_answers_total", "counter", "Requests answered with an error (4xx, 5xx).")
	fmt.Fprintf(&b, "hotpipe_server_error_answers_total %d\n", c.errorAnswers.Load())
	s.jobMetrics(&b, metric)
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	_, _ = w.Write([]byte(b.String()))
}

// statusRecorder notes an answer's status, for the error count.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

// Flush passes on to the answer's Flusher: streams flush each block.
func (r *statusRecorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the answer.
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// jobMetrics writes the metrics of jobs and of backups per database.
func (s *Server) jobMetrics(b *strings.Builder, metric func(name, kind, help string)) {
	jobs := s.jobStatuses()
	t := s.jobs
	t.mu.Lock()
	dbs := make(map[string]dbRecord, len(t.dbs))
	for name, r := range t.dbs {
		dbs[name] = *r
	}
	t.mu.Unlock()
	names := slices.Sorted(maps.Keys(dbs))
	metric("hotpipe_last_backup_success_timestamp_seconds", "gauge", "When a backup of the database last succeeded: a backup job, or a backup stream that ended with its end record.")
	for _, n := range names {
		if r := dbs[n]; !r.lastSuccess.IsZero() {
			fmt.Fprintf(b, "hotpipe_last_backup_success_timestamp_seconds{db=%q} %g\n", n, unixSeconds(r.lastSuccess))
		}
	}
	metric("hotpipe_backup_failures_total", "counter", "Backups of the database that failed (jobs and streams; not those aborted or interrupted).")
	for _, n := range names {
		fmt.Fprintf(b, "hotpipe_backup_failures_total{db=%q} %d\n", n, dbs[n].failures)
	}
	metric("hotpipe_jobs", "gauge", "Jobs the server holds, by state (ended ones are kept for a while).")
	for _, state := range JobStates {
		n := 0
		for _, j := range jobs {
			if j.State == state {
				n++
			}
		}
		fmt.Fprintf(b, "hotpipe_jobs{state=%q} %d\n", state, n)
	}
	metric("hotpipe_job_progress_ratio", "gauge", "How far a running backup job is, 0 to 1.")
	for _, j := range jobs {
		if j.State == JobRunning && j.Percent != nil {
			fmt.Fprintf(b, "hotpipe_job_progress_ratio{id=%q,kind=%q,db=%q} %g\n", j.ID, j.Kind, j.DB, *j.Percent/100)
		}
	}
	s.archiveMetrics(b, metric, jobs, dbs)
}

// archiveMetrics writes the state of running archive jobs, by database.
func (s *Server) archiveMetrics(b *strings.Builder, metric func(name, kind, help string), jobs []JobStatus, dbs map[string]dbRecord) {
	var archives []JobStatus
	for _, j := range jobs {
		if j.State == JobRunning && j.Kind == JobArchive && j.LagLSNs != nil {
			archives = append(archives, j)
		}
	}
	metric("hotpipe_archive_running", "gauge", "1 while an archive job of the database runs (one at most), 0 after one ran.")
	running := map[string]int{}
	for n, r := range dbs {
		if !r.archiveSuccess.IsZero() {
			running[n] = 0
		}
	}
	for _, j := range archives {
		running[j.DB] = 1
	}
	for _, n := range slices.Sorted(maps.Keys(running)) {
		fmt.Fprintf(b, "hotpipe_archive_running{db=%q} %d\n", n, running[n])
	}
	metric("hotpipe_archive_lag_lsns", "gauge", "LSNs durable in the database and not yet archived by its running archive job.")
	for _, j := range archives {
		fmt.Fprintf(b, "hotpipe_archive_lag_lsns{db=%q} %d\n", j.DB, *j.LagLSNs)
	}
	metric("hotpipe_archive_lag_seconds", "gauge", "How long ago the last frame archived was committed, when frames wait after it.")
	for _, j := range archives {
		fmt.Fprintf(b, "hotpipe_archive_lag_seconds{db=%q} %g\n", j.DB, *j.LagSeconds)
	}
	metric("hotpipe_archive_last_commit_timestamp_seconds", "gauge", "Commit time of the last LSN archived: the recovery point.")
	for _, j := range archives {
		if j.LastCommit != nil {
			fmt.Fprintf(b, "hotpipe_archive_last_commit_timestamp_seconds{db=%q} %g\n", j.DB, unixSeconds(*j.LastCommit))
		}
	}
	metric("hotpipe_archive_last_success_timestamp_seconds", "gauge", "When an archive job of the database last wrote an object.")
	for _, n := range slices.Sorted(maps.Keys(dbs)) {
		if r := dbs[n]; !r.archiveSuccess.IsZero() {
			fmt.Fprintf(b, "hotpipe_archive_last_success_timestamp_seconds{db=%q} %g\n", n, unixSeconds(r.archiveSuccess))
		}
	}
}

func unixSeconds(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }
