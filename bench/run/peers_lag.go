package main

import (
	"fmt"
	"path/filepath"
	"strconv"
	"sync"
	"time"
)

// peerLag: standby lag at a steady lagRate tx/s, each transaction's time
// from its commit to visible on the standby. PostgreSQL: a streaming
// standby made by pg_basebackup -R, pgbench -R lagRate inserting (id,
// clock_timestamp()); a poller asks the standby every pullPoll which ids
// it has (a replayed row is flushed on the standby: recovery replays only
// WAL the receiver has flushed) and notes when each first appeared. hotpipe:
// standbyLagOnce, the same measurement `make bench` makes, for the local
// pipeline and the pull standby. Both stamp the commit time before the
// commit's fsync.
func (b *bench) peerLag(p *pg, sz sizes, ps peerSizes) ([]peerRow, error) {
	if _, err := p.psql("CREATE TABLE lag (id bigserial PRIMARY KEY, t timestamptz NOT NULL)"); err != nil {
		return nil, err
	}
	standby := filepath.Join(p.dir, "standby")
	if _, err := p.run("pg_basebackup", "-D", standby, "-R", "-X", "stream", "-c", "fast"); err != nil {
		return nil, err
	}
	if err := p.start(standby, pgStandbyPort, true); err != nil {
		return nil, err
	}
	script := filepath.Join(p.dir, "lag.sql")
	if err := p.writeFile(script, "INSERT INTO lag (t) VALUES (clock_timestamp());\n"); err != nil {
		return nil, err
	}
	pgbenchArgs := []string{"-n", "-f", script, "-c", strconv.Itoa(ps.lagClients), "-j", "2", "-R", strconv.Itoa(lagRate), "-T", strconv.Itoa(sz.lagSeconds)}
	primary := filepath.Join(p.dir, "primary")
	var pgMed, pgP99, pipeMed, pipeP99, pullMed, pullP99, pgRate, pgCPU, pipeCPU, pullCPU sample
	for i := 0; i < sz.reps; i++ {
		cpu0, err := replicationCPU(primary, standby)
		if err != nil {
			return nil, err
		}
		lags, err := p.lagOnce(pgbenchArgs)
		if err != nil {
			return nil, err
		}
		cpu1, err := replicationCPU(primary, standby)
		if err != nil {
			return nil, err
		}
		pgRate = append(pgRate, float64(len(lags))/float64(sz.lagSeconds))
		pgMed, pgP99 = append(pgMed, percentile(lags, 0.5)), append(pgP99, percentile(lags, 0.99))
		pgCPU = append(pgCPU, (cpu1-cpu0)/float64(len(lags))*100000)
		for _, pull := range []bool{false, true} {
			db := fmt.Sprintf("lagpipe%d", i)
			if pull {
				db = fmt.Sprintf("lagpull%d", i)
			}
			l, secs, err := b.standbyLagOnce(db, sz.lagSeconds, pull)
			if err != nil {
				return nil, err
			}
			perFrames := secs / float64(len(l)) * 100000
			for k := range l {
				l[k] *= 1000
			}
			m, q := percentile(l, 0.5), percentile(l, 0.99)
			if pull {
				pullMed, pullP99, pullCPU = append(pullMed, m), append(pullP99, q), append(pullCPU, perFrames)
			} else {
				pipeMed, pipeP99, pipeCPU = append(pipeMed, m), append(pipeP99, q), append(pipeCPU, perFrames)
			}
		}
	}
	name := func(what, stat string) string {
		return fmt.Sprintf("standby lag at a steady %s tx/s for %d s, commit → durable and visible on the standby, %s of each run: %s "+
			"(each standby polled every %v; PostgreSQL's pgbench reached %s)", thousands(lagRate), sz.lagSeconds, stat, what, pullPoll, pgRate.spread("%.0f tx/s"))
	}
	ratio := func(a, b sample) string { return fmt.Sprintf("%.2f× the lag", a.median()/b.median()) }
	cpuName := func(what string) string {
		return fmt.Sprintf("the standby's CPU (user+sys) per 100k transactions in those runs: %s's processes (hot-backup or serve, and hot-restore), "+
			"vs PostgreSQL's (the standby's startup, walreceiver and other auxiliary processes, and the primary's walsender)", what)
	}
	cpuRatio := func(a, b sample) string { return fmt.Sprintf("%.2f× the CPU", a.median()/b.median()) }
	pipeCmd := fmt.Sprintf(`"$HP" hot-backup DB --follow | "$HP" --data-dir S hot-restore DB --append & "$HP" load DB --txs %d --rate %d`,
		lagRate*sz.lagSeconds, lagRate)
	pullCmd := fmt.Sprintf(`"$HP" serve & "$HP" --data-dir S hot-restore DB --from URL/DB --follow & "$HP" load DB --txs %d --rate %d`,
		lagRate*sz.lagSeconds, lagRate)
	refCmd := fmt.Sprintf("$PG pg_basebackup -D standby -R -X stream -c fast; pg_ctl -D standby -o '-p %d' start; "+
		"pgbench -n -f lag.sql -c %d -j 2 -R %d -T %d   # lag.sql: INSERT INTO lag (t) VALUES (clock_timestamp()); "+
		"standby polled: SELECT id FROM lag WHERE id > <all seen up to>", pgStandbyPort, ps.lagClients, lagRate, sz.lagSeconds)
	return []peerRow{
		{row: row{name: name("hot-backup --follow | hot-restore --append", "median"), mine: pipeMed.spread("%.1f ms"), ref: pgMed.spread("%.1f ms"),
			ratio: ratio(pipeMed, pgMed), target: "≤ 3 ms, ≤ PostgreSQL"}, mineCmd: pipeCmd, refCmd: refCmd},
		{row: row{name: name("hot-backup --follow | hot-restore --append", "p99"), mine: pipeP99.spread("%.1f ms"), ref: pgP99.spread("%.1f ms"),
			ratio: ratio(pipeP99, pgP99), target: "≤ 20 ms, ≤ PostgreSQL"}, mineCmd: pipeCmd, refCmd: refCmd},
		{row: row{name: cpuName("hot-backup --follow | hot-restore --append"), mine: pipeCPU.spread("%.2f s"), ref: pgCPU.spread("%.2f s"),
			ratio: cpuRatio(pipeCPU, pgCPU), target: "stated"}, mineCmd: pipeCmd, refCmd: refCmd},
		{row: row{name: name("pull standby, hot-restore --from URL --follow", "median"), mine: pullMed.spread("%.1f ms"), ref: pgMed.spread("%.1f ms"),
			ratio: ratio(pullMed, pgMed), target: "≤ 3 ms, ≤ PostgreSQL"}, mineCmd: pullCmd, refCmd: refCmd},
		{row: row{name: name("pull standby, hot-restore --from URL --follow", "p99"), mine: pullP99.spread("%.1f ms"), ref: pgP99.spread("%.1f ms"),
			ratio: ratio(pullP99, pgP99), target: "≤ 20 ms, ≤ PostgreSQL"}, mineCmd: pullCmd, refCmd: refCmd},
		{row: row{name: cpuName("pull standby"), mine: pullCPU.spread("%.2f s"), ref: pgCPU.spread("%.2f s"),
			ratio: cpuRatio(pullCPU, pgCPU), target: "stated"}, mineCmd: pullCmd, refCmd: refCmd},
	}, nil
}

