package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// versionLine is the shape of `hotpipe version`'s output (cmd_version.go).
var versionLine = regexp.MustCompile(`^hotpipe ([^ ()]+) \(commit ([0-9a-f]{7,12}|unknown)(, modified)?\) go[0-9][^ ]* [a-z0-9]+/[a-z0-9]+\n$`)

// TestMakeInstall runs `make install` as README's set-up does and runs the
// installed binary: PREFIX given wins over GOBIN, GOBIN is used without
// PREFIX, and the default is /usr/local/bin (under DESTDIR here). Each case
// runs a non-race go build: 2-4 s with a warm build cache (about 7 s in
// all), about 90 s once on an empty one. -short skips it.
func TestMakeInstall(t *testing.T) {
	if testing.Short() {
		t.Skip("builds hotpipe with make; skipped under -short")
	}
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("no make on PATH")
	}
	tests := []struct {
		name string
		args []string // after "make install"; dirs are relative to the test's temp dir
		env  []string
		want string // where hotpipe must land
		not  string // where it must not
	}{
		{name: "PREFIX wins over GOBIN", args: []string{"PREFIX=p"}, env: []string{"GOBIN=gobin"},
			want: "p/bin/hotpipe", not: "gobin/hotpipe"},
		{name: "GOBIN without PREFIX", env: []string{"GOBIN=gobin"}, want: "gobin/hotpipe"},
		{name: "default /usr/local/bin under DESTDIR", args: []string{"DESTDIR=d"}, env: []string{"GOBIN="},
			want: "d/usr/local/bin/hotpipe"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tmp := t.TempDir()
			abs := func(kv string) string { // NAME=rel -> NAME=tmp/rel
				k, v, _ := strings.Cut(kv, "=")
				if v == "" {
					return kv
				}
				return k + "=" + filepath.Join(tmp, v)
			}
			args := []string{"install", "BIN=" + filepath.Join(tmp, "build", "hotpipe")}
			for _, a := range tc.args {
				args = append(args, abs(a))
			}
			env := cleanMakeEnv()
			for _, e := range tc.env {
				env = append(env, abs(e))
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, "make", args...)
			cmd.Env = env
			start := time.Now()
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("make %s: %v\n%s", strings.Join(args, " "), err, out)
			}
			t.Logf("make install took %v", time.Since(start).Round(time.Millisecond))
			bin := filepath.Join(tmp, tc.want)
			checkInstalledVersion(t, bin)
			if tc.not != "" {
				if _, err := os.Stat(filepath.Join(tmp, tc.not)); !os.IsNotExist(err) {
					t.Errorf("%s: want it absent, got %v", tc.not, err)
				}
			}
		})
	}
}

// cleanMakeEnv is the test's environment without what would steer make:
// an outer make's flags and variables, and the install variables.
func cleanMakeEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "MAKEFLAGS", "MFLAGS", "MAKELEVEL", "PREFIX", "DESTDIR", "GOBIN", "VERSION", "COMMIT", "BIN":
			continue
		}
		env = append(env, kv)
	}
	return env
}

// checkInstalledVersion runs bin version and bin --version: one line each,
// the same, of the documented shape, naming this checkout's commit and
// `git describe` when git can tell them.
func checkInstalledVersion(t *testing.T, bin string) {
	t.Helper()
	var lines []string
	for _, arg := range []string{"version", "--version"} {
		cmd := exec.Command(bin, arg)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil || stderr.Len() > 0 {
			t.Fatalf("%s %s: %v, stderr %q", bin, arg, err, stderr.String())
		}
		if !versionLine.Match(out) {
			t.Fatalf("%s %s printed %q, not the version line", bin, arg, out)
		}
		lines = append(lines, string(out))
	}
	if lines[0] != lines[1] {
		t.Errorf("version printed %q, --version %q", lines[0], lines[1])
	}
	m := versionLine.FindStringSubmatch(lines[0])
	head, err := exec.Command("git", "rev-parse", "HEAD").Output()
	if err != nil {
		t.Logf("not a git checkout (%v): version and commit not compared", err)
		return
	}
	if want := strings.TrimSpace(string(head))[:12]; m[2] != want {
		t.Errorf("commit %s, want HEAD %s", m[2], want)
	}
	desc, err := exec.Command("git", "describe", "--tags", "--always", "--dirty").Output()
	if err == nil {
		want := strings.TrimSpace(string(desc))
		if m[1] != want {
			t.Errorf("version %s, want git describe's %s", m[1], want)
		}
		// Go's vcs.modified, when the toolchain stamps it, also counts
		// untracked files, which git describe --dirty does not.
		if strings.HasSuffix(want, "-dirty") && m[3] == "" {
			t.Errorf("version line %q: the tree is dirty, want \", modified\"", lines[0])
		}
	}
}
