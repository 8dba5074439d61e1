package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"sync"
	"time"
	"unicode"

	"github.com/hotpipe/hotpipe/engine"
	"github.com/hotpipe/hotpipe/internal/exitcode"
	"github.com/hotpipe/hotpipe/replica"
	"github.com/hotpipe/hotpipe/stream"
)

// HeaderInput names the stream a restore's body carries, in the server's
// messages: the client's file name, so that "foo.backup: offset 12: ..."
// reads as it does locally. Without it the body is named "body".
const HeaderInput = "Hotpipe-Input"

// DefaultRestoreIdle is how long a restore waits for the next bytes of its
// body before it gives up, when Options.RestoreIdle is 0.
const DefaultRestoreIdle = 60 * time.Second

// maxNotices bounds the engine notices a restore's answer carries.
const maxNotices = 100

// RestoreAnswer is what POST /v1/databases/{db}/restore answers, on success
// and on error alike: Result says how far the restore got and where it
// left the database; Error, on error, is the error answer's error object
// (so the body is also an ErrorBody); Refusal names, for a client that
// adds its own hints, which refusal it was.
type RestoreAnswer struct {
	Error   *ErrorJSON    `json:"error,omitempty"`
	Refusal string        `json:"refusal,omitempty"`
	Result  RestoreResult `json:"result"`
}

// RestoreResult is a replica.Result as JSON: the figures hot-restore
// reports. Times are Unix nanoseconds, 0 when there is none.
type RestoreResult struct {
	First       uint64        `json:"first_lsn"`
	Last        uint64        `json:"last_lsn"`
	Frames      uint64        `json:"frames"`
	Bytes       int64         `json:"bytes"`
	LastTime    int64         `json:"last_time"`
	Started     bool          `json:"started"`
	Full        bool          `json:"full"`
	StreamLast  uint64        `json:"stream_last_lsn"`
	UpToDate    bool          `json:"up_to_date"`
	Skipped     bool          `json:"skipped"`
	SwitchedOff bool          `json:"switched_off"`
	Stop        *RestoreStop  `json:"stop,omitempty"`
	State       *RestoreState `json:"state,omitempty"`
	// Notices are the engine's notices for the operator (a torn tail
	// truncated when the database was opened), at most 100.
	Notices []string `json:"notices,omitempty"`
}

// RestoreStop is a replica.StopPoint as JSON.
type RestoreStop struct {
	Last     uint64 `json:"last_lsn"`
	LastTime int64  `json:"last_time"`
	Next     uint64 `json:"next_lsn"`
	NextTime int64  `json:"next_time"`
}

// RestoreState is a replica.State as JSON: the database as the restore
// left it, durable.
type RestoreState struct {
	LSN       uint64 `json:"lsn"`
	Hash      string `json:"hash"`
	Replica   bool   `json:"replica"`
	Restoring bool   `json:"restoring"`
}

// Refusals named in RestoreAnswer.Refusal.
var refusals = map[string]error{"has_data": replica.ErrHasData, "not_replica": replica.ErrNotReplica,
	"target_missed": replica.ErrTargetMissed}

