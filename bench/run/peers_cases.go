package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// peerSizes are the peers' workloads.
type peerSizes struct {
	perClient   map[int]int // commit rate: transactions per client, by client count
	pitrTxs     int         // PITR: restore to this many transactions of pitrTxs*6/5
	lagClients  int         // standby lag: pgbench clients at lagRate
	commitValue int         // bytes of a one-row transaction's value
}

func peerSizesFor(quick bool) peerSizes {
	if quick {
		return peerSizes{perClient: map[int]int{1: 500, 64: 150}, pitrTxs: 64 * 300, lagClients: 64, commitValue: 100}
	}
	return peerSizes{perClient: map[int]int{1: 2000, 64: 500}, pitrTxs: 64 * 1500, lagClients: 64, commitValue: 100}
}

// peersMain is `make bench-peers`: it returns the exit code, 130 when
// interrupted, after everything it started is stopped and removed.
func (b *bench) peersMain(sz sizes, quick bool, out string) int {
	code := b.peersRun(sz, quick, out)
	runCleanups()
	if cleanups.interrupted.Load() {
		return 130
	}
	return code
}

func (b *bench) peersRun(sz sizes, quick bool, out string) int {
	onInterrupt()
	atExit(func() { os.RemoveAll(b.dir) })
	load := loadAverage()
	p, err := newPG()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench-peers:", err)
		return 1
	}
	fmt.Fprintf(os.Stderr, "bench-peers: %s from %s, clusters in %s; load average %s\n", p.version, p.bin, p.dir, load)
	rows, err := b.peers(p, sz, peerSizesFor(quick))
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench-peers:", err)
		return 1
	}
	section := renderPeers(rows, p.version, load, sz.reps, quick)
	fmt.Println(section)
	if out != "" {
		if err := writePeers(out, section); err != nil {
			fmt.Fprintln(os.Stderr, "bench-peers:", err)
			return 1
		}
	}
	return 0
}

// peers runs the selected cases (sz.only: commit, pitr, lag, backup,
// verify) against one primary cluster.
func (b *bench) peers(p *pg, sz sizes, ps peerSizes) ([]peerRow, error) {
	if err := p.initPrimary(); err != nil {
		return nil, err
	}
	want := func(name string) bool { return len(sz.only) == 0 || slices.Contains(sz.only, name) }
	var rows []peerRow
	add := func(r []peerRow, err error) error {
		rows = append(rows, r...)
		return err
	}
	// The order keeps the small cases before the big table: the standby
	// and the PITR base backup copy the whole cluster.
	if want("commit") {
		if err := add(b.peerCommit(p, sz, ps)); err != nil {
			return nil, err
		}
	}
	if want("pitr") {
		if err := add(b.peerPITR(p, sz, ps)); err != nil {
			return nil, err
		}
	}
	// Only the PITR case needs the archive.
	if _, err := p.psql("ALTER SYSTEM SET archive_command = '/bin/true'"); err != nil {
		return nil, err
	}
	if _, err := p.psql("SELECT pg_reload_conf()"); err != nil {
		return nil, err
	}
	if want("lag") {
		if err := add(b.peerLag(p, sz, ps)); err != nil {
			return nil, err
		}
	}
	if want("backup") || want("verify") {
		userBytes, err := b.peerBigData(p, sz)
		if err != nil {
			return nil, err
		}
		if want("backup") {
			if err := add(b.peerBackup(p, sz, userBytes)); err != nil {
				return nil, err
			}
		}
		if want("verify") {
			if err := add(b.peerVerify(p, sz)); err != nil {
				return nil, err
			}
		}
	}
	return rows, nil
}

// oneRowScript writes a pgbench script that inserts one row of a key and
// a value of n bytes into table, and returns its path.
func (p *pg) oneRowScript(table string, n int) (string, error) {
	path := filepath.Join(p.dir, table+".sql")
	sql := fmt.Sprintf("\\set k random(1, 1000000000)\nINSERT INTO %s (k, v) VALUES (:k, '%s');\n", table, strings.Repeat("x", n))
	return path, p.writeFile(path, sql)
}

