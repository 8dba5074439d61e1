//go:build linux

package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hotpipe/hotpipe/repo"
)

// TestArchiveEndsGracefullyOnSIGTERM: the first SIGTERM makes archive
// write what is durable as a last object and exit 0.
func TestArchiveEndsGracefullyOnSIGTERM(t *testing.T) {
	dir := loadedDB(t, 300)
	url := filepath.Join(dir, "repo")
	cmd := hotpipeCmd(dir, "archive", "foo", "--repo", url, "--max-delay", "10ms")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	st, err := repo.OpenStore(context.Background(), url, repo.StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(waitTimeout); ; time.Sleep(10 * time.Millisecond) { // the first object is written
		c, err := repo.New(st).Catalog(context.Background(), "foo")
		if err == nil && len(c.Histories) == 1 {
			if last, _ := c.Histories[0].Restorable(); last == 300 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no object through LSN 300 within %v: %s", waitTimeout, stderr.String())
		}
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("archive after SIGTERM: %v\n%s", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "archive foo: stopped at LSN 300") {
		t.Errorf("stderr: %s", stderr.String())
	}
}
