package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"

	"github.com/urfave/cli/v2"
)

// Set by `make build` / `make install` with -ldflags "-X main.version=...":
// version is `git describe --tags --always --dirty`, commit the full
// revision and modified "true" when the work tree had changes. Plain
// `go build` leaves them empty, and the Go toolchain's build info (the
// module version, vcs.revision, vcs.modified) is used instead.
var (
	version  string
	commit   string
	modified string
)

// buildVersion is what `hotpipe version` reports.
type buildVersion struct {
	Version   string // a tag description, a module (pseudo-)version, or "devel"
	Commit    string // the first 12 hex digits of the revision, or "unknown"
	Modified  bool   // built from a work tree with uncommitted changes
	GoVersion string // the toolchain that built the binary, e.g. go1.26.8
	Platform  string // GOOS/GOARCH
}

// String is the one-line format documented in the version command's help:
//
//	hotpipe VERSION (commit COMMIT[, modified]) GOVERSION GOOS/GOARCH
func (v buildVersion) String() string {
	mod := ""
	if v.Modified {
		mod = ", modified"
	}
	return fmt.Sprintf("hotpipe %s (commit %s%s) %s %s", v.Version, v.Commit, mod, v.GoVersion, v.Platform)
}

// currentVersion describes this binary.
func currentVersion() buildVersion {
	bi, _ := debug.ReadBuildInfo()
	return describeBuild(bi, version, commit, modified == "true")
}

// describeBuild combines what the linker stamped with the build info:
// a stamped version wins (it names the tag); the build info's revision wins
// (the toolchain read it from the checkout itself). bi may be nil.
func describeBuild(bi *debug.BuildInfo, stampedVersion, stampedCommit string, stampedModified bool) buildVersion {
	v := buildVersion{Version: stampedVersion, Commit: stampedCommit, Modified: stampedModified,
		GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if bi != nil {
		if v.Version == "" && bi.Main.Version != "(devel)" {
			v.Version = bi.Main.Version
		}
		if bi.GoVersion != "" {
			v.GoVersion = bi.GoVersion
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				v.Commit = s.Value
			case "vcs.modified":
				v.Modified = s.Value == "true"
			}
		}
	}
	if v.Version == "" {
		v.Version = "devel"
	}
	if len(v.Commit) > 12 {
		v.Commit = v.Commit[:12]
	}
	if v.Commit == "" {
		v.Commit = "unknown"
	}
	return v
}

func init() {
	// --version only: -v would read as "verbose" to most operators.
	cli.VersionFlag = &cli.BoolFlag{Name: "version", Usage: "print the version on stdout and exit, as the version command does", DisableDefaultText: true}
	// The version goes to stdout, data the user asked for, whatever
	// App.Writer is.
	cli.VersionPrinter = func(c *cli.Context) { printVersion(appEnv(c).stdout) }
}

func printVersion(w io.Writer) error {
	_, err := fmt.Fprintln(w, currentVersion())
	return err
}

// appEnv is the env newApp stored in the app's Metadata, for the hooks
// urfave/cli keeps as package variables (VersionPrinter).
func appEnv(c *cli.Context) *env {
	return c.App.Metadata[envKey].(*env)
}

const envKey = "hotpipe.env"

func versionCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "version",
		Usage: "print hotpipe's version, commit and Go version on stdout",
		Description: `version prints one line on stdout (as --version does):

   hotpipe VERSION (commit COMMIT[, modified]) GOVERSION GOOS/GOARCH

VERSION is 'git describe --tags --always --dirty' when built by make (make
build, make install), else the Go module version, else "devel". COMMIT is
the first 12 hex digits of the source revision, or "unknown" when the
binary was built outside a git checkout or with -buildvcs=false; "modified"
means the work tree had uncommitted changes. For example:

   hotpipe v1.2.0-3-g4cece95 (commit 4cece95b1234) go1.26.8 linux/amd64`,
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return usagef("version takes no arguments")
			}
			return printVersion(e.stdout)
		},
	}
}
