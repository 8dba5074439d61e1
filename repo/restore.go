package repo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"filippo.io/age"

	"github.com/hotpipe/hotpipe/engine"
	"github.com/hotpipe/hotpipe/replica"
	"github.com/hotpipe/hotpipe/stream"
	"github.com/hotpipe/hotpipe/txframe"
)

// RestoreOptions choose what Restore restores from the repository.
type RestoreOptions struct {
	replica.Options
	// Source is the database whose history is restored; "" means the one
	// restored into.
	Source string
	// Origin picks one of Source's histories when the repository holds
	// several and the database restored into has none yet.
	Origin txframe.Origin
	// Identities decrypt age-encrypted objects (stream.Options.Identities).
	Identities []age.Identity
}

// RestoreResult is what Restore did: the restore's result and the
// objects it planned to read.
type RestoreResult struct {
	replica.Result
	History *History
	Plan    []Entry
}

// ErrNoHistory means the repository holds no history to restore from, or
// several, and none was picked.
var ErrNoHistory = errors.New("no history to restore")

// Restore restores the database name under dataDir from the repository:
// it plans the objects that reach the target with the fewest bytes
// (History.Plan) and reads them in order, each opened when the one before
// is done, through replica.Restore, which verifies every frame before it
// commits it. Into a database with data (Append), the plan starts after
// its last LSN, in its own history.
func (r *Repository) Restore(ctx context.Context, dataDir, name string, opts RestoreOptions) (RestoreResult, error) {
	var out RestoreResult
	if opts.Source == "" {
		opts.Source = name
	}
	at, err := restoreStart(dataDir, name, opts)
	if err != nil {
		return out, err
	}
	if opts.IfNotExists && at.last > 0 && !at.restoring { // leave it alone: read nothing
		out.Skipped, out.State = true, &replica.State{LSN: at.last, Hash: at.hash, Replica: at.replica}
		return out, nil
	}
	from := at.last + 1
	if !at.origin.IsZero() {
		opts.Origin = at.origin
	}
	c, err := r.Catalog(ctx, opts.Source)
	if err != nil {
		return out, err
	}
	h, err := r.pick(c, opts)
	if err != nil {
		return out, err
	}
	out.History = h
	target := opts.TargetLSN
	if !opts.TargetTime.IsZero() {
		target = h.LastBefore(opts.TargetTime)
	}
	if out.Plan, err = h.Plan(from, target); err != nil {
		return out, err
	}
	if len(out.Plan) == 0 { // the database is past the target already
		out.UpToDate, out.State = true, &replica.State{LSN: at.last, Hash: at.hash, Replica: at.replica, Restoring: at.restoring}
		return out, nil
	}
	inputs := make([]stream.Input, len(out.Plan))
	for i, e := range out.Plan {
		inputs[i] = stream.Input{Name: r.String() + "/" + e.Key, R: &lazyObject{ctx: ctx, store: r.store, key: e.Key}}
	}
	defer func() {
		for _, in := range inputs {
			in.R.(*lazyObject).close()
		}
	}()
	out.Result, err = replica.Restore(ctx, dataDir, name, stream.NewReader(inputs, stream.Options{Identities: opts.Identities}), opts.Options)
	return out, err
}

// startPoint is the database a restore goes into, as it is before.
type startPoint struct {
	last               uint64 // 0: absent or empty, or not to be appended to
	hash               txframe.Hash
	origin             txframe.Origin
	replica, restoring bool
}

// restoreStart reads where a restore into name begins: after its last
// LSN, in its history, when it has data and Append or IfNotExists is
// asked; at LSN 1 otherwise. The database is only read.
func restoreStart(dataDir, name string, opts RestoreOptions) (startPoint, error) {
	var at startPoint
	if !opts.Append && !opts.IfNotExists {
		return at, nil
	}
	db, err := engine.Open(dataDir, name, engine.Options{ReadOnly: true})
	if errors.Is(err, engine.ErrNotFound) {
		return at, nil
	}
	if err != nil {
		return at, err
	}
	defer db.Close()
	meta, err := db.Meta()
	if err != nil {
		return at, err
	}
	if at.last, at.hash, err = db.State(); err != nil || at.last == 0 {
		return startPoint{}, err
	}
	at.origin, at.replica, at.restoring = meta.Origin, meta.Replica, meta.Restoring
	return at, nil
}

// pick chooses the history to restore: the one of opts.Origin, else the
// only one the repository holds of opts.Source.
func (r *Repository) pick(c *Catalog, opts RestoreOptions) (*History, error) {
	hs := c.Databases(opts.Source)
	if !opts.Origin.IsZero() {
		if h := c.History(opts.Source, opts.Origin); h != nil {
			return h, nil
		}
		return nil, fmt.Errorf("%s: %w: no object of %s's history %s", r, ErrNoHistory, opts.Source, opts.Origin)
	}
	switch len(hs) {
	case 0:
		return nil, fmt.Errorf("%s: %w: no object of database %s", r, ErrNoHistory, opts.Source)
	case 1:
		return hs[0], nil
	}
	var origins []string
	for _, h := range hs {
		origins = append(origins, h.Origin.String())
	}
	return nil, fmt.Errorf("%s: %w: database %s has %d histories (origins %s): pick one", r, ErrNoHistory,
		opts.Source, len(hs), strings.Join(origins, ", "))
}

// lazyObject opens its object at the first Read and closes it at its end,
// so that a restore holds one object open at a time.
type lazyObject struct {
	ctx   context.Context
	store Store
	key   string
	o     Object
	done  bool
}

func (l *lazyObject) Read(p []byte) (int, error) {
	if l.done {
		return 0, io.EOF
	}
	if l.o == nil {
		o, err := l.store.Open(l.ctx, l.key)
		if err != nil {
			return 0, err
		}
		l.o = o
	}
	n, err := l.o.Read(p)
	if err == io.EOF {
		l.close()
		l.done = true
	}
	return n, err
}

func (l *lazyObject) close() {
	if l.o != nil {
		l.o.Close()
		l.o = nil
	}
}