// restore applies the request's body, a stream, to a database, as
// hot-restore applies its input (see docs/API.md):
//
//	POST /v1/databases/{db}/restore?append=&force=&force_replica=&target_lsn=N&target_time=T&if_not_exists=
//
// The writer lock is held only inside replica.Restore. A body that stalls
// for Options.RestoreIdle, or whose client goes away, ends the restore as
// a truncated stream; Drain ends it as SIGINT ends the local command.
// Either way it stops at a frame boundary, durable, and resumable.
func (s *Server) restore(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("db")
	opts, err := restoreOptions(r.URL.Query())
	if err == nil {
		err = engine.ValidateName(name)
	}
	input := "body"
	if v := r.Header.Get(HeaderInput); v != "" && err == nil {
		input, err = inputName(v)
	}
	if err != nil {
		writeError(w, err)
		return
	}
	ctx, _, done := s.startStream(context.WithoutCancel(r.Context()), "restore", name) // a client gone is a truncated body, not an interrupt
	defer done()
	body := newRestoreBody(ctx, w, r, s.restoreIdle())
	defer body.stop()
	var notices []string
	opts.Notify = func(msg string) {
		if len(notices) < maxNotices {
			notices = append(notices, msg)
		}
	}
	in := []stream.Input{{Name: input, R: body}}
	s.count.restores.Add(1)
	res, err := replica.Restore(ctx, s.opts.DataDir, name, stream.NewReader(in, stream.Options{}), opts)
	s.count.restores.Add(-1)
	s.count.restoredFrames.Add(res.Frames)
	s.count.restoredBytes.Add(res.Bytes)
	ans := RestoreAnswer{Result: restoreResultOf(res, notices)}
	status := http.StatusOK
	if err != nil {
		s.count.failedRestores.Add(1)
		s.opts.Logf("restore of %s: %v", name, err)
		e := errorJSON(err)
		ans.Error, ans.Refusal, status = &e, refusalOf(err), statusOf(err)
	}
	writeJSON(w, status, ans)
	body.drain()
}

// drainMax bounds how long a restore that answered before its body ended
// reads on, for its client to see the answer (see restoreBody.drain).
const drainMax = 5 * time.Second

func (s *Server) restoreIdle() time.Duration {
	if s.opts.RestoreIdle > 0 {
		return s.opts.RestoreIdle
	}
	return DefaultRestoreIdle
}

// restoreOptions reads a restore's query parameters, checked as the
// library checks them, before the body is read.
func restoreOptions(q url.Values) (replica.Options, error) {
	var o replica.Options
	if err := known(q, "append", "force", "force_replica", "target_lsn", "target_time", "if_not_exists"); err != nil {
		return o, err
	}
	for name, p := range map[string]*bool{"append": &o.Append, "force": &o.Force, "force_replica": &o.ForceReplica, "if_not_exists": &o.IfNotExists} {
		if err := boolParam(q, name, p); err != nil {
			return o, err
		}
	}
	var err error
	if o.TargetLSN, err = lsnParam(q, "target_lsn"); err != nil {
		return o, err
	}
	if q.Has("target_lsn") && o.TargetLSN == 0 {
		return o, fmt.Errorf("%w: target_lsn counts from 1", errUsage)
	}
	switch tt := q.Get("target_time"); {
	case tt == "latest":
		o.Latest = true
	case tt != "":
		if o.TargetTime, err = time.Parse(time.RFC3339Nano, tt); err != nil {
			return o, fmt.Errorf("%w: target_time=%q is not an RFC 3339 time or \"latest\"", errUsage, tt)
		}
	}
	if err := o.Validate(); err != nil {
		return o, fmt.Errorf("%w: %w", errUsage, err)
	}
	return o, nil
}

// boolParam reads the boolean parameter name into p; absent is false.
func boolParam(q url.Values, name string, p *bool) error {
	v := q.Get(name)
	if v == "" {
		return nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return fmt.Errorf("%w: %s=%q: give true or false", errUsage, name, v)
	}
	*p = b
	return nil
}

// inputName checks a HeaderInput value: printable, at most 1024 bytes.
func inputName(v string) (string, error) {
	if len(v) > 1024 {
		return "", fmt.Errorf("%w: %s header: over 1024 bytes", errUsage, HeaderInput)
	}
	if u, err := url.PathUnescape(v); err == nil {
		v = u
	}
	for _, c := range v {
		if !unicode.IsPrint(c) {
			return "", fmt.Errorf("%w: %s header: %q is not printable", errUsage, HeaderInput, v)
		}
	}
	return v, nil
}

// refusalOf names the refusal err is, for RestoreAnswer.Refusal.
func refusalOf(err error) string {
	for name, sentinel := range refusals {
		if errors.Is(err, sentinel) {
			return name
		}
	}
	return ""
}

