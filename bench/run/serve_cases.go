package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"sync"
	"syscall"
	"time"

	"github.com/hotpipe/hotpipe/engine"
	"github.com/hotpipe/hotpipe/txframe"
)

// pullPoll is how often the pull case looks at the standby's durable
// watermark: one 256-byte pread, the resolution of its lag figures.
const pullPoll = time.Millisecond

// serveCase measures the server: remote backups and their memory
// (remoteCase), and a pull standby's lag (standbyCase).
func (b *bench) serveCase(sz sizes) ([]row, error) {
	rows, err := b.remoteCase(sz)
	if err != nil {
		return nil, err
	}
	lag, err := b.standbyCase(sz)
	return append(rows, lag...), err
}

// standbyCase measures a pull standby, hot-restore --from URL --follow,
// against hotpipe serve on loopback while a writer commits at a steady
// 5,000 tx/s, beside the local standby pipeline, hot-backup --follow |
// hot-restore --append, in the same run: for each frame, when the
// standby's durable watermark was seen past it, minus its commit time
// (stamped by the writer before its fsync, as followlag's figures are).
func (b *bench) standbyCase(sz sizes) ([]row, error) {
	var med, p99, refMed, refP99, cpu, refCPU sample
	frames := 0
	for i := 0; i < sz.reps; i++ {
		for _, pull := range []bool{true, false} {
			db := fmt.Sprintf("pipe%d", i)
			if pull {
				db = fmt.Sprintf("pull%d", i)
			}
			lags, secs, err := b.standbyLagOnce(db, sz.lagSeconds, pull)
			if err != nil {
				return nil, err
			}
			perFrames := secs / float64(len(lags)) * 100000
			sort.Float64s(lags)
			m, p := lags[len(lags)/2]*1000, lags[int(0.99*float64(len(lags)-1))]*1000
			if pull {
				frames += len(lags)
				med, p99, cpu = append(med, m), append(p99, p), append(cpu, perFrames)
			} else {
				refMed, refP99, refCPU = append(refMed, m), append(refP99, p), append(refCPU, perFrames)
			}
		}
	}
	name := fmt.Sprintf("pull standby (hot-restore --from URL --follow, loopback) at a steady %s tx/s for %d s: durable on the standby − commit "+
		"(%d frames in %d runs; the standby's watermark read every %v); reference: hot-backup --follow piped into hot-restore --append", thousands(lagRate),
		sz.lagSeconds, frames, sz.reps, pullPoll)
	ratio := func(a, b sample) string { return fmt.Sprintf("%.2f×", a.median()/b.median()) }
	return []row{
		{name: name + ", median of each run", mine: med.spread("%.1f ms"), ref: refMed.spread("%.1f ms"), ratio: ratio(med, refMed), target: "≤ 3 ms (issue 16; ≤ 10 ms issue 14)"},
		{name: name + ", p99 of each run", mine: p99.spread("%.1f ms"), ref: refP99.spread("%.1f ms"), ratio: ratio(p99, refP99), target: "≤ 20 ms (issue 16; ≤ 50 ms issue 14)"},
		{name: name + ", CPU (user+sys) of the standby's processes (server or hot-backup, and hot-restore) per 100k frames",
			mine: cpu.spread("%.2f s"), ref: refCPU.spread("%.2f s"), ratio: ratio(cpu, refCPU)},
	}, nil
}

// standbyLagOnce runs one standby of a new database db beside a load of
// lagRate tx/s for seconds, and returns each frame's lag in seconds: a
// pull standby from hotpipe serve, or the local pipeline. It returns also
// the CPU seconds (user+sys) the standby's processes used.
func (b *bench) standbyLagOnce(db string, seconds int, pull bool) (sample, float64, error) {
	if err := b.hp("db", "create", db); err != nil {
		return nil, 0, err
	}
	standbyDir := filepath.Join(b.dir, "standby")
	var stop func() (float64, error)
	var err error
	if pull {
		stop, err = b.pullStandby(db, standbyDir)
	} else {
		stop, err = b.pipeStandby(db, standbyDir)
	}
	if err != nil {
		return nil, 0, err
	}
	defer stop()
	w := watchDurable(standbyDir, db)
	defer w.stop()
	time.Sleep(500 * time.Millisecond) // the standby connects and waits for frames
	if err := b.hp("load", db, "--txs", fmt.Sprint(lagRate*seconds), "--rate", fmt.Sprint(lagRate)); err != nil {
		return nil, 0, err
	}
	last := uint64(lagRate * seconds)
	if err := w.until(last, 30*time.Second); err != nil {
		return nil, 0, err
	}
	seen := w.stop()
	secs, err := stop()
	if err != nil {
		return nil, 0, fmt.Errorf("the standby: %w", err)
	}
	lags, err := lagsOf(standbyDir, db, last, seen)
	return lags, secs, err
}

// cpuSeconds is the user+sys time of the processes that have exited.
func cpuSeconds(cmds ...*exec.Cmd) float64 {
	var d time.Duration
	for _, c := range cmds {
		if c.ProcessState != nil {
			d += c.ProcessState.UserTime() + c.ProcessState.SystemTime()
		}
	}
	return d.Seconds()
}

