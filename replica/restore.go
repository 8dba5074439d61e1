package replica

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/hotpipe/hotpipe/engine"
	"github.com/hotpipe/hotpipe/stream"
	"github.com/hotpipe/hotpipe/txframe"
)

// Restore applies the stream read by r to the database name in dataDir, by
// the restore table of DESIGN.md §6 (see Decide), and returns what it did.
//
// Every frame's chained hash is verified, by r as it reads and against the
// database's own last hash, before the frame is committed; the first
// problem stops the restore, and nothing after it is applied. Frames are
// staged and synced in batches, and Restore returns only once every frame
// the database took is durable, whatever the outcome. A database
// created by a full restore stays a replica marked as restoring until a
// restore completes it; replica mode switched on by ForceReplica is
// switched off again on every path.
//
// Cancelling ctx stops the restore between blocks with stream.Stopped(ctx)
// (its cause, and context.Canceled, to errors.Is); an input that can stall should be
// wrapped by stream.Cancelable with the same ctx, so that a blocked read
// gives up too. The Result says how far the restore got, also with an
// error.
func Restore(ctx context.Context, dataDir, name string, r *stream.Reader, opts Options) (Result, error) {
	if err := opts.Validate(); err != nil {
		return Result{}, err
	}
	if err := engine.ValidateName(name); err != nil {
		return Result{}, err
	}
	if opts.IfNotExists {
		skip, restoring, st, err := existing(dataDir, name, opts.Notify)
		switch {
		case err != nil:
			return Result{}, err
		case skip:
			return Result{Skipped: true, State: st}, nil
		case restoring:
			opts.Append = true // resume what an interrupted restore began
		}
	}
	j := &job{ctx: ctx, dataDir: dataDir, name: name, r: r, opts: opts, target: newTarget(opts)}
	err := j.run()
	if j.db != nil {
		err = errors.Join(err, j.finish(err), j.db.Close())
	}
	j.res.StreamLast, _ = r.Last()
	return j.res, err
}

// existing reports, for IfNotExists, whether database name exists with data
// that a restore must leave alone (skip), or was left by an interrupted
// full restore (restoring), and its state. It takes no lock: a writer may
// hold it, and the database is then left alone all the more.
func existing(dataDir, name string, notify func(string)) (skip, restoring bool, st *State, err error) {
	db, err := engine.Open(dataDir, name, engine.Options{ReadOnly: true, Notify: notify})
	if errors.Is(err, engine.ErrNotFound) {
		return false, false, nil, nil
	}
	if err != nil {
		return false, false, nil, err
	}
	defer db.Close()
	m, err := db.Meta()
	if err != nil {
		return false, false, nil, err
	}
	lsn, h, err := db.State()
	if err != nil || lsn == 0 {
		return false, false, nil, err
	}
	st = &State{LSN: lsn, Hash: h, Replica: m.Replica, Restoring: m.Restoring}
	return !m.Restoring, m.Restoring, st, nil
}

// job is one restore.
type job struct {
	ctx      context.Context
	dataDir  string
	name     string
	opts     Options
	r        *stream.Reader
	target   target
	header   stream.Header // the stream's first
	db       *engine.DB    // nil while the database is absent
	plan     Plan
	switched bool // replica mode switched on by this restore (ForceReplica)
	apply    *applier
	res      Result
}

// run reads the first header, prepares the database and applies the stream.
func (j *job) run() error {
	ev, err := j.next()
	if err != nil {
		return err
	}
	if err := j.prepare(ev.Header); err != nil {
		return err
	}
	j.res.Started = true
	if j.opts.prepared != nil {
		j.opts.prepared()
	}
	err = j.stream()
	if j.apply != nil {
		if cerr := j.apply.close(); !errors.Is(err, cerr) { // the applier's error, once
			err = errors.Join(err, cerr)
		}
	}
	if err != nil {
		return err
	}
	return j.checkEnd()
}

