// Command run is `make bench`: it builds hotpipe, creates deterministic
// databases, and measures each case side by side with its physical
// reference in the same run, repeated, reporting the median with min and
// max. It prints one table and writes it to BENCHMARKS.md.
//
//	go run ./bench/run            # full: 1 GiB and 1,000,000-transaction databases
//	go run ./bench/run -quick     # about three minutes: smaller databases, 3 repetitions
//	go run ./bench/run -peers     # make bench-peers: beside PostgreSQL (peers.go)
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// sizes are the databases a run measures.
type sizes struct {
	bigMiB   int // database of 64 KiB transactions
	smallTxs int // database of 1-entry 100-byte transactions
	rssMiB   []int
	reps     int
	// archiveMiB is the database archive writes into S3, lagSeconds how
	// long the archive lag case's load runs.
	archiveMiB, lagSeconds int
	only                   []string // case names to run; all when empty
}

func main() {
	if len(os.Args) > 2 && os.Args[1] == rssExecArg {
		os.Exit(rssExec(os.Args[2:]))
	}
	quick := flag.Bool("quick", false, "smaller databases and 3 repetitions (about three minutes)")
	out := flag.String("o", "BENCHMARKS.md", "write the table here too")
	only := flag.String("only", "", "run only these cases, comma-separated: rss, backup, splice, restore, repo, verify, small, writer, serve, age, cold, lag (serve's standby rows alone); with -peers: commit, pitr, lag, backup, verify")
	peers := flag.Bool("peers", false, "measure hotpipe beside PostgreSQL and write the peers section of -o (make bench-peers)")
	flag.Parse()
	sz := sizes{bigMiB: 1024, smallTxs: 1000000, rssMiB: []int{256, 1024}, reps: 5, archiveMiB: 256, lagSeconds: 20}
	if *quick {
		sz = sizes{bigMiB: 128, smallTxs: 100000, rssMiB: []int{64, 128}, reps: 3, archiveMiB: 128, lagSeconds: 8}
	}
	if *only != "" {
		sz.only = strings.Split(*only, ",")
	}
	b, err := setup()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
	defer os.RemoveAll(b.dir)
	if *peers {
		os.Exit(b.peersMain(sz, *quick, *out))
	}
	rows, err := b.all(sz)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.RemoveAll(b.dir) // os.Exit skips the deferred removal: the databases take gigabytes
		os.Exit(1)
	}
	table := render(rows, sz, *quick)
	fmt.Fprint(os.Stdout, table)
	if *out != "" {
		if err := writeTable(*out, table); err != nil { // keeps the peers section
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
	}
}

// rssExecArg makes this program run the command after it and print the
// command's peak RSS in MiB on stdout, its output going to stderr: see
// peakRSS.
const rssExecArg = "-rss-exec"

func rssExec(argv []string) int {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	mib, err := maxRSS(cmd.ProcessState)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Fprintln(os.Stdout, mib) // the measurement, for the bench that ran this copy
	return 0
}

// bench holds the built binary and a scratch directory.
type bench struct {
	dir, bin, data string
}

func setup() (*bench, error) {
	dir, err := os.MkdirTemp("", "hotpipe-bench-")
	if err != nil {
		return nil, err
	}
	b := &bench{dir: dir, bin: filepath.Join(dir, "hotpipe"), data: filepath.Join(dir, "data")}
	if out, err := exec.Command("go", "build", "-o", b.bin, ".").CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("go build: %v\n%s", err, out)
	}
	return b, nil
}

// hp runs hotpipe on the bench's data directory.
func (b *bench) hp(args ...string) error {
	cmd := exec.Command(b.bin, append([]string{"--data-dir", b.data, "-q"}, args...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("hotpipe %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return nil
}

// sh runs a shell pipeline and returns its wall time.
func (b *bench) sh(script string) (time.Duration, error) {
	cmd := exec.Command("bash", "-c", "set -o pipefail; "+script)
	cmd.Env = append(os.Environ(), "HP="+b.bin, "HOTPIPE_DATA_DIR="+b.data, "D="+b.dir)
	start := time.Now()
	out, err := cmd.CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("%s: %v\n%s", script, err, out)
	}
	return time.Since(start), nil
}

// makeDB creates name with txs transactions of valueSize bytes.
func (b *bench) makeDB(name string, txs, valueSize, workers int) error {
	if err := b.hp("db", "create", name); err != nil {
		return err
	}
	return b.hp("load", name, "--txs", fmt.Sprint(txs), "--value-size", fmt.Sprint(valueSize), "--workers", fmt.Sprint(workers))
}

func (b *bench) segments(name string) string { return filepath.Join(b.data, name, "*.seg") }

func render(rows []row, sz sizes, quick bool) string {
	var s strings.Builder
	mode := "full"
	if quick {
		mode = "quick (-quick: smaller databases, 3 repetitions)"
	}
	host, _ := os.Hostname()
	fmt.Fprintf(&s, "# hotpipe benchmarks\n\n")
	fmt.Fprintf(&s, "Generated by `make bench` (%s) on %s: %s, %d CPUs, %s, %s.\n", mode, time.Now().UTC().Format("2006-01-02"),
		host, runtime.NumCPU(), cpuModel(), runtime.Version())
	fmt.Fprintf(&s, "Each case ran %d times beside its reference in the same run; figures are medians with [min, max].\n", sz.reps)
	fmt.Fprintf(&s, "Ratio is hotpipe / reference for throughputs (higher is better) and the stated comparison otherwise.\n\n")
	fmt.Fprintf(&s, "| case | hotpipe | reference | ratio | target |\n|---|---|---|---|---|\n")
	for _, r := range rows {
		fmt.Fprintf(&s, "| %s | %s | %s | %s | %s |\n", r.name, r.mine, r.ref, r.ratio, r.target)
	}
	return s.String()
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	for _, line := range strings.Split(string(b), "\n") {
		if name, ok := strings.CutPrefix(line, "model name"); ok {
			return strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(name), ":"))
		}
	}
	return runtime.GOARCH
}