func restoreResultOf(res replica.Result, notices []string) RestoreResult {
	out := RestoreResult{First: res.First, Last: res.Last, Frames: res.Frames, Bytes: res.Bytes, LastTime: unixNano(res.LastTime),
		Started: res.Started, Full: res.Full, StreamLast: res.StreamLast, UpToDate: res.UpToDate, Skipped: res.Skipped,
		SwitchedOff: res.SwitchedOff, Notices: notices}
	if p := res.Stop; p != nil {
		out.Stop = &RestoreStop{Last: p.Last, LastTime: unixNano(p.LastTime), Next: p.Next, NextTime: unixNano(p.NextTime)}
	}
	if st := res.State; st != nil {
		out.State = &RestoreState{LSN: st.LSN, Hash: st.Hash.String(), Replica: st.Replica, Restoring: st.Restoring}
	}
	return out
}

func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// restoreBody reads a restore's request body. Each read must bring bytes
// within idle (a stalled client would hold the writer lock forever);
// cancelling ctx ends a blocked read at once. The end of the body is the
// end of the stream, unless the client's TrailerError trailer says its
// own input failed: then that error is the body's.
type restoreBody struct {
	ctx  context.Context
	r    *http.Request
	rc   *http.ResponseController
	idle time.Duration
	mu   sync.Mutex // orders the deadline's renewal and its cut by ctx
	stop func() bool
	read bool // the body was asked for: with Expect: 100-continue, it is being sent
}

func newRestoreBody(ctx context.Context, w http.ResponseWriter, r *http.Request, idle time.Duration) *restoreBody {
	b := &restoreBody{ctx: ctx, r: r, rc: http.NewResponseController(w), idle: idle}
	_ = b.rc.EnableFullDuplex() // so that drain may read after the answer
	b.stop = context.AfterFunc(ctx, func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		_ = b.rc.SetReadDeadline(time.Now())
	})
	return b
}

func (b *restoreBody) Read(p []byte) (int, error) {
	b.mu.Lock()
	err := stream.Stopped(b.ctx)
	if err == nil {
		err = b.rc.SetReadDeadline(time.Now().Add(b.idle))
	}
	b.mu.Unlock()
	if err != nil {
		return 0, err
	}
	b.read = true
	n, err := b.r.Body.Read(p)
	switch {
	case err == nil:
		return n, nil
	case err == io.EOF:
		return n, b.clientError()
	case b.ctx.Err() != nil:
		return n, stream.Stopped(b.ctx)
	case errors.Is(err, os.ErrDeadlineExceeded):
		return n, fmt.Errorf("the client sent nothing for %s: %w", b.idle, stream.ErrTruncated)
	}
	return n, fmt.Errorf("the client went away: %w (%v)", stream.ErrTruncated, err)
}

// drain reads the rest of a body the restore stopped reading (a refusal,
// an error), for at most drainMax, after the answer is flushed: a server
// that closed the connection with the body unread would reset it, and the
// client could lose the answer with it. The client, once it has the
// answer, stops sending.
func (b *restoreBody) drain() {
	if !b.read {
		return
	}
	_ = b.rc.Flush()
	b.mu.Lock()
	err := b.rc.SetReadDeadline(time.Now().Add(min(b.idle, drainMax)))
	b.mu.Unlock()
	if err == nil {
		_, _ = io.Copy(io.Discard, b.r.Body)
	}
}

// clientError is the error the client's trailer reports, or io.EOF.
func (b *restoreBody) clientError() error {
	v := b.r.Trailer.Get(TrailerError)
	if v == "" {
		return io.EOF
	}
	var e ErrorJSON
	if json.Unmarshal([]byte(v), &e) != nil || e.Message == "" {
		return fmt.Errorf("the client's input failed: %w", stream.ErrTruncated)
	}
	if e.ExitCode == exitcode.OK {
		e.ExitCode = exitcode.Failure
	}
	return remoteError(e)
}
