package main

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"hash/crc32"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// row is one line of the table.
type row struct {
	name, mine, ref, ratio, target string
}

// sample is one measurement repeated.
type sample []float64

func (s sample) median() float64 {
	c := append(sample(nil), s...)
	sort.Float64s(c)
	return c[len(c)/2]
}

func (s sample) spread(format string) string {
	c := append(sample(nil), s...)
	sort.Float64s(c)
	f := func(v float64) string { return fmt.Sprintf(format, v) }
	return fmt.Sprintf("%s [%s, %s]", f(s.median()), f(c[0]), f(c[len(c)-1]))
}

func mbps(bytes int64, d time.Duration) float64 { return float64(bytes) / (1 << 20) / d.Seconds() }

func (b *bench) all(sz sizes) ([]row, error) {
	bigTxs := sz.bigMiB * 16                     // 64 KiB values
	if !slices.Equal(sz.only, []string{"lag"}) { // the lag rows make their own
		if err := b.makeDB("big", bigTxs, 64<<10, 16); err != nil {
			return nil, err
		}
		if err := b.makeDB("small", sz.smallTxs, 100, 256); err != nil {
			return nil, err
		}
	}
	var rows []row
	// peakRSS does not count this process's memory, so the order is free:
	// repoCase uses the databases rssCase makes and the backup file
	// restoreCase writes (it makes them if they are missing).
	for _, c := range []struct {
		name string
		run  func(sizes) ([]row, error)
	}{{"rss", b.rssCase}, {"backup", b.backupCase}, {"splice", b.spliceCase}, {"restore", b.restoreCase}, {"repo", b.repoCase},
		{"verify", b.verifyCase}, {"small", b.smallCase}, {"writer", b.writerCase}, {"serve", b.serveCase}, {"age", b.ageCase}, {"cold", b.coldCase},
		{"lag", b.standbyCase}} { // lag: the standby rows of serve alone
		if len(sz.only) > 0 && !slices.Contains(sz.only, c.name) || len(sz.only) == 0 && c.name == "lag" { // a full run has lag in serve
			continue
		}
		r, err := c.run(sz)
		if err != nil {
			return nil, err
		}
		rows = append(rows, r...)
	}
	return rows, nil
}

// segBytes is the size of a database's segment files.
func (b *bench) segBytes(name string) (int64, error) {
	files, err := filepath.Glob(b.segments(name))
	if err != nil {
		return 0, err
	}
	var n int64
	for _, f := range files {
		fi, err := os.Stat(f)
		if err != nil {
			return 0, err
		}
		n += fi.Size()
	}
	return n, nil
}

// pair times a hotpipe command and its reference, alternating, reps times.
func (b *bench) pair(reps int, mine, ref string, bytes int64) (sample, sample, error) {
	var m, r sample
	for i := 0; i < reps; i++ {
		dm, err := b.sh(mine)
		if err != nil {
			return nil, nil, err
		}
		dr, err := b.sh(ref)
		if err != nil {
			return nil, nil, err
		}
		m, r = append(m, mbps(bytes, dm)), append(r, mbps(bytes, dr))
	}
	return m, r, nil
}

func ratioRow(name, target string, m, r sample) row {
	return row{name: name, mine: m.spread("%.0f MB/s"), ref: r.spread("%.0f MB/s"),
		ratio: fmt.Sprintf("%.2f×", m.median()/r.median()), target: target}
}

func (b *bench) backupCase(sz sizes) ([]row, error) {
	n, err := b.segBytes("big")
	if err != nil {
		return nil, err
	}
	m, r, err := b.pair(sz.reps, `"$HP" hot-backup big -q | cat > /dev/null`, `cat $HOTPIPE_DATA_DIR/big/*.seg | cat > /dev/null`, n)
	if err != nil {
		return nil, err
	}
	name := fmt.Sprintf("hot-backup %d MiB of 64 KiB txs into a pipe, vs cat of the segment files", sz.bigMiB)
	return []row{ratioRow(name, "≥ 0.8×", m, r)}, nil
}