// next returns the stream's next event. Once ctx is done it returns its
// cause, also in place of the reader's error when reading stopped because
// of it (a stream.Cancelable input).
func (j *job) next() (*stream.Event, error) {
	if err := j.canceled(); err != nil {
		return nil, err
	}
	ev, err := j.r.Next()
	if err != nil && err != io.EOF {
		if cerr := j.canceled(); cerr != nil {
			err = cerr
		}
	}
	return ev, err
}

func (j *job) canceled() error {
	if err := stream.Stopped(j.ctx); err != nil {
		return err
	}
	return nil
}

// stream feeds the stream's new frames to the applier until the stream or
// the target ends. The target ends at the first frame past it, which names
// the stream's next frame.
func (j *job) stream() error {
	for j.res.Stop == nil {
		ev, err := j.next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if ev.Kind == stream.KindFrames {
			if err := j.frames(ev); err != nil {
				return err
			}
		}
	}
	return nil
}

// prepare decides, from the first header, how the stream joins the
// database.
func (j *job) prepare(h stream.Header) error {
	j.header = h
	t, err := j.describeTarget()
	if err != nil {
		return err
	}
	s := Stream{Origin: h.Origin, Base: h.Base, BaseHash: h.BaseHash}
	if j.plan, err = Decide(t, s, j.opts); err != nil {
		return err
	}
	j.res.Full = j.plan.Full
	if err := j.target.notBehind(j.db, t); err != nil {
		return err
	}
	// An absent database (j.db nil) is created when the first frames pass
	// the target checks.
	if j.plan.Full && t.Exists {
		if err := j.db.BeginRestore(s.Origin); err != nil {
			return err
		}
	}
	if !j.plan.Full && h.Base == j.plan.Skip {
		return j.compareAt(h.Base, h.BaseHash)
	}
	return nil
}

// describeTarget opens the database for write, if it exists, and
// describes it.
func (j *job) describeTarget() (Target, error) {
	t := Target{Name: j.name}
	db, err := engine.Open(j.dataDir, j.name, engine.Options{Notify: j.opts.Notify})
	if errors.Is(err, engine.ErrNotFound) {
		return t, nil
	}
	if err != nil {
		return t, err
	}
	j.db = db
	m, err := db.Meta()
	if err != nil {
		return t, err
	}
	last, _, err := db.State()
	t.Exists, t.Last, t.Replica, t.Origin = true, last, m.Replica, m.Origin
	return t, err
}

// open creates the database of a full restore, if needed, and starts
// applying.
func (j *job) open() error {
	if j.apply != nil {
		return nil
	}
	if err := j.plan.CheckApply(j.name); err != nil {
		return err
	}
	if j.plan.SwitchOn {
		if err := j.db.MarkRestoring(); err != nil {
			return err
		}
		j.switched = true
	}
	if j.db == nil {
		if err := j.create(); err != nil {
			return err
		}
	}
	j.apply = startApplier(j.db, j.opts.Drain)
	return nil
}

// errReplanned means the database turned out to exist with data when a
// full restore went to create it: the frames at hand are to be taken
// again, under the new plan.
var errReplanned = errors.New("restore planned again")

// create makes the database of a full restore. Another restore may have
// created it since describeTarget found it absent; then the database is
// described and planned again, so this restore meets what it would have
// met arriving later: the winner's lock (engine.ErrLocked), its data
// (refused without Append, joined with it: errReplanned), or an empty
// database to fill.
func (j *job) create() error {
	if j.opts.beforeCreate != nil {
		j.opts.beforeCreate()
	}
	_, err := engine.Create(j.dataDir, j.name, engine.CreateOptions{Origin: j.header.Origin, Restoring: true})
	if errors.Is(err, engine.ErrExists) {
		return j.replan(err)
	}
	if err != nil {
		return err
	}
	j.db, err = engine.Open(j.dataDir, j.name, engine.Options{Notify: j.opts.Notify})
	return err
}

// replan prepares the restore again for a database created under it.
func (j *job) replan(exists error) error {
	if err := j.prepare(j.header); err != nil {
		return err
	}
	if j.db == nil { // there, yet not a database that opens: say so
		return exists
	}
	if !j.plan.Full {
		return errReplanned
	}
	return nil
}

