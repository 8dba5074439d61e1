//go:build linux

package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/hotpipe/hotpipe/stream"
)

// hotpipeCmd runs this test binary as the hotpipe command (testscript.Main
// dispatches on argv[0]) against dataDir.
func hotpipeCmd(dataDir string, args ...string) *exec.Cmd {
	cmd := &exec.Cmd{Path: os.Args[0], Args: append([]string{"hotpipe", "--data-dir", dataDir}, args...)}
	cmd.Env = os.Environ()
	return cmd
}

func mustRun(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v: %v\n%s", cmd.Args, err, out)
	}
}

// loadedDB makes database foo with n transactions.
func loadedDB(t *testing.T, n int) string {
	t.Helper()
	dir := t.TempDir()
	mustRun(t, hotpipeCmd(dir, "-q", "db", "create", "foo"))
	mustRun(t, hotpipeCmd(dir, "-q", "load", "foo", "--txs", fmt.Sprint(n)))
	return dir
}

// TestBackupStopsAtAFrameBoundaryOnSignal interrupts a backup blocked on a
// slow reader: it exits 130 and its output ends at a frame boundary with no
// end record, so it reads as truncated, never as complete.
func TestBackupStopsAtAFrameBoundaryOnSignal(t *testing.T) {
	dir := loadedDB(t, 30000)
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			cmd := hotpipeCmd(dir, "hot-backup", "foo")
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			head := make([]byte, 256<<10)
			if _, err := io.ReadFull(out, head); err != nil {
				t.Fatal(err)
			}
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			rest, _ := io.ReadAll(out)
			err = cmd.Wait()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != exitInterrupted {
				t.Fatalf("exit = %v, want %d; stderr:\n%s", err, exitInterrupted, stderr.String())
			}
			got := append(head, rest...)
			r := stream.NewReader([]stream.Input{{Name: "out", R: bytes.NewReader(got)}}, stream.Options{})
			for err = nil; err == nil; {
				_, err = r.Next()
			}
			var se *stream.Error
			// Truncated at its very end: inside a frame, the offset would be the
			// frame's start.
			if !errors.As(err, &se) || !errors.Is(err, stream.ErrTruncated) || se.Offset != int64(len(got)) {
				t.Fatalf("interrupted output (%d bytes) reads as %v; want truncated at a frame boundary at its end", len(got), err)
			}
			if !strings.Contains(stderr.String(), "interrupted") {
				t.Fatalf("stderr %q does not say it was interrupted", stderr.String())
			}
		})
	}
}

// stalledRestore runs hot-restore with args on dir, feeds it input and then
// nothing more, waits until ready says it has applied what it got, sends
// sig, and returns its stderr once it has exited 130.
func stalledRestore(t *testing.T, dir string, input []byte, ready func() bool, sig syscall.Signal, args ...string) string {
	t.Helper()
	cmd := hotpipeCmd(dir, append([]string{"hot-restore"}, args...)...)
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	if _, err := in.Write(input); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ready)
	time.Sleep(100 * time.Millisecond) // let it reach the read that stalls
	if err := cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != exitInterrupted {
			t.Fatalf("exit = %v, want %d; stderr:\n%s", err, exitInterrupted, stderr.String())
		}
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("restore did not stop within 20s of %v while its input stalled", sig)
	}
	return stderr.String()
}

// dbStatus returns `db status` of a database.
func dbStatus(t *testing.T, dir, name string) string {
	t.Helper()
	out, err := hotpipeCmd(dir, "db", "status", name).Output()
	if err != nil {
		t.Fatalf("db status %s: %v", name, err)
	}
	return string(out)
}

