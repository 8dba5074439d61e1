package main

import (
	"bytes"
	"strings"
	"testing"
)

// hotpipe runs a command line in-process against dataDir and returns its
// exit code and stderr.
func hotpipe(t *testing.T, dataDir string, args ...string) (int, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(append([]string{"hotpipe", "--data-dir", dataDir}, args...), strings.NewReader(""), &stdout, &stderr)
	return code, stderr.String()
}

func mustHotpipe(t *testing.T, dataDir string, args ...string) {
	t.Helper()
	if code, stderr := hotpipe(t, dataDir, args...); code != 0 {
		t.Fatalf("hotpipe %v: exit %d\n%s", args, code, stderr)
	}
}
