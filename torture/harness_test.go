//go:build unix

package torture

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

var (
	kills     = flag.Int("kills", 8, "SIGKILLs per crash scenario (make torture: 100)")
	flips     = flag.Int("flips", 60, "byte positions flipped in the corruption campaign; 0 flips every one")
	cuts      = flag.Int("cuts", 40, "truncations checked through the CLI")
	reads     = flag.Int("reads", 2000, "truncations read in-process; 0 reads every offset")
	powercuts = flag.Int("powercuts", 4, "frozen copies of a writer's database in the power-cut simulator, 3 images each (make torture: 150)")
	rounds    = flag.Int("rounds", 3, "rounds of the lock-loss, concurrent-append, payload and fsync-failure scenarios (make torture: 30)")
	seed      = flag.Uint64("seed", 0, "random seed; 0 picks one and logs it")
	report    = flag.String("report", "", "write the results table to this file (RELIABILITY.md)")
)

// bin is the hotpipe binary TestMain builds for the run.
var bin string

func TestMain(m *testing.M) {
	if role := os.Getenv(helperEnv); role != "" { // a helper process the tests started
		os.Exit(runHelper(role))
	}
	flag.Parse()
	dir, err := os.MkdirTemp("", "hotpipe-torture-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin = filepath.Join(dir, "hotpipe")
	build := exec.Command("go", "build", "-o", bin, "..")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building hotpipe:", err)
		os.Exit(1)
	}
	code := m.Run()
	if code == 0 && *report != "" {
		if err := results.write(*report); err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = 1
		}
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

// harness runs hotpipe against a data directory of the test's own.
type harness struct {
	t    *testing.T
	dir  string // scratch files: backups, copies
	data string
	rng  *rand.Rand
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	s := *seed
	if s == 0 {
		s = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (rerun with -args -seed %d)", s, s)
	dir := t.TempDir()
	return &harness{t: t, dir: dir, data: filepath.Join(dir, "data"), rng: rand.New(rand.NewPCG(s, 0))}
}

func (h *harness) path(name string) string { return filepath.Join(h.dir, name) }

func (h *harness) cmd(args ...string) *exec.Cmd {
	c := exec.Command(bin, args...)
	c.Env = append(os.Environ(), "HOTPIPE_DATA_DIR="+h.data)
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	return c
}

// run runs hotpipe and returns its stdout, stderr and exit code.
func (h *harness) run(args ...string) (string, string, int) {
	h.t.Helper()
	c := h.cmd(args...)
	var out, errb bytes.Buffer
	c.Stdout, c.Stderr = &out, &errb
	err := c.Run()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		return out.String(), errb.String(), exit.ExitCode()
	case err != nil:
		h.t.Fatalf("hotpipe %s: %v", strings.Join(args, " "), err)
	}
	return out.String(), errb.String(), 0
}

// must runs hotpipe and fails the test unless it succeeds.
func (h *harness) must(args ...string) string {
	h.t.Helper()
	out, errs, code := h.run(args...)
	if code != 0 {
		h.t.Fatalf("hotpipe %s: exit %d\n%s", strings.Join(args, " "), code, errs)
	}
	return out
}

// timed runs hotpipe to success and returns how long it took.
func (h *harness) timed(args ...string) time.Duration {
	h.t.Helper()
	start := time.Now()
	h.must(args...)
	return time.Since(start)
}

// status is the part of `db status --json` the checks need.
type status struct {
	LastLSN   uint64 `json:"last_lsn"`
	StateHash string `json:"state_hash"`
	Replica   bool   `json:"replica"`
}

func (h *harness) status(db string) status {
	h.t.Helper()
	var st status
	if err := json.Unmarshal([]byte(h.must("db", "status", db, "--json")), &st); err != nil {
		h.t.Fatalf("db status %s: %v", db, err)
	}
	return st
}

func (h *harness) exists(db string) bool {
	_, err := os.Stat(filepath.Join(h.data, db, "META"))
	return err == nil
}

// healthy checks what must hold of db after any kill: it opens, its chain
// verifies end to end, and no writer lock is left held.
func (h *harness) healthy(db string) status {
	h.t.Helper()
	out := h.must("db", "status", db)
	if !strings.Contains(out, "writer lock: free") {
		h.t.Fatalf("%s: lock left held after the kill:\n%s", db, out)
	}
	st := h.status(db)
	backup := h.path("healthy.check")
	os.Remove(backup)
	h.must("hot-backup", db, "-q", "-o", backup)
	if st.LastLSN > 0 {
		if _, errs, code := h.run("verify", "-i", backup); code != 0 {
			h.t.Fatalf("%s at LSN %d does not verify (exit %d):\n%s", db, st.LastLSN, code, errs)
		}
	}
	return st
}

// killAfter starts c and SIGKILLs its process group after d (or lets it
// finish first); it reports whether c died of the kill, rather than
// exiting by itself just before it.
func killAfter(c *exec.Cmd, d time.Duration) (bool, error) {
	if err := c.Start(); err != nil {
		return false, err
	}
	done := make(chan error, 1)
	go func() { done <- c.Wait() }()
	select {
	case <-done:
		return false, nil
	case <-time.After(d):
		syscall.Kill(-c.Process.Pid, syscall.SIGKILL)
		<-done
		ws, ok := c.ProcessState.Sys().(syscall.WaitStatus)
		return ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL, nil
	}
}

// jitter returns a random duration in [0, d]: a kill anywhere in a run
// that takes about d.
func (h *harness) jitter(d time.Duration) time.Duration {
	return time.Duration(h.rng.Int64N(int64(d) + 1))
}

// sameState fails unless databases a and b hold the same LSN and state hash.
func (h *harness) sameState(a, b string) {
	h.t.Helper()
	sa, sb := h.status(a), h.status(b)
	if sa.LastLSN != sb.LastLSN || sa.StateHash != sb.StateHash {
		h.t.Fatalf("%s at %d %s, %s at %d %s", a, sa.LastLSN, sa.StateHash, b, sb.LastLSN, sb.StateHash)
	}
}