// pgbench runs pgbench and returns its transactions per second.
func (p *pg) pgbench(args ...string) (float64, error) {
	out, err := p.run("pgbench", args...)
	if err != nil {
		return 0, err
	}
	tps, _, err := parsePgbench(out)
	return tps, err
}

// loadRate runs hotpipe load into a new database and returns its commit
// rate as load --json reports it (from the open database, without the
// process's start).
func (b *bench) loadRate(db string, txs, workers, valueSize int) (float64, error) {
	if err := b.hp("db", "create", db); err != nil {
		return 0, err
	}
	out, err := exec.Command(b.bin, "--data-dir", b.data, "-q", "--json", "load", db, "--txs", strconv.Itoa(txs),
		"--workers", strconv.Itoa(workers), "--value-size", strconv.Itoa(valueSize)).Output()
	if err != nil {
		return 0, fmt.Errorf("hotpipe load: %w", err)
	}
	var r struct {
		FramesPerSecond float64 `json:"frames_per_second"`
	}
	if err := json.Unmarshal(out, &r); err != nil {
		return 0, fmt.Errorf("hotpipe load --json: %w: %s", err, out)
	}
	return r.FramesPerSecond, nil
}

// peerCommit: commit rate of one-row transactions, load vs pgbench, with
// the same number of committers.
func (b *bench) peerCommit(p *pg, sz sizes, ps peerSizes) ([]peerRow, error) {
	if _, err := p.psql("CREATE TABLE ins (k bigint, v text)"); err != nil {
		return nil, err
	}
	script, err := p.oneRowScript("ins", ps.commitValue)
	if err != nil {
		return nil, err
	}
	var rows []peerRow
	for _, clients := range []int{1, 64} {
		per := ps.perClient[clients]
		txs := per * clients
		jobs := strconv.Itoa(min(clients, 2))
		var mine, ref sample
		for i := 0; i < sz.reps; i++ {
			m, err := b.loadRate(fmt.Sprintf("commit%d-%d", clients, i), txs, clients, ps.commitValue)
			if err != nil {
				return nil, err
			}
			r, err := p.pgbench("-n", "-f", script, "-c", strconv.Itoa(clients), "-j", jobs, "-t", strconv.Itoa(per))
			if err != nil {
				return nil, err
			}
			mine, ref = append(mine, m), append(ref, r)
		}
		rows = append(rows, peerRow{
			row: row{name: fmt.Sprintf("commit rate, %s one-row transactions (a %d-byte value), %d committer(s), durable at commit",
				thousands(txs), ps.commitValue, clients),
				mine: mine.spread("%.0f tx/s"), ref: ref.spread("%.0f tx/s"), ratio: fmt.Sprintf("%.2f×", mine.median()/ref.median()), target: "—"},
			mineCmd: fmt.Sprintf(`"$HP" --json load DB --txs %d --workers %d --value-size %d   # frames_per_second`, txs, clients, ps.commitValue),
			refCmd: fmt.Sprintf(`pgbench -n -f ins.sql -c %d -j %s -t %d   # tps without connection time; ins.sql: INSERT INTO ins (k, v) VALUES (:k, '<%d bytes>')`,
				clients, jobs, per, ps.commitValue),
		})
	}
	return rows, nil
}

