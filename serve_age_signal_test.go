//go:build linux

package main

import (
	"bytes"
	"errors"
	"io"
	"os/exec"
	"regexp"
	"syscall"
	"testing"

	"filippo.io/age"

	"github.com/hotpipe/hotpipe/stream"
)

// TestRemoteEncryptedBackupStopped: an encrypted hot-backup --addr to
// stdout that SIGINT stops (exit 130, the local words) or whose server is
// killed (exit 3) is left without age's sealed last chunk: it never
// decrypts whole, as the local encrypted backup stopped early.
func TestRemoteEncryptedBackupStopped(t *testing.T) {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		kill   bool
		code   int
		stderr string
	}{
		{name: "SIGINT", code: exitInterrupted, stderr: `^hotpipe: backup of foo stopped after LSN [0-9]+: interrupted\n$`},
		{name: "server killed", kill: true, code: exitIntegrity, stderr: `the connection broke: stream is truncated`},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			mustRun(t, hotpipeCmd(dir, "-q", "db", "create", "foo"))
			mustRun(t, hotpipeCmd(dir, "-q", "load", "foo", "--txs", "60", "--value-size", "65536"))
			srv, url := startServe(t, dir)
			cmd, out, stderr := remoteBackup(t, dir, url, "--max-rate", "1MB", "-r", id.Recipient().String())
			if c.kill {
				err = srv.Process.Kill()
			} else {
				err = cmd.Process.Signal(syscall.SIGINT)
			}
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(out)
			if err != nil {
				t.Fatal(err)
			}
			err = cmd.Wait()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != c.code {
				t.Fatalf("hot-backup --addr -r: %v, want exit %d: %s", err, c.code, stderr)
			}
			if !regexp.MustCompile(c.stderr).MatchString(stderr.String()) {
				t.Errorf("stderr %q, want %q", stderr, c.stderr)
			}
			if !stream.IsAge(got) {
				t.Fatalf("stdout (%d bytes) is not an age file", len(got))
			}
			r, err := age.Decrypt(bytes.NewReader(got), id)
			if err == nil {
				_, err = io.ReadAll(r)
			}
			if err == nil {
				t.Fatal("the stopped encrypted backup decrypts whole")
			}
		})
	}
}
