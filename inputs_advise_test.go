package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// failingHints makes every input hint fail, recording the files hinted.
func failingHints(t *testing.T) func() []string {
	t.Helper()
	var mu sync.Mutex
	var hinted []string
	adviseInput = func(f *os.File) error {
		mu.Lock()
		defer mu.Unlock()
		hinted = append(hinted, f.Name())
		return errors.New("fadvise refused")
	}
	t.Cleanup(func() { adviseInput = adviseSequential })
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(hinted)
	}
}

// TestInputHintFailureIsIgnored: a restore hints each -i file it opens,
// opened at once or at its first read (--if-not-exists), and a hint that
// fails leaves the restore as it was: the same frames, exit 0.
func TestInputHintFailureIsIgnored(t *testing.T) {
	dir := t.TempDir()
	mustHotpipe(t, dir, "db", "create", "src")
	mustHotpipe(t, dir, "put", "src", "k1=v1", "k2=v2")
	mustHotpipe(t, dir, "put", "src", "k3=v3")
	file := filepath.Join(dir, "src.backup")
	mustHotpipe(t, dir, "hot-backup", "src", "-o", file)
	for _, tc := range []struct {
		name, db string
		extra    []string
	}{
		{name: "opened at once", db: "eager"},
		{name: "opened when first read", db: "lazy", extra: []string{"--if-not-exists"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hinted := failingHints(t)
			db := tc.db
			mustHotpipe(t, dir, append([]string{"hot-restore", db, "-i", file}, tc.extra...)...)
			if got := hinted(); !slices.Equal(got, []string{file}) {
				t.Fatalf("hinted %q, want the input file once", got)
			}
			var out, errOut bytes.Buffer
			if code := run([]string{"hotpipe", "--data-dir", dir, "get", db, "k3"}, strings.NewReader(""), &out, &errOut); code != 0 || out.String() != "v3\n" {
				t.Fatalf("get k3 after the restore: exit %d, %q %s", code, out.String(), errOut.String())
			}
		})
	}
}
