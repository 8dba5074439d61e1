package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hotpipe/hotpipe/internal/exitcode"
	"github.com/hotpipe/hotpipe/replica"
	"github.com/hotpipe/hotpipe/stream"
	"github.com/hotpipe/hotpipe/txframe"
)

// maxAnswer bounds a JSON answer a client reads: a check of a badly
// damaged database lists every damaged frame.
const maxAnswer = 64 << 20

// errTruncatedAnswer is an answer cut on the way.
var errTruncatedAnswer = fmt.Errorf("%w: the answer was cut", stream.ErrTruncated)

// RestoreRequest says how a remote restore applies its stream: the
// options the server's replica.Restore takes (Notify and Progress are
// not sent), and the input's name for its messages.
type RestoreRequest struct {
	Options replica.Options
	// Input names the stream in the server's messages (HeaderInput).
	Input string
	// Sent, if set, is called with the body's bytes sent so far, from the
	// goroutine that sends them.
	Sent func(bytes int64)
}

// Restore streams body to the server, which applies it to db as
// hot-restore would, and returns what the restore did, also with an
// error. A body whose Read fails ends the upload with its error in a
// trailer: the server stops at a frame boundary, and Restore returns that
// error (it is the cause). An error the server answers is returned with
// its exit code (and, for a refusal the CLI words with a hint, its
// replica sentinel); a connection that breaks before the answer is a
// truncated stream.
func (c *Client) Restore(ctx context.Context, db string, body io.Reader, req RestoreRequest) (RestoreResult, error) {
	up := &upload{r: body, sent: req.Sent, trailer: http.Header{TrailerError: nil}}
	h := http.Header{"Expect": {"100-continue"}} // nothing is sent to a restore refused before it reads (--if-not-exists, a lock)
	if req.Input != "" {
		h.Set(HeaderInput, url.PathEscape(req.Input))
	}
	resp, err := c.send(ctx, http.MethodPost, "/v1/databases/"+url.PathEscape(db)+"/restore", restoreQuery(req.Options), h, up)
	up.close()
	if err != nil {
		if lerr := up.failed(); lerr != nil {
			return RestoreResult{}, lerr
		}
		return RestoreResult{}, err
	}
	defer resp.Body.Close()
	var ans RestoreAnswer
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxAnswer)).Decode(&ans); err != nil {
		if resp.StatusCode >= 300 {
			return RestoreResult{}, fmt.Errorf("server %s answered %s", c, resp.Status)
		}
		return RestoreResult{}, fmt.Errorf("server %s: restore of %s: %w (%v)", c, db, errTruncatedAnswer, err)
	}
	if lerr := up.failed(); lerr != nil && ans.Error != nil { // the cause; the server's error only echoes it
		return ans.Result, lerr
	}
	if ans.Error != nil {
		return ans.Result, restoreError(*ans.Error, ans.Refusal)
	}
	if resp.StatusCode >= 300 {
		return ans.Result, fmt.Errorf("server %s answered %s", c, resp.Status)
	}
	return ans.Result, nil
}

// restoreQuery is the query of a restore with o.
func restoreQuery(o replica.Options) url.Values {
	q := url.Values{}
	for name, set := range map[string]bool{"append": o.Append, "force": o.Force, "force_replica": o.ForceReplica,
		"if_not_exists": o.IfNotExists} {
		if set {
			q.Set(name, "true")
		}
	}
	if o.TargetLSN != 0 {
		q.Set("target_lsn", strconv.FormatUint(o.TargetLSN, 10))
	}
	switch {
	case o.Latest:
		q.Set("target_time", "latest")
	case !o.TargetTime.IsZero():
		q.Set("target_time", o.TargetTime.Format(time.RFC3339Nano))
	}
	return q
}

// restoreError is the error a restore's answer reports, matching the
// replica sentinel its refusal names, and context.Canceled when the
// restore was interrupted (the server stopped).
func restoreError(e ErrorJSON, refusal string) error {
	err := remoteError(e)
	var re *exitcode.RemoteError
	if errors.As(err, &re) && re.Err == nil {
		re.Err = refusals[refusal]
		if e.ExitCode == exitcode.Interrupted {
			re.Err = context.Canceled
		}
	}
	return err
}