// TestRestoreOfAStalledInputCanBeInterrupted sends SIGINT to a restore
// waiting for input that never comes.
func TestRestoreOfAStalledInputCanBeInterrupted(t *testing.T) {
	dir := loadedDB(t, 100)
	backup, err := hotpipeCmd(dir, "hot-backup", "foo", "--end-lsn", "50").Output()
	if err != nil {
		t.Fatal(err)
	}
	created := func() bool { _, err := os.Stat(dir + "/bar/META"); return err == nil }
	stderr := stalledRestore(t, dir, backup[:len(backup)-stream.EndSize], created, syscall.SIGINT, "bar")
	if want := "hot-restore bar interrupted: the database is at LSN 50, durable"; !strings.Contains(stderr, want) {
		t.Fatalf("stderr %q does not say %q", stderr, want)
	}
	if st := dbStatus(t, dir, "bar"); !strings.Contains(st, "last LSN:    50") || !strings.Contains(st, "writer lock: free") ||
		!strings.Contains(st, "replica:     on") {
		t.Fatalf("after the interrupted restore:\n%s", st)
	}
	// Every frame was applied before the signal, but nothing tells a rerun
	// with the same input from a shorter one: the database stays a replica
	// and the restore says how to end it.
	resume := hotpipeCmd(dir, "hot-restore", "bar", "--append")
	resume.Stdin = bytes.NewReader(backup)
	out, err := resume.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "end it with: hotpipe db replica bar off") {
		t.Fatalf("a rerun that applies nothing does not say how to end the restore (%v):\n%s", err, out)
	}
	if st := dbStatus(t, dir, "bar"); !strings.Contains(st, "last LSN:    50") || !strings.Contains(st, "replica:     on") {
		t.Fatalf("after rerunning with the same stream:\n%s", st)
	}
}

// TestForcedReplicaIsSwitchedBackOffWhenTheRestoreFails: --force-replica
// switches a database to replica mode for a restore; SIGTERM ends that
// restore early, and replica mode must be off again (DESIGN.md §6).
func TestForcedReplicaIsSwitchedBackOffWhenTheRestoreFails(t *testing.T) {
	dir := loadedDB(t, 100)
	mustRun(t, hotpipeCmd(dir, "-q", "hot-backup", "foo", "--end-lsn", "20", "-o", dir+"/first20.backup"))
	mustRun(t, hotpipeCmd(dir, "-q", "hot-restore", "bar", "-i", dir+"/first20.backup"))
	all, err := hotpipeCmd(dir, "hot-backup", "foo", "-q").Output()
	if err != nil {
		t.Fatal(err)
	}
	caughtUp := func() bool { return strings.Contains(dbStatus(t, dir, "bar"), "last LSN:    100") }
	stalledRestore(t, dir, all[:len(all)-stream.EndSize], caughtUp, syscall.SIGTERM, "bar", "--append", "--force-replica")
	if st := dbStatus(t, dir, "bar"); !strings.Contains(st, "replica:     off") || !strings.Contains(st, "writer lock: free") {
		t.Fatalf("after SIGTERM, replica mode switched on by --force-replica is still on:\n%s", st)
	}
}

func waitFor(t *testing.T, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if ok() {
			return
		}
	}
	t.Fatal("condition not met within 20s")
}

// TestBackupRefusesATerminal gives hot-backup a pseudo-terminal as stdout.
func TestBackupRefusesATerminal(t *testing.T) {
	dir := loadedDB(t, 3)
	tty := openPTY(t)
	var stderr bytes.Buffer
	code := run([]string{"hotpipe", "--data-dir", dir, "hot-backup", "foo"}, nil, tty, &stderr)
	if code != exitUsage || !strings.Contains(stderr.String(), "refusing to write a binary stream to a terminal; use -o FILE or a pipe") {
		t.Fatalf("exit %d, stderr %q", code, stderr.String())
	}
}

// openPTY returns the terminal side of a new pseudo-terminal.
func openPTY(t *testing.T) *os.File {
	t.Helper()
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	t.Cleanup(func() { master.Close() })
	var unlock int32
	var n uint32
	if err := ioctl(master, syscall.TIOCSPTLCK, unsafe.Pointer(&unlock)); err != nil {
		t.Skipf("unlockpt: %v", err)
	}
	if err := ioctl(master, syscall.TIOCGPTN, unsafe.Pointer(&n)); err != nil {
		t.Skipf("ptsname: %v", err)
	}
	tty, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("open pts: %v", err)
	}
	t.Cleanup(func() { tty.Close() })
	return tty
}

func ioctl(f *os.File, req uintptr, arg unsafe.Pointer) error {
	if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, f.Fd(), req, uintptr(arg)); errno != 0 {
		return errno
	}
	return nil
}
