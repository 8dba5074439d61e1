//go:build unix

package server

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/hotpipe/hotpipe/internal/exitcode"
)

// TestBackupDirHoldsOnlyRegularFiles: a symbolic link in the backup
// directory (here, to a backup outside it) is neither verified nor written
// by a job, a FIFO is refused rather than waited on, and one verify opens
// at most maxVerifyFiles files.
func TestBackupDirHoldsOnlyRegularFiles(t *testing.T) {
	c, s, _ := jobsServed(t, 20, 100, Options{})
	dir := s.opts.BackupDir
	settled(t, c, s, startJob(t, c, JobRequest{Kind: JobBackup, DB: "foo", File: "foo.backup"}).ID)
	outside := filepath.Join(t.TempDir(), "outside.backup")
	if err := os.Rename(filepath.Join(dir, "foo.backup"), outside); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(dir, "link.backup")); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(dir, "fifo.backup"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"link.backup", "fifo.backup"} {
		if _, err := c.VerifyFiles(context.Background(), []string{name}); err == nil {
			t.Errorf("verify %s: no error", name)
		}
		_, err := c.StartJob(context.Background(), JobRequest{Kind: JobBackup, DB: "foo", File: name, Append: true})
		if exitcode.Of(err) != exitcode.Usage || !strings.Contains(err.Error(), "not a regular file") {
			t.Errorf("a job into %s: %v (exit %d), want a usage error", name, err, exitcode.Of(err))
		}
	}
	fi, err := os.Stat(outside)
	if err != nil || fi.Size() == 0 {
		t.Fatalf("the file outside: %v, %v", fi, err)
	}
	many := make([]string, maxVerifyFiles+1)
	for i := range many {
		many[i] = "link.backup"
	}
	if _, err := c.VerifyFiles(context.Background(), many); exitcode.Of(err) != exitcode.Usage {
		t.Errorf("verify of %d files: %v (exit %d), want a usage error", len(many), err, exitcode.Of(err))
	}
}
