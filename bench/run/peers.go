package main

// `make bench-peers` (go run ./bench/run -peers): hotpipe beside
// PostgreSQL, in the same run, for the rows where PostgreSQL has a
// counterpart. It lives in bench/run, not a program of its own, so that it
// measures hotpipe with the very cases `make bench` runs (standbyLagOnce,
// the table's medians and rendering) rather than copies of them.
//
// PostgreSQL refuses to run as root: when this runs as root, every
// PostgreSQL program runs as the postgres user (runuser), with its data
// directories in a temporary directory that user owns. The servers listen
// on unix sockets in that directory only (listen_addresses = ''). They are
// stopped, and the directory removed, when the run ends, fails, or is
// interrupted (SIGINT, SIGTERM).

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Ports of the clusters: they name the unix sockets in the cluster
// directory (no TCP listener is opened).
const (
	pgPrimaryPort = 5432
	pgStandbyPort = 5433
	pgPITRPort    = 5434
)

// cleanups are run, last first, when the run ends or is interrupted.
// running is held while they run: whichever of the two comes second waits
// for them to finish instead of exiting under them.
var cleanups struct {
	mu, running sync.Mutex
	fns         []func()
	interrupted atomic.Bool
}

func atExit(f func()) {
	cleanups.mu.Lock()
	defer cleanups.mu.Unlock()
	cleanups.fns = append(cleanups.fns, f)
}

func runCleanups() {
	cleanups.running.Lock()
	defer cleanups.running.Unlock()
	cleanups.mu.Lock()
	fns := cleanups.fns
	cleanups.fns = nil
	cleanups.mu.Unlock()
	for i := len(fns) - 1; i >= 0; i-- {
		fns[i]()
	}
}

// onInterrupt runs the cleanups and exits 130 on SIGINT or SIGTERM: the
// PostgreSQL servers run in their own sessions (pg_ctl), so a terminal's
// SIGINT does not reach them.
func onInterrupt() {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		s := <-ch
		cleanups.interrupted.Store(true)
		fmt.Fprintf(os.Stderr, "bench-peers: %v: stopping PostgreSQL and removing its files\n", s)
		runCleanups()
		os.Exit(130)
	}()
}

// pg is the PostgreSQL installation and the directory of this run's
// clusters.
type pg struct {
	bin     string // directory of pg_ctl, initdb, pgbench, ...
	dir     string // owned by the user the servers run as
	asUser  []string
	version string
}

// findPGBin returns the directory of PostgreSQL's server programs: $PGBIN,
// else the newest /usr/lib/postgresql/N/bin (Debian's layout), else the
// directory of pg_ctl on PATH.
func findPGBin() (string, error) {
	if d := os.Getenv("PGBIN"); d != "" {
		return d, nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return pgMajor(dirs[i]) < pgMajor(dirs[j]) })
	for i := len(dirs) - 1; i >= 0; i-- {
		if _, err := os.Stat(filepath.Join(dirs[i], "initdb")); err == nil {
			return dirs[i], nil
		}
	}
	if p, err := exec.LookPath("pg_ctl"); err == nil {
		return filepath.Dir(p), nil
	}
	return "", errors.New("no PostgreSQL server programs (initdb, pg_ctl): install them (make bench-peers runs apt-get install postgresql) or set PGBIN")
}

// pgMajor is N in /usr/lib/postgresql/N/bin, 0 when it is not a number.
func pgMajor(dir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(dir)))
	return n
}

// newPG makes the run's directory, owned by the postgres user when this
// runs as root.
func newPG() (*pg, error) {
	bin, err := findPGBin()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "hotpipe-peers-")
	if err != nil {
		return nil, err
	}
	atExit(func() { os.RemoveAll(dir) })
	p := &pg{bin: bin, dir: dir}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("running as root, PostgreSQL needs an unprivileged user to run as: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			return nil, err
		}
		p.asUser = []string{"runuser", "-u", "postgres", "--"}
	}
	out, err := p.cmd("postgres", "--version").Output()
	if err != nil {
		return nil, fmt.Errorf("postgres --version: %w", err)
	}
	p.version = strings.TrimSpace(string(out))
	return p, nil
}

// sock is the directory of the servers' unix sockets.
func (p *pg) sock() string { return p.dir }

// env is the environment of PostgreSQL's clients: they connect to the
// primary's socket as postgres, and find the programs on PATH.
func (p *pg) env(port int) []string {
	return append(os.Environ(), "PATH="+p.bin+":"+os.Getenv("PATH"), "PGHOST="+p.sock(), "PGPORT="+strconv.Itoa(port),
		"PGUSER=postgres", "PGDATABASE=postgres", "PG="+strings.Join(p.asUser, " "), "T="+p.dir)
}