// Replica is the result as a replica.Result (without the notices).
func (r RestoreResult) Replica() (replica.Result, error) {
	res := replica.Result{Progress: replica.Progress{First: r.First, Last: r.Last, Frames: r.Frames, Bytes: r.Bytes,
		LastTime: fromUnixNano(r.LastTime)}, Started: r.Started, Full: r.Full, StreamLast: r.StreamLast,
		UpToDate: r.UpToDate, Skipped: r.Skipped, SwitchedOff: r.SwitchedOff}
	if p := r.Stop; p != nil {
		res.Stop = &replica.StopPoint{Last: p.Last, LastTime: fromUnixNano(p.LastTime), Next: p.Next, NextTime: fromUnixNano(p.NextTime)}
	}
	if st := r.State; st != nil {
		h, err := txframe.ParseHash(st.Hash)
		if err != nil {
			return res, fmt.Errorf("restore result: state hash: %w", err)
		}
		res.State = &replica.State{LSN: st.LSN, Hash: h, Replica: st.Replica, Restoring: st.Restoring}
	}
	return res, nil
}

func fromUnixNano(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns)
}

// send sends a request and returns the answer whatever its status: the
// caller reads the body of an error answer too. A connection that breaks
// before the answer is a truncated stream.
func (c *Client) send(ctx context.Context, method, path string, q url.Values, h http.Header, body *upload) (*http.Response, error) {
	u := *c.base
	u.Path += path
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, method, u.String(), nil)
	if err != nil {
		return nil, err
	}
	for k, v := range h {
		req.Header[k] = v
	}
	if body != nil {
		req.Body, req.ContentLength, req.Trailer = body, -1, body.trailer
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, context.Cause(ctx)
		}
		return nil, fmt.Errorf("server %s: the connection broke: %w (%v)", c, stream.ErrTruncated, err)
	}
	return resp, nil
}

// upload is a request body read from r. A Read error of r ends the body
// cleanly, with the error in the TrailerError trailer; once closed (the
// answer came), reads fail, so that the rest of r is not sent. Only the
// transport reads it, but close and failed may come while it does.
type upload struct {
	r       io.Reader
	sent    func(int64)
	trailer http.Header // the request's: set once r fails, read by the transport after EOF
	n       int64
	closed  atomic.Bool

	mu  sync.Mutex
	err error // r's error
}

// errUploadClosed ends the upload of a body whose answer has come.
var errUploadClosed = errors.New("the server answered before the body was sent")

func (u *upload) Read(p []byte) (int, error) {
	if u.closed.Load() {
		return 0, errUploadClosed
	}
	if u.failed() != nil {
		return 0, io.EOF
	}
	n, err := u.r.Read(p)
	u.n += int64(n)
	if u.sent != nil && n > 0 {
		u.sent(u.n)
	}
	if err != nil && err != io.EOF {
		b, _ := json.Marshal(errorJSON(err))
		u.mu.Lock()
		u.err = err
		u.trailer.Set(TrailerError, string(b))
		u.mu.Unlock()
		return n, io.EOF
	}
	return n, err
}

// Close is the transport's, once it is done with the body: r is the
// caller's to close.
func (u *upload) Close() error { return nil }

// close stops the upload: the transport may still be reading it.
func (u *upload) close() { u.closed.Store(true) }

// failed is r's error, if its Read failed.
func (u *upload) failed() error {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.err
}

// WriteTo sends the body to w (the transport's chunked writer) in reads of
// up to 1 MiB, each Read as Read does: io.Copy's 32 KiB made one chunk,
// and one write on the socket, for every 32 KiB.
func (u *upload) WriteTo(w io.Writer) (int64, error) {
	n, rerr, werr := copySides(u, w)
	if werr != nil {
		return n, werr
	}
	if rerr == io.EOF {
		rerr = nil
	}
	return n, rerr
}