func (b *bench) restoreCase(sz sizes) ([]row, error) {
	if _, err := b.sh(`"$HP" hot-backup big -q -o "$D/big.backup"`); err != nil {
		return nil, err
	}
	fi, err := os.Stat(filepath.Join(b.dir, "big.backup"))
	if err != nil {
		return nil, err
	}
	mine := `rm -rf "$HOTPIPE_DATA_DIR/rb"; "$HP" hot-restore rb -q -i "$D/big.backup"`
	ref := `rm -f "$D/copy"; dd if="$D/big.backup" of="$D/copy" bs=1M conv=fsync status=none`
	m, r, err := b.pair(sz.reps, mine, ref, fi.Size())
	if err != nil {
		return nil, err
	}
	name := fmt.Sprintf("hot-restore of the %d MiB backup from a file, vs copying it and fsyncing", sz.bigMiB)
	return []row{ratioRow(name, "≥ 0.6×", m, r)}, nil
}

func (b *bench) verifyCase(sz sizes) ([]row, error) {
	path := filepath.Join(b.dir, "big.backup")
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	n := int64(len(data))
	castagnoli := crc32.MakeTable(crc32.Castagnoli)
	var mine, quick, goSHA, goCRC, tool sample
	for i := 0; i < sz.reps; i++ {
		d, err := b.sh(`"$HP" verify -i "$D/big.backup" > /dev/null`)
		if err != nil {
			return nil, err
		}
		start := time.Now()
		sha256.Sum256(data)
		goSHA = append(goSHA, mbps(n, time.Since(start)))
		dq, err := b.sh(`"$HP" verify --quick -i "$D/big.backup" > /dev/null`)
		if err != nil {
			return nil, err
		}
		start = time.Now()
		crc32.Checksum(data, castagnoli)
		goCRC = append(goCRC, mbps(n, time.Since(start)))
		dt, err := b.sh(`sha256sum "$D/big.backup" > /dev/null`)
		if err != nil {
			return nil, err
		}
		mine, quick, tool = append(mine, mbps(n, d)), append(quick, mbps(n, dq)), append(tool, mbps(n, dt))
	}
	data = nil
	debug.FreeOSMemory()
	return []row{
		ratioRow("verify of the backup, vs single-core SHA-256 (Go) over the same bytes", "≥ 1.6×", mine, goSHA),
		ratioRow("verify of the backup, vs sha256sum of the file", "", mine, tool),
		ratioRow("verify --quick of the backup (structure, CRC32C, stored hashes; no body re-hashed), vs single-core CRC32C (Go) over the same bytes in memory", "", quick, goCRC),
	}, nil
}

// smallCase measures transactions per second for 1-entry 100-byte
// transactions, against the targets (there is no physical reference).
func (b *bench) smallCase(sz sizes) ([]row, error) {
	if _, err := b.sh(`"$HP" hot-backup small -q -o "$D/small.backup"`); err != nil {
		return nil, err
	}
	var back, rest sample
	for i := 0; i < sz.reps; i++ {
		d, err := b.sh(`"$HP" hot-backup small -q | cat > /dev/null`)
		if err != nil {
			return nil, err
		}
		dr, err := b.sh(`rm -rf "$HOTPIPE_DATA_DIR/rs"; "$HP" hot-restore rs -q -i "$D/small.backup"`)
		if err != nil {
			return nil, err
		}
		back, rest = append(back, float64(sz.smallTxs)/d.Seconds()), append(rest, float64(sz.smallTxs)/dr.Seconds())
	}
	perTarget := func(s sample, t float64) string { return fmt.Sprintf("%.2f× of target", s.median()/t) }
	return []row{
		{name: fmt.Sprintf("hot-backup of %d small txs into a pipe", sz.smallTxs), mine: back.spread("%.0f tx/s"), ref: "—",
			ratio: perTarget(back, 1e6), target: "≥ 1,000,000 tx/s"},
		{name: fmt.Sprintf("hot-restore of %d small txs from a file", sz.smallTxs), mine: rest.spread("%.0f tx/s"), ref: "—",
			ratio: perTarget(rest, 2e5), target: "≥ 200,000 tx/s"},
	}, nil
}