func (j *job) compareAt(lsn uint64, h txframe.Hash) error {
	mine, err := j.db.HashAt(lsn)
	if err != nil {
		return err
	}
	if err := txframe.SameHash(lsn, h, mine, "the stream", "the database"); err != nil {
		return fmt.Errorf("%s: %w", j.name, err)
	}
	return nil
}

// frames queues a block's new frames up to the target, after comparing the
// frame at the database's last LSN when the block covers it.
func (j *job) frames(ev *stream.Event) error {
	block, first, prev := ev.Frames, ev.First, ev.Prev
	if !j.plan.Full && first <= j.plan.Skip {
		skipped, h := skipFrames(block, min(ev.Last, j.plan.Skip)-first+1)
		if ev.Last >= j.plan.Skip {
			if err := j.compareAt(j.plan.Skip, h); err != nil {
				return err
			}
		}
		block, first, prev = block[skipped:], j.plan.Skip+1, h
	}
	if len(block) == 0 {
		return nil
	}
	block, stop, err := j.target.cut(block, ev.Last, ev.LastTime)
	if err != nil {
		return err
	}
	j.res.Stop = stop
	if len(block) == 0 {
		return nil
	}
	if err := j.open(); err != nil {
		if errors.Is(err, errReplanned) {
			return j.frames(ev) // once: the database is open now
		}
		return err
	}
	if err := j.apply.add(prev, block); err != nil {
		return err
	}
	last, lastTime := ev.Last, unixTime(ev.LastTime)
	if stop != nil {
		last, lastTime = stop.Last, stop.LastTime
	}
	j.handed(first, last, lastTime, len(block))
	return nil
}

// handed counts frames first..last, of bytes bytes, as handed to the
// database, and reports the progress.
func (j *job) handed(first, last uint64, lastTime time.Time, bytes int) {
	p := &j.res.Progress
	if p.First == 0 {
		p.First = first
	}
	p.Last, p.LastTime = last, lastTime
	p.Frames += last - first + 1
	p.Bytes += int64(bytes)
	if j.opts.Progress != nil {
		j.opts.Progress(*p)
	}
}

// checkEnd handles the end of the stream: a target not reached, or a
// stream that brought nothing new and must agree with the database.
func (j *job) checkEnd() error {
	last, h := j.r.Last()
	if j.res.Stop == nil {
		stop, err := j.target.reached(last)
		if err != nil {
			return err
		}
		j.res.Stop = stop
	}
	if j.db == nil { // a stream of no frames: an empty copy
		switch err := j.open(); {
		case errors.Is(err, errReplanned): // a database with data: as below
		case err != nil:
			return err
		default:
			return j.apply.close()
		}
	}
	if j.plan.Full || last > j.plan.Skip || j.res.Stop != nil {
		return nil
	}
	if last < j.plan.Skip {
		if err := j.compareAt(last, h); err != nil {
			return err
		}
	}
	j.res.UpToDate = true
	return nil
}

// finish switches replica mode as the outcome requires and records the
// state the database is left in.
func (j *job) finish(runErr error) error {
	m, err := j.db.Meta()
	if err != nil {
		return err
	}
	// A restore that completes ends a restore in progress, unless it
	// brought nothing (the database was already at or past the stream's
	// end): that is no sign an interrupted full restore was completed.
	switchOff := runErr == nil && (j.plan.Full || m.Restoring && !j.res.UpToDate) || j.switched
	if switchOff {
		if err := j.db.SetReplica(false); err != nil {
			return err
		}
		j.res.SwitchedOff = true
		if m, err = j.db.Meta(); err != nil {
			return err
		}
	}
	last, h, err := j.db.State()
	if err != nil {
		return err
	}
	j.res.State = &State{LSN: last, Hash: h, Replica: m.Replica, Restoring: m.Restoring}
	return nil
}

// skipFrames returns the byte length of the first n frames of block and
// the hash stored in the nth.
func skipFrames(block []byte, n uint64) (int, txframe.Hash) {
	p := 0
	var h txframe.Hash
	for f := range txframe.Frames(block) {
		if n == 0 {
			break
		}
		h, p, n = txframe.StoredHash(f), p+len(f), n-1
	}
	return p, h
}