// cmd runs a PostgreSQL program as the servers' user.
func (p *pg) cmd(name string, args ...string) *exec.Cmd {
	return p.as(filepath.Join(p.bin, name), args...)
}

// as runs any program as the servers' user.
func (p *pg) as(prog string, args ...string) *exec.Cmd {
	argv := append(append(append([]string(nil), p.asUser...), prog), args...)
	c := exec.Command(argv[0], argv[1:]...)
	c.Env = p.env(pgPrimaryPort)
	c.Dir = p.dir
	return c
}

// run runs a PostgreSQL program and returns its stdout.
func (p *pg) run(name string, args ...string) (string, error) {
	return p.output(p.cmd(name, args...))
}

func (p *pg) output(c *exec.Cmd) (string, error) {
	var stderr strings.Builder
	c.Stderr = &stderr
	out, err := c.Output()
	if err != nil {
		return string(out), fmt.Errorf("%s: %v\n%s", strings.Join(c.Args, " "), err, stderr.String())
	}
	return string(out), nil
}

// psql runs SQL on the primary and returns its unaligned, tuples-only output.
func (p *pg) psql(sql string) (string, error) {
	out, err := p.run("psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql)
	return strings.TrimSpace(out), err
}

// sh runs a bash script with the clients' environment ($PG runs a program
// as the servers' user) and returns its wall time.
func (p *pg) sh(b *bench, script string) (time.Duration, error) {
	cmd := exec.Command("bash", "-c", "set -o pipefail; "+script)
	cmd.Env = append(p.env(pgPrimaryPort), "HP="+b.bin, "HOTPIPE_DATA_DIR="+b.data, "D="+b.dir)
	cmd.Dir = p.dir
	start := time.Now()
	out, err := cmd.CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("%s: %v\n%s", script, err, out)
	}
	return time.Since(start), nil
}

// pgConf is the primary's configuration beside initdb's defaults: durable
// commits (fsync, synchronous_commit and full_page_writes are on by
// default and stay on), unix sockets only, WAL archived into $T/archive for
// point-in-time recovery, and room for the replication connections.
const pgConf = `
listen_addresses = ''
unix_socket_directories = '%[1]s'
port = %[2]d
fsync = on
synchronous_commit = on
wal_level = replica
max_wal_senders = 8
archive_mode = on
archive_command = 'test ! -f %[1]s/archive/%%f && cp %%p %[1]s/archive/%%f'
max_connections = 200
`

// initPrimary creates and starts the primary cluster.
func (p *pg) initPrimary() error {
	data := filepath.Join(p.dir, "primary")
	if _, err := p.run("initdb", "-D", data, "-A", "trust", "-U", "postgres", "--no-instructions"); err != nil {
		return err
	}
	if _, err := p.output(p.as("mkdir", filepath.Join(p.dir, "archive"))); err != nil {
		return err
	}
	f, err := os.OpenFile(filepath.Join(data, "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(f, pgConf, p.sock(), pgPrimaryPort)
	if err := errors.Join(err, f.Close()); err != nil {
		return err
	}
	return p.start(data, pgPrimaryPort, true)
}

// start starts the cluster in data on port; with wait, it returns once the
// server accepts connections. Its stop is registered to run at exit.
func (p *pg) start(data string, port int, wait bool) error {
	w := "-W"
	if wait {
		w = "-w"
	}
	args := []string{"-D", data, "-l", data + ".log", "-o", fmt.Sprintf("-p %d -k %s", port, p.sock()), w, "start"}
	if _, err := p.run("pg_ctl", args...); err != nil {
		log, _ := os.ReadFile(data + ".log")
		return fmt.Errorf("%w\n%s", err, log)
	}
	atExit(func() { p.stop(data) })
	return nil
}

// stop stops the cluster in data at once, if it runs.
func (p *pg) stop(data string) {
	if _, err := os.Stat(filepath.Join(data, "postmaster.pid")); err != nil {
		return
	}
	if _, err := p.run("pg_ctl", "-D", data, "-m", "immediate", "-w", "stop"); err != nil {
		fmt.Fprintln(os.Stderr, "bench-peers:", err)
	}
}

// writeFile writes a file that the servers' user owns.
func (p *pg) writeFile(path, content string) error {
	c := p.as("tee", "-a", path)
	c.Stdout = nil
	c.Stdin = strings.NewReader(content)
	if out, err := c.CombinedOutput(); err != nil {
		return fmt.Errorf("writing %s: %v\n%s", path, err, out)
	}
	return nil
}
