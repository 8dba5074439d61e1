//go:build unix

package torture

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// proc is a hotpipe (or helper) process started in its own process group,
// whose stdout goes to a file: a frozen process's acknowledgements are all
// in the file, with no pipe buffer between.
type proc struct {
	t    *testing.T
	cmd  *exec.Cmd
	out  string // stdout
	errb *syncBuffer
	done chan struct{}
	err  error // Wait's, once done is closed
}

// syncBuffer is a bytes.Buffer safe to read while a process writes it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// start runs c with stdout to the file out.
func (h *harness) start(c *exec.Cmd, out string) *proc {
	h.t.Helper()
	f, err := os.Create(out)
	if err != nil {
		h.t.Fatal(err)
	}
	defer f.Close()
	p := &proc{t: h.t, cmd: c, out: out, errb: &syncBuffer{}, done: make(chan struct{})}
	c.Stdout, c.Stderr = f, p.errb
	if c.SysProcAttr == nil {
		c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	}
	if err := c.Start(); err != nil {
		h.t.Fatal(err)
	}
	go func() { p.err = c.Wait(); close(p.done) }()
	h.t.Cleanup(p.kill)
	return p
}

// startLoad starts `hotpipe load DB --acks` for 100M transactions.
func (h *harness) startLoad(db string, args ...string) *proc {
	h.t.Helper()
	args = append([]string{"load", db, "-q", "--txs", "100000000", "--acks"}, args...)
	return h.start(h.cmd(args...), h.path("acks-"+db))
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// acks returns the highest LSN the process acknowledged on stdout so far,
// and how many it acknowledged.
func (p *proc) acks() (uint64, int) {
	p.t.Helper()
	b, err := os.ReadFile(p.out)
	if err != nil {
		p.t.Fatal(err)
	}
	return maxAck(b)
}

// waitAcks returns once the process has acknowledged LSN min or higher.
func (p *proc) waitAcks(min uint64) {
	p.t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		if top, _ := p.acks(); top >= min {
			return
		}
		if p.exited() {
			p.t.Fatalf("%s exited (%v) before acknowledging LSN %d:\n%s", p.name(), p.err, min, p.errb)
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("%s acknowledged nothing up to LSN %d in a minute", p.name(), min)
		}
		time.Sleep(time.Millisecond)
	}
}

func (p *proc) name() string { return strings.Join(p.cmd.Args[min(1, len(p.cmd.Args)):], " ") }

// freeze stops the process (SIGSTOP) and returns once every one of its
// threads is stopped: whatever it wrote is then in the page cache and
// nothing changes until thaw.
func (p *proc) freeze() {
	p.t.Helper()
	pid := p.cmd.Process.Pid
	if err := syscall.Kill(-pid, syscall.SIGSTOP); err != nil {
		p.t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		stopped, err := allStopped(pid)
		if err != nil || p.exited() {
			p.t.Fatalf("%s: exited while being frozen (%v, %v):\n%s", p.name(), err, p.err, p.errb)
		}
		if stopped {
			return
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("%s: not stopped a minute after SIGSTOP", p.name())
		}
		time.Sleep(100 * time.Microsecond)
	}
}

// allStopped reports whether every thread of pid is in state T (stopped).
func allStopped(pid int) (bool, error) {
	dir := fmt.Sprintf("/proc/%d/task", pid)
	tasks, err := os.ReadDir(dir)
	if err != nil {
		return false, err
	}
	for _, task := range tasks {
		b, err := os.ReadFile(filepath.Join(dir, task.Name(), "stat"))
		if err != nil {
			return false, nil // a thread just exited: look again
		}
		// pid (comm) S ...: comm may hold spaces and parentheses.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 || i+2 >= len(b) {
			return false, fmt.Errorf("%s: unexpected stat %q", task.Name(), b)
		}
		switch b[i+2] {
		case 'T', 't':
		case 'Z', 'X':
			return false, errors.New("exited")
		default:
			return false, nil
		}
	}
	return true, nil
}

func (p *proc) thaw() {
	p.t.Helper()
	if err := syscall.Kill(-p.cmd.Process.Pid, syscall.SIGCONT); err != nil {
		p.t.Fatal(err)
	}
}

// kill SIGKILLs the process group and waits for the process; it reports
// whether the kill was what ended it.
func (p *proc) kill() {
	if !p.exited() {
		syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		syscall.Kill(-p.cmd.Process.Pid, syscall.SIGCONT)
	}
	<-p.done
}

// signal sends sig to the process group and waits for the process to end.
func (p *proc) signal(sig syscall.Signal) error {
	if !p.exited() {
		syscall.Kill(-p.cmd.Process.Pid, sig)
	}
	<-p.done
	return p.err
}

// exitCode is the process's exit code once done, -1 if a signal ended it.
func (p *proc) exitCode() int {
	<-p.done
	return p.cmd.ProcessState.ExitCode()
}

// killedBy reports whether sig ended the process.
func (p *proc) killedBy(sig syscall.Signal) bool {
	<-p.done
	ws, ok := p.cmd.ProcessState.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == sig
}

// in returns a harness like h that runs commands against dataDir.
func (h *harness) in(dataDir string) *harness {
	c := *h
	c.data = dataDir
	return &c
}

// copyDir copies the regular files of dir into a new directory to (made
// with its parents); with link, segment files are hard links instead (for
// copies whose sealed segments nothing writes).
func copyDir(t *testing.T, from, to string, link func(name string) bool) {
	t.Helper()
	if err := os.MkdirAll(to, 0o700); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(from)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if !e.Type().IsRegular() {
			continue
		}
		src, dst := filepath.Join(from, e.Name()), filepath.Join(to, e.Name())
		if link != nil && link(e.Name()) {
			if err := os.Link(src, dst); err != nil {
				t.Fatal(err)
			}
			continue
		}
		copyFile(t, src, dst)
	}
}

// keepForReproduction copies dir somewhere t.TempDir's cleanup does not
// reach and returns where.
func keepForReproduction(t *testing.T, dir, what string) string {
	kept, err := os.MkdirTemp("", "hotpipe-"+what+"-")
	if err != nil {
		return "(not kept: " + err.Error() + ")"
	}
	copyDir(t, dir, filepath.Join(kept, filepath.Base(dir)), nil)
	return kept
}

// readFile returns a file's bytes, failing the test if it cannot.
func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var _ io.Writer = (*syncBuffer)(nil)