// peerPITR: restore to a target LSN. PostgreSQL: a base backup of the
// cluster before n one-row transactions, then n+n/5 committed and archived,
// recovery_target_lsn at the n-th; the time from pg_ctl start until the
// server has promoted (recovery ended). hotpipe: hot-restore --target-lsn n
// of a backup of n+n/5 one-row transactions into an empty database.
func (b *bench) peerPITR(p *pg, sz sizes, ps peerSizes) ([]peerRow, error) {
	n := ps.pitrTxs
	if _, err := p.psql("CREATE TABLE pitr (k bigint, v text)"); err != nil {
		return nil, err
	}
	base := filepath.Join(p.dir, "pitrbase")
	if _, err := p.run("pg_basebackup", "-D", base, "-Fp", "-X", "stream", "-c", "fast"); err != nil {
		return nil, err
	}
	script, err := p.oneRowScript("pitr", ps.commitValue)
	if err != nil {
		return nil, err
	}
	if _, err := p.pgbench("-n", "-f", script, "-c", "64", "-j", "2", "-t", strconv.Itoa(n/64)); err != nil {
		return nil, err
	}
	target, err := p.psql("SELECT pg_current_wal_lsn()")
	if err != nil {
		return nil, err
	}
	if _, err := p.pgbench("-n", "-f", script, "-c", "64", "-j", "2", "-t", strconv.Itoa(n/5/64)); err != nil {
		return nil, err
	}
	if err := p.archived(); err != nil {
		return nil, err
	}
	if err := b.hp("db", "create", "pitrsrc"); err != nil {
		return nil, err
	}
	if err := b.hp("load", "pitrsrc", "--txs", strconv.Itoa(n/64*64+n/5/64*64), "--workers", "64", "--value-size", strconv.Itoa(ps.commitValue)); err != nil {
		return nil, err
	}
	if err := b.hp("hot-backup", "pitrsrc", "-o", filepath.Join(b.dir, "pitr.backup")); err != nil {
		return nil, err
	}
	mineCmd := fmt.Sprintf(`"$HP" hot-restore DB -i pitr.backup --target-lsn %d`, n)
	var mine, ref sample
	for i := 0; i < sz.reps; i++ {
		if err := os.RemoveAll(filepath.Join(b.data, "pitr")); err != nil {
			return nil, err
		}
		d, err := p.sh(b, `"$HP" -q hot-restore pitr -i "$D/pitr.backup" --target-lsn `+strconv.Itoa(n))
		if err != nil {
			return nil, err
		}
		r, err := p.pitrOnce(base, target, n, i == 0)
		if err != nil {
			return nil, err
		}
		mine, ref = append(mine, float64(n)/d.Seconds()), append(ref, float64(n)/r.Seconds())
	}
	return []peerRow{{
		row: row{name: fmt.Sprintf("point-in-time restore to the %s-th of %s one-row transactions (replayed tx/s; hotpipe from an empty database, "+
			"PostgreSQL from its base backup taken before them, its copy not timed)", thousands(n), thousands(n+n/5)),
			mine: mine.spread("%.0f tx/s"), ref: ref.spread("%.0f tx/s"), ratio: fmt.Sprintf("%.2f×", mine.median()/ref.median()), target: "—"},
		mineCmd: mineCmd,
		refCmd: fmt.Sprintf("cp -a base pitr; touch pitr/recovery.signal; restore_command = 'cp $T/archive/%%f %%p', recovery_target_lsn = '%s', "+
			"recovery_target_inclusive = off, recovery_target_action = promote, hot_standby = off; "+
			"pg_ctl -D pitr start, until SELECT pg_is_in_recovery() is false (polled every 1 ms)", target),
	}}, nil
}

// archived switches the primary to a new WAL file and waits until the
// archiver has archived the one it left.
func (p *pg) archived() error {
	seg, err := p.psql("SELECT pg_walfile_name(pg_switch_wal())")
	if err != nil {
		return err
	}
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		last, err := p.psql("SELECT coalesce(last_archived_wal, '') FROM pg_stat_archiver")
		if err != nil {
			return err
		}
		if last >= seg {
			return nil
		}
	}
	return fmt.Errorf("PostgreSQL did not archive WAL file %s within 2 minutes", seg)
}

// pitrOnce restores a copy of base to target and returns the time from
// pg_ctl start until the server left recovery; check counts the rows.
func (p *pg) pitrOnce(base, target string, n int, check bool) (time.Duration, error) {
	dir := filepath.Join(p.dir, "pitr")
	if _, err := p.output(p.as("bash", "-c", `rm -rf "$1" && cp -a "$2" "$1" && touch "$1/recovery.signal"`, "-", dir, base)); err != nil {
		return 0, err
	}
	conf := fmt.Sprintf("\nrestore_command = 'cp %s/archive/%%f %%p'\nrecovery_target_lsn = '%s'\nrecovery_target_inclusive = off\n"+
		"recovery_target_action = 'promote'\nhot_standby = off\narchive_mode = off\n", p.dir, target)
	if err := p.writeFile(filepath.Join(dir, "postgresql.auto.conf"), conf); err != nil {
		return 0, err
	}
	start := time.Now()
	if err := p.start(dir, pgPITRPort, false); err != nil {
		return 0, err
	}
	defer p.stop(dir)
	var c *pgConn
	for deadline := time.Now().Add(5 * time.Minute); ; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("PostgreSQL's point-in-time recovery did not end within 5 minutes (log: %s.log)", dir)
		}
		if c == nil {
			c, _ = pgDial(p.sock(), pgPITRPort)
			if c == nil {
				continue
			}
			defer c.Close()
		}
		rows, err := c.query("SELECT pg_is_in_recovery()")
		if err != nil {
			return 0, err
		}
		if len(rows) == 1 && len(rows[0]) == 1 && rows[0][0] == "f" {
			break
		}
	}
	d := time.Since(start)
	if check {
		rows, err := c.query("SELECT count(*) FROM pitr")
		if err != nil {
			return 0, err
		}
		if len(rows) != 1 || rows[0][0] != strconv.Itoa(n/64*64) {
			return 0, fmt.Errorf("PostgreSQL's point-in-time recovery to %s has %v rows, want %d", target, rows, n/64*64)
		}
	}
	return d, nil
}

