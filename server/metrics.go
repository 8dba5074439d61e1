package server

import (
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"

	"github.com/hotpipe/hotpipe/engine"
)

// counters are what the server counts for GET /metrics.
type counters struct {
	streams       atomic.Int64 // running
	streamFrames  atomic.Uint64
	streamBytes   atomic.Int64
	errorAnswers  atomic.Uint64 // answers of 4xx and 5xx
	failedStreams atomic.Uint64 // streams that ended in an error after their first byte
}

// metrics answers GET /metrics in Prometheus's text format (version
// 0.0.4): per database its last LSN and commit time, and the server's
// streams, bytes, frames and errors.
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
	metric("hotpipe_server_error_answers_total", "counter", "Requests answered with an error (4xx, 5xx).")
	fmt.Fprintf(&b, "hotpipe_server_error_answers_total %d\n", c.errorAnswers.Load())
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