// rssCase measures the peak RSS of backup and restore at two sizes: it must
// not grow with the database.
func (b *bench) rssCase(sz sizes) ([]row, error) {
	var rows []row
	for _, mib := range sz.rssMiB {
		name := fmt.Sprintf("rss%d", mib)
		if mib == sz.bigMiB {
			name = "big"
		} else if err := b.makeDB(name, mib*16, 64<<10, 16); err != nil {
			return nil, err
		}
		file := filepath.Join(b.dir, name+"-rss.backup")
		back, err := b.peakRSS("hot-backup", name, "-o", file)
		if err != nil {
			return nil, err
		}
		rest, err := b.peakRSS("hot-restore", name+"r", "-i", file)
		if err != nil {
			return nil, err
		}
		rows = append(rows, row{name: fmt.Sprintf("peak RSS, %d MiB database: hot-backup / hot-restore", mib),
			mine: fmt.Sprintf("%.0f MiB / %.0f MiB", back, rest), ref: "—", ratio: "—", target: "backup ≤ 64 MiB, flat in size"})
		os.Remove(file)
	}
	return rows, nil
}

// peakRSS runs hotpipe and returns its peak RSS in MiB. A child's peak
// RSS starts at its parent's: Go starts a child with vfork, and the
// memory they share until exec counts towards the child's ru_maxrss (a
// shell in between does not help: it is vforked too). So hotpipe runs
// under a fresh copy of this program (rssExec), and inherits only that
// copy's few MiB, less than hotpipe's own.
func (b *bench) peakRSS(args ...string) (float64, error) {
	self, err := os.Executable()
	if err != nil {
		return 0, err
	}
	cmd := exec.Command(self, append([]string{rssExecArg, b.bin, "--data-dir", b.data, "-q"}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return 0, fmt.Errorf("%v: %v\n%s", args, err, stderr.Bytes())
	}
	return strconv.ParseFloat(strings.TrimSpace(string(out)), 64)
}

// writerCase measures a writer's commit rate alone, while hot-backups of the
// big database run back to back (flat out, paced by --max-rate, and at the
// lowest CPU priority with --nice), and
// while cat reads the same segment files back to back: the cost of reading
// page cache flat out on this machine, which bounds what any unpaced backup
// can do.
func (b *bench) writerCase(sz sizes) ([]row, error) {
	txs := sz.smallTxs / 5
	load := fmt.Sprintf(`n=w$(date +%%s%%N); "$HP" -q db create $n && "$HP" -q load $n --txs %d --workers 64 > /dev/null`, txs)
	beside := func(reader string) string {
		// The loop kills its current reader when it is killed: a paced
		// backup left running would slow the next measurement.
		// The script's status is the load's, whatever the loop's is.
		return `(trap 'kill $c 2>/dev/null; exit 0' TERM; while true; do ` + reader + ` > /dev/null & c=$!; wait $c; done) & bg=$!; ` +
			load + `; st=$?; kill $bg; wait $bg; exit $st`
	}
	scripts := []string{load, beside(`"$HP" hot-backup big -q`), beside(`cat ` + b.segments("big")),
		beside(`"$HP" hot-backup big -q --max-rate ` + pacedRate), beside(`"$HP" hot-backup big -q --nice`)}
	rates := make([]sample, len(scripts))
	for i := 0; i < sz.reps; i++ {
		for k, script := range scripts {
			d, err := b.sh(script)
			if err != nil {
				return nil, err
			}
			rates[k] = append(rates[k], float64(txs)/d.Seconds())
		}
	}
	alone, backup, cat, paced, niced := rates[0], rates[1], rates[2], rates[3], rates[4]
	name := fmt.Sprintf("writer commit rate (load, %d txs, 64 workers) with", txs)
	ratio := func(a, b sample) string { return fmt.Sprintf("%.2f×", a.median()/b.median()) }
	return []row{
		{name: name + " hot-backups running, vs alone", mine: backup.spread("%.0f tx/s"), ref: alone.spread("%.0f tx/s"),
			ratio: ratio(backup, alone), target: "≥ 0.9×"},
		{name: name + " hot-backups running, vs with cat of the segment files running", mine: backup.spread("%.0f tx/s"),
			ref: cat.spread("%.0f tx/s"), ratio: ratio(backup, cat), target: "the machine's bound"},
		{name: name + " hot-backups at --max-rate " + pacedRate + " running, vs alone", mine: paced.spread("%.0f tx/s"),
			ref: alone.spread("%.0f tx/s"), ratio: ratio(paced, alone), target: "≥ 0.9×"},
		{name: name + " hot-backups --nice (nice 19) running, vs alone", mine: niced.spread("%.0f tx/s"),
			ref: alone.spread("%.0f tx/s"), ratio: ratio(niced, alone), target: "(opt-in; none)"},
	}, nil
}

// pacedRate is the --max-rate of the paced backups beside the writer.
const pacedRate = "100MiB"
