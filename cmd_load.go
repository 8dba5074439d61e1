package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/hotpipe/hotpipe/engine"
	"github.com/hotpipe/hotpipe/txframe"
)

func loadCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "load",
		Usage:     "commit a seeded, deterministic workload",
		ArgsUsage: "DB",
		Description: `Commits --txs transactions of --entries puts each, from --workers concurrent
committers sharing fsyncs through group commit, and prints the last
acknowledged LSN on stdout. Transaction i (counting from 0) always holds the
same entries for the same --seed: keys "key" + (i*entries+j) zero-padded to
8 digits, values --value-size pseudo-random lowercase letters. With
--workers 1 the LSN order is deterministic too; with more, which transaction
gets which LSN depends on scheduling. --rate paces commits to at most that
many transactions per second in total. --clock replaces the real clock: the
k-th transaction committed by this run gets commit time TIME + k x
--clock-step (commit times still never go back). --acks prints each LSN on
stdout the moment its commit is acknowledged (durable), before the final
line: what a crash test may demand back after killing the load.

Examples:
   hotpipe load foo --txs 1000000 --workers 1024
   hotpipe load foo --txs 5000 --rate 1000 --value-size 1024
   hotpipe load foo --txs 60 --clock 2026-11-20T14:00:00Z --clock-step 1m`,
		Flags: []cli.Flag{
			&cli.IntFlag{Name: "txs", Value: 1000, Usage: "transactions to commit"},
			&cli.IntFlag{Name: "entries", Value: 1, Usage: "puts per transaction"},
			&cli.IntFlag{Name: "value-size", Value: 100, Usage: "bytes per value"},
			&cli.Uint64Flag{Name: "seed", Value: 1, Usage: "seed of the value generator"},
			&cli.Float64Flag{Name: "rate", Usage: "at most this many transactions per second (0: as fast as possible)"},
			&cli.IntFlag{Name: "workers", Value: 256, Usage: "concurrent committers (they share fsyncs: more workers, bigger batches)"},
			&cli.TimestampFlag{Name: "clock", Layout: time.RFC3339Nano, Timezone: time.UTC,
				Usage: "commit times from this RFC 3339 `TIME` on instead of the real clock (for tests and demos)"},
			&cli.DurationFlag{Name: "clock-step", Value: time.Second, Usage: "with --clock, how far each commit moves the clock"},
			&cli.BoolFlag{Name: "acks", Usage: "print each acknowledged LSN on stdout as it is acknowledged"},
		},
		Action: e.load,
	}
}

// workload generates transaction i of a seeded load.
type workload struct {
	seed      uint64
	entries   int
	valueSize int
}

func (w workload) tx(i int) []txframe.Entry {
	rng := rand.New(rand.NewPCG(w.seed, uint64(i)))
	es := make([]txframe.Entry, w.entries)
	for j := range es {
		key := strconv.AppendInt([]byte("key"), int64(i*w.entries+j), 10)
		key = zeroPad(key, 3, 8)
		v := make([]byte, w.valueSize)
		for k := range v {
			v[k] = 'a' + byte(rng.IntN(26))
		}
		es[j] = txframe.Entry{Op: txframe.OpPut, Key: key, Value: v}
	}
	return es
}

// zeroPad left-pads the digits after prefix bytes of b to width.
func zeroPad(b []byte, prefix, width int) []byte {
	digits := len(b) - prefix
	if digits >= width {
		return b
	}
	out := make([]byte, prefix+width)
	copy(out, b[:prefix])
	for i := prefix; i < prefix+width-digits; i++ {
		out[i] = '0'
	}
	copy(out[prefix+width-digits:], b[prefix:])
	return out
}

type loadOpts struct {
	txs, workers int
	rate         float64
	work         workload
	acks         io.Writer // each acknowledged LSN, a line each; nil for none
}