// lagOnce runs pgbench on the primary while it polls the standby, and
// returns each new row's lag in milliseconds.
func (p *pg) lagOnce(pgbenchArgs []string) (sample, error) {
	first, err := p.psql("SELECT coalesce(max(id), 0) FROM lag")
	if err != nil {
		return nil, err
	}
	floor, _ := strconv.ParseInt(first, 10, 64)
	poll, err := startLagPoll(p.sock(), pgStandbyPort, floor)
	if err != nil {
		return nil, err
	}
	defer poll.stop()
	if _, err := p.pgbench(pgbenchArgs...); err != nil {
		return nil, err
	}
	c, err := pgDial(p.sock(), pgPrimaryPort)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	rows, err := c.query(fmt.Sprintf("SELECT id, (extract(epoch FROM t) * 1000000)::bigint FROM lag WHERE id > %d ORDER BY id", floor))
	if err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("pgbench committed no rows")
	}
	last, _ := strconv.ParseInt(rows[len(rows)-1][0], 10, 64)
	seen, err := poll.until(last, 30*time.Second)
	if err != nil {
		return nil, err
	}
	var lags sample
	for _, r := range rows {
		id, err1 := strconv.ParseInt(r[0], 10, 64)
		us, err2 := strconv.ParseInt(r[1], 10, 64)
		at, ok := seen[id]
		if err1 != nil || err2 != nil || !ok {
			return nil, fmt.Errorf("lag row %v: never seen on the standby, or unreadable", r)
		}
		lags = append(lags, float64(at.Sub(time.UnixMicro(us)))/float64(time.Millisecond))
	}
	return lags, nil
}

// lagPoll asks a standby every pullPoll for the ids past the highest id up
// to which it has seen every id, and notes when it first saw each.
type lagPoll struct {
	mu    sync.Mutex
	seen  map[int64]time.Time
	floor int64 // every id ≤ floor seen
	err   error
	quit  chan struct{}
	done  chan struct{}
	once  sync.Once
}

func startLagPoll(dir string, port int, floor int64) (*lagPoll, error) {
	c, err := pgDial(dir, port)
	if err != nil {
		return nil, fmt.Errorf("the standby: %w", err)
	}
	lp := &lagPoll{seen: map[int64]time.Time{}, floor: floor, quit: make(chan struct{}), done: make(chan struct{})}
	go lp.run(c)
	return lp, nil
}

func (lp *lagPoll) run(c *pgConn) {
	defer close(lp.done)
	defer c.Close()
	t := time.NewTicker(pullPoll)
	defer t.Stop()
	for {
		lp.mu.Lock()
		floor := lp.floor
		lp.mu.Unlock()
		rows, err := c.query("SELECT id FROM lag WHERE id > " + strconv.FormatInt(floor, 10))
		now := time.Now()
		lp.mu.Lock()
		if err != nil {
			lp.err = err
			lp.mu.Unlock()
			return
		}
		for _, r := range rows {
			if id, err := strconv.ParseInt(r[0], 10, 64); err == nil {
				if _, ok := lp.seen[id]; !ok {
					lp.seen[id] = now
				}
			}
		}
		for {
			if _, ok := lp.seen[lp.floor+1]; !ok {
				break
			}
			lp.floor++
		}
		lp.mu.Unlock()
		select {
		case <-lp.quit:
			return
		case <-t.C:
		}
	}
}

// until waits until every id up to last was seen, and returns when each
// was first seen.
func (lp *lagPoll) until(last int64, timeout time.Duration) (map[int64]time.Time, error) {
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		lp.mu.Lock()
		err, floor := lp.err, lp.floor
		lp.mu.Unlock()
		if err != nil {
			return nil, err
		}
		if floor >= last {
			lp.stop()
			return lp.seen, nil
		}
	}
	return nil, fmt.Errorf("the standby did not show id %d within %v", last, timeout)
}

func (lp *lagPoll) stop() {
	lp.once.Do(func() {
		close(lp.quit)
		<-lp.done
	})
}
