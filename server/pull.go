package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/hotpipe/hotpipe/backup"
	"github.com/hotpipe/hotpipe/engine"
	"github.com/hotpipe/hotpipe/replica"
	"github.com/hotpipe/hotpipe/stream"
	"github.com/hotpipe/hotpipe/txframe"
)

// PullOptions configure Pull.
type PullOptions struct {
	// Follow keeps the standby pulling: the server's stream follows new
	// commits, and a stream that ends (the server shut down) or breaks is
	// resumed. Without it Pull catches up to the server's end once.
	Follow bool
	// Append and ForceReplica are replica.Options' for the first
	// connection; later ones append to what the first restored.
	Append, ForceReplica bool
	// Notify receives the engine's notices for the operator.
	Notify func(msg string)
	// Progress is called with the totals applied since Pull began.
	Progress func(replica.Progress)
	// Stop, when closed, ends a following standby gracefully: the server
	// is asked to end its stream with the end record, which completes the
	// restore, and Pull returns nil. Cancelling ctx instead cuts the
	// stream: the standby stops at a frame boundary, durable.
	Stop <-chan struct{}
	// MinWait is the first wait before a reconnection, doubled (with
	// jitter) at each failed attempt up to MaxWait. 0 means 100 ms and 10 s.
	MinWait, MaxWait time.Duration
	// GiveUpAfter bounds how long Pull tries to reconnect without a
	// stream that brought frames or lasted MaxWait (one cut right after
	// its header counts as a failure). 0 means five minutes; a negative
	// value tries for ever.
	GiveUpAfter time.Duration
	// Retrying, if set, is called with each failure Pull retries, before
	// it waits.
	Retrying func(PullRetry)
}

// PullRetry is a connection that ended, which Pull is about to make again.
type PullRetry struct {
	Attempt int           // failed attempts since the last stream that began
	LSN     uint64        // the standby's durable last LSN
	Err     error         // why the connection ended
	Wait    time.Duration // before the next attempt
}

// PullResult is what Pull did: replica.Result summed over its
// connections (Progress totals, State as the last one left the database).
type PullResult struct {
	replica.Result
	// Connections counts the streams the server sent.
	Connections int
}

var (
	// ErrStreamEnded is why a following standby reconnects after a stream
	// that ended with its end record: the server shut down.
	ErrStreamEnded = errors.New("the server ended the stream")
	// ErrGaveUp means Pull found no server to pull from for GiveUpAfter.
	ErrGaveUp = errors.New("gave up reconnecting")
)

// Pull makes database name in dataDir a standby of database source on the
// server c calls: it asks for the frames after its own durable last LSN
// and applies them with replica.Restore, which verifies each before it is
// committed and compares the stream's base hash with its own. When the
// connection breaks or the server goes away, it waits (with backoff) and
// resumes from its durable last LSN: nothing lost, nothing twice. What
// cannot pass by waiting (401, a database missing, another history,
// damaged data) ends it with that error. An absent or empty standby is
// restored from LSN 1.
func Pull(ctx context.Context, c *Client, source, dataDir, name string, opts PullOptions) (PullResult, error) {
	for _, n := range []string{source, name} {
		if err := engine.ValidateName(n); err != nil {
			return PullResult{}, err
		}
	}
	opts.MinWait = orDefault(opts.MinWait, 100*time.Millisecond)
	opts.MaxWait = max(orDefault(opts.MaxWait, 10*time.Second), opts.MinWait)
	opts.GiveUpAfter = orDefault(opts.GiveUpAfter, 5*time.Minute)
	p := &puller{c: c, source: source, dataDir: dataDir, name: name, opts: opts, append: opts.Append, forceReplica: opts.ForceReplica}
	return p.run(ctx)
}

