package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestBuildsOnOtherPlatforms cross-builds and vets the whole module for
// windows and darwin: Linux is where hotpipe is tested, and this keeps the
// others compiling (README, Platforms). It uses the go tool of the GOROOT
// that `go env` names. Measured on a 2-core machine: about 4 s with a warm
// build cache, about 80 s on an empty one (the standard library and every
// dependency once per target). -short skips it.
func TestBuildsOnOtherPlatforms(t *testing.T) {
	if testing.Short() {
		t.Skip("cross-builds the module; skipped under -short")
	}
	gotool := goTool(t)
	targets := []struct{ goos, goarch string }{
		{"windows", "amd64"},
		{"darwin", "arm64"},
	}
	for _, tc := range targets {
		t.Run(tc.goos+"/"+tc.goarch, func(t *testing.T) {
			// vet first: it compiles every dependency, which build then
			// reuses (the other order pays for most of it twice).
			for _, verb := range []string{"vet", "build"} {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
				cmd := exec.CommandContext(ctx, gotool, verb, "./...")
				cmd.Env = append(os.Environ(), "GOOS="+tc.goos, "GOARCH="+tc.goarch, "CGO_ENABLED=0")
				out, err := cmd.CombinedOutput()
				cancel()
				if err != nil {
					t.Errorf("GOOS=%s GOARCH=%s go %s ./...: %v\n%s", tc.goos, tc.goarch, verb, err, out)
				}
			}
		})
	}
}

// goTool returns the go command of the GOROOT that the go on PATH reports,
// or skips the test when there is none.
func goTool(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go tool on PATH")
	}
	out, err := exec.Command(path, "env", "GOROOT").Output()
	if err != nil {
		t.Fatalf("go env GOROOT: %v", err)
	}
	gotool := filepath.Join(strings.TrimSpace(string(out)), "bin", "go")
	if _, err := os.Stat(gotool); err != nil {
		t.Skipf("no go tool in GOROOT: %v", err)
	}
	return gotool
}
