package main

import (
	"runtime"
	"runtime/debug"
	"testing"
)

func TestDescribeBuild(t *testing.T) {
	platform := runtime.GOOS + "/" + runtime.GOARCH
	vcs := func(rev, modified string) []debug.BuildSetting {
		return []debug.BuildSetting{{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: rev}, {Key: "vcs.modified", Value: modified}}
	}
	const rev = "4cece95b1234567890abcdef4cece95b12345678"
	tests := []struct {
		name          string
		bi            *debug.BuildInfo
		stamped       string
		stampedCommit string
		stampedDirty  bool
		want          string
	}{
		{name: "go test: no build vcs, nothing stamped",
			bi:   &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}},
			want: "hotpipe devel (commit unknown) go1.26.8 " + platform},
		{name: "no build info at all",
			want: "hotpipe devel (commit unknown) " + runtime.Version() + " " + platform},
		{name: "plain go build in a checkout: module pseudo-version and vcs",
			bi: &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v0.0.0-20261130055525-4cece95b1234+dirty"},
				Settings: vcs(rev, "true")},
			want: "hotpipe v0.0.0-20261130055525-4cece95b1234+dirty (commit 4cece95b1234, modified) go1.26.8 " + platform},
		{name: "make build with -buildvcs=false: all stamped",
			bi:      &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}},
			stamped: "v1.2.0-3-g4cece95-dirty", stampedCommit: rev, stampedDirty: true,
			want: "hotpipe v1.2.0-3-g4cece95-dirty (commit 4cece95b1234, modified) go1.26.8 " + platform},
		{name: "make build with vcs: the stamped version names the tag, vcs the commit",
			bi: &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.2.1-0.20261130055525-4cece95b1234"},
				Settings: vcs(rev, "false")},
			stamped: "v1.2.0-3-g4cece95", stampedCommit: "ffffffffffff", stampedDirty: true,
			want: "hotpipe v1.2.0-3-g4cece95 (commit 4cece95b1234) go1.26.8 " + platform},
		{name: "go install module@version",
			bi:   &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.2.0"}},
			want: "hotpipe v1.2.0 (commit unknown) go1.26.8 " + platform},
		{name: "short stamped commit kept as is",
			stamped: "4cece95", stampedCommit: "4cece95",
			want: "hotpipe 4cece95 (commit 4cece95) " + runtime.Version() + " " + platform},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := describeBuild(tc.bi, tc.stamped, tc.stampedCommit, tc.stampedDirty).String()
			if got != tc.want {
				t.Errorf("got  %q\nwant %q", got, tc.want)
			}
			if !versionLine.MatchString(got + "\n") {
				t.Errorf("%q does not match the documented version line", got)
			}
		})
	}
}