// peerBigData fills hotpipe's big database and PostgreSQL's table big with
// the same user data: sz.bigMiB*16 rows of an 11-byte key and a 64 KiB
// value of random lowercase letters, stored uncompressed by PostgreSQL
// (STORAGE EXTERNAL) as hotpipe stores it. It returns the user data's
// bytes.
func (b *bench) peerBigData(p *pg, sz sizes) (int64, error) {
	rows := sz.bigMiB * 16
	if err := b.makeDB("big", rows, 64<<10, 16); err != nil {
		return 0, err
	}
	if _, err := p.psql("CREATE TABLE big (k text, v text); ALTER TABLE big ALTER v SET STORAGE EXTERNAL"); err != nil {
		return 0, err
	}
	c := p.cmd("psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c", "COPY big (k, v) FROM STDIN")
	in, err := c.StdinPipe()
	if err != nil {
		return 0, err
	}
	var stderr strings.Builder
	c.Stderr = &stderr
	if err := c.Start(); err != nil {
		return 0, err
	}
	w := bufio.NewWriterSize(in, 1<<20)
	rng := rand.New(rand.NewPCG(1, 2))
	val := make([]byte, 64<<10)
	for i := 0; i < rows; i++ {
		for j := range val {
			val[j] = 'a' + byte(rng.Uint32N(26))
		}
		fmt.Fprintf(w, "key%08d\t%s\n", i, val)
	}
	err = w.Flush()
	in.Close()
	if err := c.Wait(); err != nil {
		return 0, fmt.Errorf("psql COPY big: %v\n%s", err, stderr.String())
	}
	if err != nil {
		return 0, err
	}
	if _, err := p.psql("CHECKPOINT"); err != nil {
		return 0, err
	}
	return int64(rows) * (11 + 64<<10), nil
}

// peerBackup: a full hot backup into a pipe.
func (b *bench) peerBackup(p *pg, sz sizes, userBytes int64) ([]peerRow, error) {
	mineCmd := `"$HP" hot-backup big | cat > /dev/null`
	refCmd := `$PG pg_basebackup -D - -Ft -X fetch -c fast | cat > /dev/null`
	if err := b.hp("hot-backup", "big", "-o", filepath.Join(b.dir, "big.backup")); err != nil {
		return nil, err
	}
	fi, err := os.Stat(filepath.Join(b.dir, "big.backup"))
	if err != nil {
		return nil, err
	}
	c := exec.Command("bash", "-c", "set -o pipefail; $PG pg_basebackup -D - -Ft -X fetch -c fast | wc -c")
	c.Env = p.env(pgPrimaryPort)
	out, err := c.Output()
	if err != nil {
		return nil, fmt.Errorf("pg_basebackup | wc -c: %w", err)
	}
	tarBytes, _ := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64)
	var mine, ref sample
	for i := 0; i < sz.reps; i++ {
		dm, err := p.sh(b, `"$HP" -q hot-backup big | cat > /dev/null`)
		if err != nil {
			return nil, err
		}
		dr, err := p.sh(b, refCmd)
		if err != nil {
			return nil, err
		}
		mine, ref = append(mine, mbps(userBytes, dm)), append(ref, mbps(userBytes, dr))
	}
	return []peerRow{{
		row: row{name: fmt.Sprintf("full hot backup into a pipe, MB/s of user data: %d MiB (%s rows of an 11-byte key and a 64 KiB value); "+
			"hotpipe's stream %d MiB, PostgreSQL's tar %d MiB (-X fetch: the WAL the backup needs is in the same stream, "+
			"self-contained as hotpipe's; -D - allows no WAL streaming)",
			userBytes>>20, thousands(sz.bigMiB*16), fi.Size()>>20, tarBytes>>20),
			mine: mine.spread("%.0f MB/s"), ref: ref.spread("%.0f MB/s"), ratio: fmt.Sprintf("%.2f×", mine.median()/ref.median()), target: "—"},
		mineCmd: mineCmd, refCmd: refCmd,
	}}, nil
}