// orDefault is d, or def when d is 0.
func orDefault(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

// stopTimeout bounds the request that asks the server to end a stream on
// Stop: a server that does not answer leaves the stream to a second signal.
const stopTimeout = 10 * time.Second

// puller is one Pull.
type puller struct {
	c                     *Client
	source, dataDir, name string
	opts                  PullOptions
	append, forceReplica  bool // for the next connection
	res                   PullResult
}

// run connects, restores, and reconnects until the pull ends.
func (p *puller) run(ctx context.Context) (PullResult, error) {
	var failedSince time.Time
	wait, attempt := p.opts.MinWait, 0
	for {
		if p.stopping() {
			return p.res, nil
		}
		began := time.Now()
		r, err := p.once(ctx)
		p.add(r)
		switch {
		case ctx.Err() != nil:
			return p.res, stream.Stopped(ctx)
		case p.stopping() && (err == nil || retryable(err)): // the stop ended the stream
			return p.res, nil
		case err == nil && !p.opts.Follow:
			return p.res, nil
		case err == nil:
			err = ErrStreamEnded
		case !retryable(err):
			return p.res, err
		}
		// The server is back when a stream brought frames or lasted: one
		// cut right after its header is no better than a refused connection.
		if r.Started && (r.Frames > 0 || time.Since(began) >= p.opts.MaxWait) {
			failedSince, wait, attempt = time.Time{}, p.opts.MinWait, 0
		}
		if failedSince.IsZero() {
			failedSince = time.Now()
		}
		attempt++
		w := jitter(wait)
		wait = min(2*wait, p.opts.MaxWait)
		if tried := time.Since(failedSince); p.opts.GiveUpAfter > 0 && tried+w > p.opts.GiveUpAfter {
			return p.res, fmt.Errorf("%w to %s for %s's standby %s after %d attempts over %s: %v",
				ErrGaveUp, p.c, p.source, p.name, attempt, tried.Round(time.Millisecond), err)
		}
		if p.opts.Retrying != nil {
			p.opts.Retrying(PullRetry{Attempt: attempt, LSN: p.lsn(), Err: err, Wait: w})
		}
		if err := p.sleep(ctx, w); err != nil {
			return p.res, err
		}
	}
}

// once makes one connection and restores its stream.
func (p *puller) once(ctx context.Context) (replica.Result, error) {
	lsn, err := durableLSN(p.dataDir, p.name, p.opts.Notify)
	if err != nil {
		return replica.Result{}, err
	}
	conn := &connSeen{}
	st, err := p.c.Backup(conn.trace(ctx), p.source, BackupRequest{Start: lsn + 1, Follow: p.opts.Follow})
	var rng *backup.RangeError
	if errors.As(err, &rng) && rng.Start > rng.Last+1 {
		return replica.Result{}, fmt.Errorf("%w: %s is at LSN %d, past the last LSN %d of %s on %s",
			txframe.ErrHistory, p.name, lsn, rng.Last, p.source, p.c)
	}
	if err != nil {
		return replica.Result{}, err
	}
	defer st.Close()
	p.res.Connections++
	done := make(chan struct{})
	defer close(done)
	go p.stopOnRequest(ctx, st, done)
	base := p.res.Progress
	ro := replica.Options{Append: p.append, ForceReplica: p.forceReplica, Notify: p.opts.Notify,
		Progress: func(pr replica.Progress) {
			if p.opts.Progress != nil {
				p.opts.Progress(sum(base, pr))
			}
		}}
	var in io.Reader
	ro.Drain, in = conn.drain(st)
	r := stream.NewReader([]stream.Input{{Name: p.c.String() + "/" + p.source, R: in}}, stream.Options{})
	res, err := replica.Restore(ctx, p.dataDir, p.name, r, ro)
	if res.State != nil && res.State.LSN > 0 {
		p.append = true // what this restore began, the next one resumes
	}
	if res.SwitchedOff {
		p.forceReplica = true // it was a replica a moment ago, by this pull
	}
	return res, err
}

// stopOnRequest asks the server to end st when opts.Stop closes.
func (p *puller) stopOnRequest(ctx context.Context, st *Stream, done <-chan struct{}) {
	select {
	case <-p.opts.Stop:
		// A failure is no matter: the stream then breaks, and run stops.
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), stopTimeout)
		defer cancel()
		_ = st.Stop(sctx)
	case <-done:
	case <-ctx.Done():
	}
}

func (p *puller) stopping() bool {
	select {
	case <-p.opts.Stop:
		return true
	default:
		return false
	}
}

// sleep waits d, or until ctx is done (its error) or Stop closes (nil).
func (p *puller) sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return stream.Stopped(ctx)
	case <-p.opts.Stop:
	case <-t.C:
	}
	return nil
}

// lsn is the standby's last LSN as the last restore left it.
func (p *puller) lsn() uint64 {
	if st := p.res.State; st != nil {
		return st.LSN
	}
	return 0
}

// add sums one connection's restore into the pull's result.
func (p *puller) add(r replica.Result) {
	t := &p.res.Result
	t.Progress = sum(t.Progress, r.Progress)
	t.Started = t.Started || r.Started
	t.Full = t.Full || r.Full
	t.SwitchedOff = t.SwitchedOff || r.SwitchedOff
	if r.Started {
		t.StreamLast, t.UpToDate = r.StreamLast, r.UpToDate && t.Frames == 0
	}
	if r.State != nil {
		t.State = r.State
	}
}

// sum is the progress of b after a.
func sum(a, b replica.Progress) replica.Progress {
	if b.Frames == 0 {
		return a
	}
	if a.Frames == 0 {
		a.First = b.First
	}
	a.Last, a.LastTime = b.Last, b.LastTime
	a.Frames += b.Frames
	a.Bytes += b.Bytes
	return a
}

// durableLSN is the last durable LSN of database name; 0 when it is absent.
// It takes no lock.
func durableLSN(dataDir, name string, notify func(string)) (uint64, error) {
	db, err := engine.Open(dataDir, name, engine.Options{ReadOnly: true, Notify: notify})
	if errors.Is(err, engine.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	defer db.Close()
	lsn, _, err := db.State()
	return lsn, err
}