// pullStandby starts hotpipe serve and a pull standby of db into dir, and
// returns the function that stops both.
func (b *bench) pullStandby(db, dir string) (func() (float64, error), error) {
	srv, err := b.serve()
	if err != nil {
		return nil, err
	}
	standby := exec.Command(b.bin, "--data-dir", dir, "-q", "hot-restore", db, "--from", srv.url+"/"+db, "--follow")
	standby.Stderr = os.Stderr
	if err := standby.Start(); err != nil {
		srv.stop()
		return nil, err
	}
	return func() (float64, error) {
		err := stopProcess(standby)
		srv.stop()
		return cpuSeconds(standby, srv.cmd), err
	}, nil
}

// pipeStandby starts hot-backup db --follow | hot-restore db --append into
// dir, and returns the function that stops it: SIGINT to the backup, which
// ends the stream with its end record.
func (b *bench) pipeStandby(db, dir string) (func() (float64, error), error) {
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	backup := exec.Command(b.bin, "--data-dir", b.data, "-q", "hot-backup", db, "--follow")
	restore := exec.Command(b.bin, "--data-dir", dir, "-q", "hot-restore", db, "--append")
	backup.Stdout, backup.Stderr, restore.Stdin, restore.Stderr = pw, os.Stderr, pr, os.Stderr
	err = backup.Start()
	if err == nil {
		if err = restore.Start(); err != nil {
			_ = stopProcess(backup)
		}
	}
	pr.Close()
	pw.Close()
	if err != nil {
		return nil, err
	}
	return func() (float64, error) {
		err := stopProcess(backup)
		if restore.ProcessState == nil {
			err = errors.Join(err, restore.Wait())
		}
		return cpuSeconds(backup, restore), err
	}, nil
}

// stopProcess ends cmd with SIGINT, once, and waits for it.
func stopProcess(cmd *exec.Cmd) error {
	if cmd.ProcessState != nil {
		return nil
	}
	_ = cmd.Process.Signal(syscall.SIGINT)
	return cmd.Wait()
}

// durableWatch notes when a database's durable watermark was seen at each
// LSN it reached.
type durableWatch struct {
	mu    sync.Mutex
	seen  []seenAt
	err   error
	quit  chan struct{}
	done  chan struct{}
	once  sync.Once
	final []seenAt
}

type seenAt struct {
	lsn uint64
	at  time.Time
}

func watchDurable(dir, name string) *durableWatch {
	w := &durableWatch{quit: make(chan struct{}), done: make(chan struct{})}
	go w.run(dir, name)
	return w
}

func (w *durableWatch) run(dir, name string) {
	defer close(w.done)
	t := time.NewTicker(pullPoll)
	defer t.Stop()
	var db *engine.DB
	defer func() {
		if db != nil {
			db.Close()
		}
	}()
	var prev uint64
	for {
		if db == nil { // the standby creates it with its first frames
			db, _ = engine.Open(dir, name, engine.Options{ReadOnly: true})
		}
		if db != nil {
			lsn, _, err := db.State()
			now := time.Now()
			w.mu.Lock()
			if err != nil {
				w.err = err
			} else if lsn > prev {
				w.seen, prev = append(w.seen, seenAt{lsn, now}), lsn
			}
			w.mu.Unlock()
		}
		select {
		case <-w.quit:
			return
		case <-t.C:
		}
	}
}

// until waits for the watermark to reach last.
func (w *durableWatch) until(last uint64, timeout time.Duration) error {
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		w.mu.Lock()
		err, reached := w.err, len(w.seen) > 0 && w.seen[len(w.seen)-1].lsn >= last
		w.mu.Unlock()
		if err != nil || reached {
			return err
		}
	}
	return fmt.Errorf("the standby did not reach LSN %d within %v", last, timeout)
}

// stop ends the watch and returns what it saw.
func (w *durableWatch) stop() []seenAt {
	w.once.Do(func() {
		close(w.quit)
		<-w.done
		w.final = w.seen
	})
	return w.final
}

// lagsOf reads the commit time of every frame of the standby up to last,
// and returns, for each, the first time the watermark was seen at or past
// it minus that commit time, in seconds.
func lagsOf(dir, name string, last uint64, seen []seenAt) (sample, error) {
	db, err := engine.Open(dir, name, engine.Options{ReadOnly: true})
	if err != nil {
		return nil, err
	}
	defer db.Close()
	fr, err := db.Frames(1, last)
	if err != nil {
		return nil, err
	}
	defer fr.Close()
	var lags sample
	i := 0
	for {
		block, err := fr.Next()
		if err == io.EOF {
			return lags, nil
		}
		if err != nil {
			return nil, err
		}
		for f := range txframe.Frames(block) {
			lsn, at := txframe.Fields(f)
			for i < len(seen) && seen[i].lsn < lsn {
				i++
			}
			if i == len(seen) {
				return nil, fmt.Errorf("LSN %d was never seen durable", lsn)
			}
			lags = append(lags, seen[i].at.Sub(time.Unix(0, at)).Seconds())
		}
	}
}