// peerVerify: verification of a backup, each over its own bytes.
func (b *bench) peerVerify(p *pg, sz sizes) ([]peerRow, error) {
	backup := filepath.Join(b.dir, "big.backup")
	if _, err := os.Stat(backup); err != nil {
		if err := b.hp("hot-backup", "big", "-o", backup); err != nil {
			return nil, err
		}
	}
	fi, err := os.Stat(backup)
	if err != nil {
		return nil, err
	}
	vb := filepath.Join(p.dir, "vb")
	if _, err := p.run("pg_basebackup", "-D", vb, "-Fp", "-X", "fetch", "-c", "fast"); err != nil {
		return nil, err
	}
	pgBytes, err := dirBytes(vb)
	if err != nil {
		return nil, err
	}
	refCmd := `$PG pg_verifybackup -q "$T/vb"`
	cmds := []string{`"$HP" verify -i "$D/big.backup" > /dev/null`}
	// HOOK(verify --quick): another helper adds `hotpipe verify --quick`
	// (issue 16, item 3). When the built hotpipe has it, it is measured
	// too, against the same pg_verifybackup runs.
	help, _ := exec.Command(b.bin, "verify", "--help").CombinedOutput()
	quick := strings.Contains(string(help), "--quick")
	if quick {
		cmds = append(cmds, `"$HP" verify --quick -i "$D/big.backup" > /dev/null`)
	}
	mine := make([]sample, len(cmds))
	var ref sample
	for i := 0; i < sz.reps; i++ {
		for k, cmd := range cmds {
			d, err := p.sh(b, cmd)
			if err != nil {
				return nil, err
			}
			mine[k] = append(mine[k], mbps(fi.Size(), d))
		}
		d, err := p.sh(b, refCmd)
		if err != nil {
			return nil, err
		}
		ref = append(ref, mbps(pgBytes, d))
	}
	name := fmt.Sprintf("backup verification, MB/s of the bytes each checks (hotpipe's backup file %d MiB; PostgreSQL's plain base backup %d MiB, "+
		"its manifest's default CRC32C, WAL parsed)", fi.Size()>>20, pgBytes>>20)
	rows := []peerRow{{row: row{name: "full " + name, mine: mine[0].spread("%.0f MB/s"), ref: ref.spread("%.0f MB/s"),
		ratio: fmt.Sprintf("%.2f×", mine[0].median()/ref.median()), target: "—"}, mineCmd: cmds[0], refCmd: refCmd}}
	if quick {
		rows = append(rows, peerRow{row: row{name: "quick " + name + ": verify --quick", mine: mine[1].spread("%.0f MB/s"), ref: ref.spread("%.0f MB/s"),
			ratio: fmt.Sprintf("%.2f×", mine[1].median()/ref.median()), target: "≥ 1.0×"}, mineCmd: cmds[1], refCmd: refCmd})
	} else {
		rows[0].target = "(verify --quick ≥ 1.0×: not in this hotpipe yet)"
	}
	return rows, nil
}

// dirBytes is the size of the regular files under dir.
func dirBytes(dir string) (int64, error) {
	var n int64
	err := filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			n += fi.Size()
		}
		return err
	})
	return n, err
}

// percentile is the q-th quantile of s, sorted in place.
func percentile(s sample, q float64) float64 {
	sort.Float64s(s)
	return s[int(q*float64(len(s)-1))]
}
