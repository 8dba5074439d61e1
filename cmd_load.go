package main

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/hotpipe/hotpipe/engine"
	"github.com/hotpipe/hotpipe/loadgen"
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
   hotpipe load foo --txs 60 --clock 2026-11-20T14:00:00Z --clock-step 1m
   hotpipe load foo --txs 1000 --json`,
		Flags: []cli.Flag{
			&cli.IntFlag{Name: "txs", Value: 1000, Usage: "transactions to commit"},
			&cli.IntFlag{Name: "entries", Value: 1, Usage: "puts per transaction"},
			&cli.IntFlag{Name: "value-size", Value: 100, Usage: "bytes per value"},
			&cli.Uint64Flag{Name: "seed", Value: 1, Usage: "seed of the value generator"},
			&cli.Float64Flag{Name: "rate", Usage: "at most this many transactions per second", DefaultText: "0, as fast as possible"},
			&cli.IntFlag{Name: "workers", Value: 256, Usage: "concurrent committers (they share fsyncs: more workers, bigger batches)"},
			&cli.TimestampFlag{Name: "clock", Layout: time.RFC3339Nano, Timezone: time.UTC,
				Usage: "commit times from this RFC 3339 `TIME` on instead of the real clock (for tests and demos)"},
			&cli.DurationFlag{Name: "clock-step", Value: time.Second, Usage: "with --clock, how far each commit moves the clock"},
			&cli.BoolFlag{Name: "acks", Usage: "print each acknowledged LSN on stdout as it is acknowledged"},
			jsonFlag(),
		},
		Action: e.load,
	}
}

// loadFlags names the flag behind each of loadgen's options, for usage errors.
var loadFlags = map[string]string{"Txs": "--txs", "Workers": "--workers", "Rate": "--rate",
	"Entries": "--entries", "ValueSize": "--value-size"}

func (e *env) load(c *cli.Context) error {
	if err := args(c, 1, 1); err != nil {
		return err
	}
	w := loadgen.Workload{Seed: c.Uint64("seed"), Entries: c.Int("entries"), ValueSize: c.Int("value-size")}
	o := loadgen.Options{Txs: c.Int("txs"), Workers: c.Int("workers"), Rate: c.Float64("rate")}
	if c.Bool("acks") && e.asJSON {
		return usagef("load: --acks prints LSNs on stdout, where --json prints its report: give one of them")
	}
	if c.Bool("acks") {
		o.Ack = func(lsn uint64) { fmt.Fprintln(e.stdout, lsn) }
	}
	if err := w.Check(o); err != nil {
		return loadUsage(err)
	}
	db, err := engine.Open(e.dataDir, c.Args().First(), engine.Options{Now: fakeClock(c), Notify: e.notify})
	if err != nil {
		return err
	}
	defer db.Close()
	start := time.Now()
	first, _, err := db.State()
	if err != nil {
		return err
	}
	stop := e.loadProgress(db, first, o.Txs)
	last, err := loadgen.Run(c.Context, db, w, o)
	stop()
	elapsed := time.Since(start)
	if e.asJSON {
		last := max(last, first) // 0 when none was acknowledged
		e.report = &loadReport{DB: db.Name(), FirstLSN: first + 1, LastLSN: last, Frames: last - first, Workers: o.Workers,
			Seconds: elapsed.Seconds(), FramesPerSecond: perSecond(float64(last-first), elapsed)}
	}
	if errors.Is(err, context.Canceled) && !e.asJSON {
		fmt.Fprintln(e.stdout, last)
		e.notef("load %s: interrupted; last acknowledged LSN %d", db.Name(), last)
	}
	if err != nil {
		return err
	}
	if err := db.Close(); err != nil {
		return err
	}
	if e.asJSON {
		return nil
	}
	fmt.Fprintln(e.stdout, last)
	e.notef("load %s: %d transactions of %d x %d-byte puts in %.2fs (%.0f tx/s, %d workers); last LSN %d",
		db.Name(), o.Txs, w.Entries, w.ValueSize, elapsed.Seconds(), float64(o.Txs)/elapsed.Seconds(), o.Workers, last)
	return nil
}

// loadReport is what load --json prints. With more than one worker the
// LSNs first_lsn..last_lsn are this run's only if no other writer
// committed meanwhile, which the writer lock ensures.
type loadReport struct {
	head
	DB              string  `json:"db"`
	FirstLSN        uint64  `json:"first_lsn"`
	LastLSN         uint64  `json:"last_lsn"`
	Frames          uint64  `json:"frames"`
	Workers         int     `json:"workers"`
	Seconds         float64 `json:"seconds"`
	FramesPerSecond float64 `json:"frames_per_second"`
}

// loadProgress shows load's progress, LSN x of first+txs, from the
// database's own state, read at each interval: the committers are not
// slowed by it. The returned func stops it and shows the last state.
func (e *env) loadProgress(db *engine.DB, first uint64, txs int) (stop func()) {
	prog := e.newProgress("load", db.Name(), first+1, first+uint64(txs))
	if !prog.on {
		return func() {}
	}
	bytes0, _ := db.Size()
	update := func() {
		lsn, _, err := db.State()
		size, err2 := db.Size()
		if err != nil || err2 != nil || lsn <= first {
			return
		}
		t, _ := db.LastTime()
		prog.add(lsn-first-prog.frames, int(size-bytes0-prog.bytes), lsn, t.UnixNano())
	}
	done, finished := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(finished)
		tick := time.NewTicker(prog.every)
		defer tick.Stop()
		for {
			select {
			case <-done:
				update()
				prog.finish()
				return
			case <-tick.C:
				update()
			}
		}
	}()
	return func() { close(done); <-finished }
}

// loadUsage says what loadgen refused in terms of the command's flags.
func loadUsage(err error) error {
	var oe *loadgen.OptionError
	switch {
	case !errors.As(err, &oe):
		return usagef("load: %v", err)
	case oe.Err != nil:
		return usagef("load: --entries x --value-size: %v", oe.Err)
	}
	return usagef("load: %s %s", loadFlags[oe.Option], oe.Rule)
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
