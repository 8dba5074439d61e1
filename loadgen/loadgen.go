package loadgen

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hotpipe/hotpipe/engine"
	"github.com/hotpipe/hotpipe/stream"
	"github.com/hotpipe/hotpipe/txframe"
)

// MaxWorkers bounds Options.Workers: each worker is a goroutine waiting on
// a commit, and group commit gains nothing from more.
const MaxWorkers = 4096

// ErrOptions means options that no workload can run with; Check returns it
// inside an *OptionError.
var ErrOptions = errors.New("invalid load options")

// OptionError names the option Check refused (a field of Workload or
// Options: "Txs", "Workers", "Rate", "Entries", "ValueSize") and why.
type OptionError struct {
	Option string // for Entries x ValueSize too large: "Entries"
	Rule   string // e.g. "must be >= 0"
	Err    error  // the format's own error, when it refused the size
}

func (e *OptionError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%v: %s: %v", ErrOptions, e.Option, e.Err)
	}
	return fmt.Sprintf("%v: %s %s", ErrOptions, e.Option, e.Rule)
}

// Unwrap returns ErrOptions and the format's error, if any.
func (e *OptionError) Unwrap() []error { return []error{ErrOptions, e.Err} }

// Workload generates the transactions of a seeded load.
type Workload struct {
	Seed      uint64
	Entries   int // puts per transaction, at least 1
	ValueSize int // bytes per value
}

// Options say how much to commit, and how.
type Options struct {
	Txs     int     // transactions to commit
	Workers int     // concurrent committers, 1..MaxWorkers; they share fsyncs
	Rate    float64 // at most this many transactions per second in total; 0: as fast as possible
	// Ack, when set, is called with each LSN the moment its commit is
	// acknowledged (durable), from the committing worker; calls do not
	// overlap.
	Ack func(lsn uint64)
}

// Tx returns transaction i's entries.
func (w Workload) Tx(i int) []txframe.Entry {
	rng := rand.New(rand.NewPCG(w.Seed, uint64(i)))
	es := make([]txframe.Entry, w.Entries)
	for j := range es {
		v := make([]byte, w.ValueSize)
		for k := range v {
			v[k] = 'a' + byte(rng.IntN(26))
		}
		es[j] = txframe.Entry{Op: txframe.OpPut, Key: w.key(i*w.Entries + j), Value: v}
	}
	return es
}

// key returns "key" and n zero-padded to 8 digits.
func (w Workload) key(n int) []byte {
	digits := strconv.Itoa(n)
	for len(digits) < 8 {
		digits = "0" + digits
	}
	return []byte("key" + digits)
}

// Check refuses options no run can take, and a workload whose largest
// transaction the format cannot hold (without generating its values).
func (w Workload) Check(o Options) error {
	switch {
	case o.Txs < 0:
		return &OptionError{Option: "Txs", Rule: "must be >= 0"}
	case o.Workers < 1 || o.Workers > MaxWorkers:
		return &OptionError{Option: "Workers", Rule: fmt.Sprintf("must be 1..%d", MaxWorkers)}
	case o.Rate < 0 || o.Rate != o.Rate:
		return &OptionError{Option: "Rate", Rule: "must be >= 0"}
	case w.Entries < 1:
		return &OptionError{Option: "Entries", Rule: "must be >= 1"}
	case w.ValueSize < 0 || w.ValueSize > txframe.MaxValueLen:
		return &OptionError{Option: "ValueSize", Rule: fmt.Sprintf("must be 0..%d", txframe.MaxValueLen)}
	}
	value := make([]byte, w.ValueSize)
	entries := make([]txframe.Entry, w.Entries)
	last := max(o.Txs-1, 0) * w.Entries
	for j := range entries {
		entries[j] = txframe.Entry{Op: txframe.OpPut, Key: w.key(last + j), Value: value}
	}
	if _, err := txframe.EncodedLen(entries); err != nil {
		return &OptionError{Option: "Entries", Rule: "x ValueSize is too large", Err: err}
	}
	return nil
}

// Run commits o.Txs transactions of w to db from o.Workers goroutines and
// returns the highest acknowledged LSN, also when it stops early: at the
// first failed commit (its error) or when ctx is done (stream.Stopped(ctx)).
func Run(ctx context.Context, db *engine.DB, w Workload, o Options) (uint64, error) {
	if err := w.Check(o); err != nil {
		return 0, err
	}
	var next atomic.Int64
	var last atomic.Uint64
	run, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	var ackMu sync.Mutex
	start := time.Now()
	for range o.Workers {
		wg.Go(func() {
			for run.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= o.Txs {
					return
				}
				if o.Rate > 0 {
					pace(run, start.Add(time.Duration(float64(i)/o.Rate*float64(time.Second))))
				}
				lsn, err := db.Commit(w.Tx(i))
				if err != nil {
					cancel(err)
					return
				}
				if o.Ack != nil {
					ackMu.Lock()
					o.Ack(lsn)
					ackMu.Unlock()
				}
				for cur := last.Load(); lsn > cur && !last.CompareAndSwap(cur, lsn); cur = last.Load() {
				}
			}
		})
	}
	wg.Wait()
	if run.Err() != nil {
		if err := stream.Stopped(ctx); err != nil {
			return last.Load(), err
		}
		return last.Load(), context.Cause(run) // the first failed commit
	}
	return last.Load(), nil
}

// pace sleeps until at, or until ctx is done.
func pace(ctx context.Context, at time.Time) {
	d := time.Until(at)
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