func (e *env) load(c *cli.Context) error {
	if err := args(c, 1, 1); err != nil {
		return err
	}
	o := loadOpts{txs: c.Int("txs"), workers: c.Int("workers"), rate: c.Float64("rate"),
		work: workload{seed: c.Uint64("seed"), entries: c.Int("entries"), valueSize: c.Int("value-size")}}
	if c.Bool("acks") {
		o.acks = e.stdout
	}
	if err := o.check(); err != nil {
		return err
	}
	db, err := engine.Open(e.dataDir, c.Args().First(), engine.Options{Now: fakeClock(c), Notify: e.notify})
	if err != nil {
		return err
	}
	defer db.Close()
	start := time.Now()
	last, err := runLoad(c.Context, db, o)
	if errors.Is(err, context.Canceled) {
		fmt.Fprintln(e.stdout, last)
		e.notef("load %s: interrupted; last acknowledged LSN %d", db.Name(), last)
	}
	if err != nil {
		return err
	}
	elapsed := time.Since(start)
	fmt.Fprintln(e.stdout, last)
	e.notef("load %s: %d transactions of %d x %d-byte puts in %.2fs (%.0f tx/s, %d workers); last LSN %d",
		db.Name(), o.txs, o.work.entries, o.work.valueSize, elapsed.Seconds(), float64(o.txs)/elapsed.Seconds(), o.workers, last)
	return db.Close()
}

// fakeClock returns the clock --clock asks for, or nil for the real one.
func fakeClock(c *cli.Context) func() time.Time {
	start := c.Timestamp("clock")
	if start == nil {
		return nil
	}
	step := c.Duration("clock-step")
	var k atomic.Int64
	return func() time.Time { return start.Add(time.Duration(k.Add(1)-1) * step) }
}

func (o loadOpts) check() error {
	switch {
	case o.txs < 0:
		return usagef("load: --txs must be >= 0")
	case o.workers < 1 || o.workers > 4096:
		return usagef("load: --workers must be 1..4096")
	case o.rate < 0:
		return usagef("load: --rate must be >= 0")
	case o.work.entries < 1:
		return usagef("load: --entries must be >= 1")
	case o.work.valueSize < 0 || o.work.valueSize > txframe.MaxValueLen:
		return usagef("load: --value-size must be 0..%d", txframe.MaxValueLen)
	}
	return o.work.checkSize(o.txs)
}

// checkSize refuses a workload whose largest transaction the format cannot
// hold, without generating its values.
func (w workload) checkSize(txs int) error {
	value := make([]byte, w.valueSize)
	entries := make([]txframe.Entry, w.entries)
	last := max(txs-1, 0) * w.entries
	for j := range entries {
		key := zeroPad(strconv.AppendInt([]byte("key"), int64(last+j), 10), 3, 8)
		entries[j] = txframe.Entry{Op: txframe.OpPut, Key: key, Value: value}
	}
	if _, err := txframe.EncodedLen(entries); err != nil {
		return usagef("load: --entries x --value-size: %v", err)
	}
	return nil
}

// runLoad commits o.txs transactions from o.workers goroutines and returns
// the highest acknowledged LSN.
func runLoad(ctx context.Context, db *engine.DB, o loadOpts) (uint64, error) {
	var next atomic.Int64
	var last atomic.Uint64
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	var ackMu sync.Mutex
	var once sync.Once
	var firstErr error
	start := time.Now()
	for range o.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= o.txs {
					return
				}
				if o.rate > 0 {
					pace(ctx, start.Add(time.Duration(float64(i)/o.rate*float64(time.Second))))
				}
				lsn, err := db.Commit(o.work.tx(i))
				if err != nil {
					once.Do(func() { firstErr = err; cancel() })
					return
				}
				if o.acks != nil {
					ackMu.Lock()
					fmt.Fprintln(o.acks, lsn)
					ackMu.Unlock()
				}
				for cur := last.Load(); lsn > cur && !last.CompareAndSwap(cur, lsn); cur = last.Load() {
				}
			}
		}()
	}
	wg.Wait()
	if firstErr == nil && ctx.Err() != nil {
		firstErr = errInterrupted
	}
	return last.Load(), firstErr
}
