package server

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/hotpipe/hotpipe/backup"
	"github.com/hotpipe/hotpipe/engine"
)

// StreamType is the media type of a backup stream.
const StreamType = "application/vnd.hotpipe.stream"

// HeaderStream names a running stream, for POST /v1/streams/{id}/stop.
const HeaderStream = "Hotpipe-Stream"

// TrailerResult is the trailer that carries, as a BackupResult, what a
// backup wrote: the same figures hot-backup reports locally.
const TrailerResult = "Hotpipe-Result"

// BackupResult is what a backup wrote, in the TrailerResult trailer.
type BackupResult struct {
	First    uint64 `json:"first_lsn"`
	End      uint64 `json:"end_lsn"`
	Last     uint64 `json:"last_lsn"`
	LastTime int64  `json:"last_time"` // unix ns; 0 when none was written
	Frames   uint64 `json:"frames"`
	Bytes    int64  `json:"bytes"`
	Ended    bool   `json:"ended"`
}

// TrailerError is the trailer that carries, as an ErrorJSON, the error
// that ended a stream after its first byte: a stream without an end record
// and without it was cut on the way.
const TrailerError = "Hotpipe-Error"

// backup streams frames of a database as one stream segment, as
// `hot-backup` writes to stdout:
//
//	GET /v1/databases/{db}/backup?start=N|after=N&end=N&follow=true&max_rate=BYTES_PER_SECOND
//
// An error before the first byte is a JSON answer; one after it ends the
// stream without an end record and is named in the TrailerError trailer.
// Drain, or a stop of the stream (named in the HeaderStream header), ends
// a following backup with its end record, and a plain one at a frame
// boundary without one: as SIGINT ends the local command.
func (s *Server) backup(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("db")
	opts, err := backupOptions(r.URL.Query())
	db, ok := s.openReader(w, name, err)
	if !ok {
		return
	}
	defer db.Close()
	ctx, id, done := s.startStream(r.Context(), "backup", name)
	defer done()
	w.Header().Set(HeaderStream, id)
	w.Header().Set("Trailer", TrailerResult+", "+TrailerError)
	out := &streamWriter{w: w, zeroCopy: zeroCopyStream(r, opts), sent: s.opts.sent}
	defer out.close()
	opts.Progress = func(backup.Progress) { out.flush() } // each block reaches the client as it is written
	s.count.streams.Add(1)
	res, err := backup.Backup(ctx, db, out, opts)
	s.count.streams.Add(-1)
	s.count.streamFrames.Add(res.Frames)
	s.count.streamBytes.Add(res.Bytes)
	if err != nil && !out.started {
		writeError(w, err)
		return
	}
	if res.First <= 1 { // a whole backup; a standby's tail is none
		s.backupEnded(name, err)
	}
	b, _ := json.Marshal(BackupResult{First: res.First, End: res.End, Last: res.Last, LastTime: res.LastTime,
		Frames: res.Frames, Bytes: res.Bytes, Ended: res.Ended})
	w.Header().Set(TrailerResult, string(b))
	if err != nil {
		s.count.failedStreams.Add(1)
		s.opts.Logf("backup of %s: stopped after LSN %d: %v", name, res.Last, err)
		b, _ := json.Marshal(errorJSON(err))
		w.Header().Set(TrailerError, string(b))
	}
	out.finish()
}

// openReader opens database name as a lock-free reader for a request
// whose parameters gave paramErr, after checking the name; it answers the
// error itself and returns false when there is one.
func (s *Server) openReader(w http.ResponseWriter, name string, paramErr error) (*engine.DB, bool) {
	err := paramErr
	if err == nil {
		err = engine.ValidateName(name)
	}
	var db *engine.DB
	if err == nil {
		db, err = engine.Open(s.opts.DataDir, name, engine.Options{ReadOnly: true})
	}
	if err != nil {
		writeError(w, err)
		return nil, false
	}
	return db, true
}

// backupOptions reads a backup's query parameters.
func backupOptions(q url.Values) (backup.Options, error) {
	var o backup.Options
	if err := known(q, "start", "after", "end", "follow", "max_rate"); err != nil {
		return o, err
	}
	start, err := lsnParam(q, "start")
	if err != nil {
		return o, err
	}
	if q.Has("after") {
		if q.Has("start") {
			return o, fmt.Errorf("%w: start and after: give one", errUsage)
		}
		after, err := lsnParam(q, "after")
		if err != nil {
			return o, err
		}
		start = after + 1
	}
	o.Start = start
	if o.End, err = lsnParam(q, "end"); err != nil {
		return o, err
	}
	if v := q.Get("follow"); v != "" {
		if o.Follow, err = strconv.ParseBool(v); err != nil {
			return o, fmt.Errorf("%w: follow=%q: give true or false", errUsage, v)
		}
	}
	if o.Follow && o.End != 0 {
		return o, fmt.Errorf("%w: follow and end: a following backup has no end", errUsage)
	}
	if v := q.Get("max_rate"); v != "" {
		if o.MaxRate, err = strconv.ParseFloat(v, 64); err != nil || !(o.MaxRate >= 1000) || math.IsInf(o.MaxRate, 1) { // NaN too
			return o, fmt.Errorf("%w: max_rate=%q: give a number of bytes a second, at least 1000", errUsage, v)
		}
	}
	return o, nil
}

// known refuses a query with a parameter other than names: a misspelt
// one would be ignored.
func known(q url.Values, names ...string) error {
	for k := range q {
		if !slices.Contains(names, k) {
			return fmt.Errorf("%w: unknown parameter %q (known: %s)", errUsage, k, strings.Join(names, ", "))
		}
	}
	return nil
}

// lsnParam reads the LSN parameter name; absent is 0.
func lsnParam(q url.Values, name string) (uint64, error) {
	v := q.Get(name)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: %s=%q is not an LSN", errUsage, name, v)
	}
	return n, nil
}

// streamWriter writes a stream into an answer and notes that it began.
// With zeroCopy, its first write takes the connection over (sockStream),
// and the frame blocks offered to it are sent from their files.
type streamWriter struct {
	w        http.ResponseWriter
	started  bool
	zeroCopy bool
	sock     *sockStream // the connection, once taken over
	sent     func(n int) // told of each block sent from its file (tests)
}

func (s *streamWriter) Write(p []byte) (int, error) {
	if !s.started {
		s.w.Header().Set("Content-Type", StreamType)
		s.started = true
		if s.zeroCopy {
			s.sock = hijack(s.w)
			if s.sock != nil {
				s.sock.sent = s.sent
			}
		}
	}
	if s.sock != nil {
		return s.sock.Write(p)
	}
	return s.w.Write(p)
}

// OfferRange passes the offer on to the connection, once taken over
// (backup.RangeWriter).
func (s *streamWriter) OfferRange(f *os.File, off int64, block []byte) {
	if s.sock != nil {
		s.sock.OfferRange(f, off, block)
	}
}

func (s *streamWriter) flush() {
	if s.sock != nil {
		return // nothing is buffered
	}
	if f, ok := s.w.(http.Flusher); ok {
		f.Flush()
	}
}

// finish ends a stream on a connection taken over with the trailers set
// in the answer's header, and closes it; net/http ends the others.
func (s *streamWriter) finish() {
	if s.sock != nil {
		_ = s.sock.finish(s.w.Header()) // a client gone has nothing to read
		s.sock = nil
	}
}

// close closes a connection taken over that finish did not end.
func (s *streamWriter) close() {
	if s.sock != nil {
		s.sock.conn.Close()
	}
}
