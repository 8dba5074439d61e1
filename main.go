// Command hotpipe is the admin and hot backup tool of hotpipe's append-only
// transactional database (package engine).
//
// stdout carries data only (values, reports, backup streams, and the help
// asked for); every message, usage after an error and error goes to
// stderr. Errors map to exit codes in one place, package
// internal/exitcode (which the admin server shares), and every command's
// help lists them.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/hotpipe/hotpipe/internal/exitcode"
)

// Exit codes (DESIGN.md §6), mapped from errors by package exitcode.
const (
	exitOK          = exitcode.OK
	exitFailure     = exitcode.Failure
	exitUsage       = exitcode.Usage
	exitIntegrity   = exitcode.Integrity
	exitHistory     = exitcode.History
	exitLocked      = exitcode.Locked
	exitInterrupted = exitcode.Interrupted
	exitBrokenPipe  = exitcode.BrokenPipe
)

const exitCodesHelp = `
EXIT CODES:
   0    success
   1    failure
   2    usage error (bad flag, argument or database name)
   3    integrity error (checksum, hash chain, truncated or corrupt data)
   4    history error (LSN gap, different history, origin mismatch)
   5    database locked by another writer (or a backup file by another hot-backup)
   130  interrupted (SIGINT or SIGTERM)
   141  broken pipe: the reader of stdout went away
`

// errUsage marks errors in how the command was called.
var errUsage = exitcode.ErrUsage

type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }
func (e *usageError) Unwrap() error { return errUsage }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// exitCode maps an error to the process exit code.
func exitCode(err error) int { return exitcode.Of(err) }

func main() {
	stop := profile(os.Getenv("HOTPIPE_CPUPROFILE"))
	code := run(os.Args, os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// profile writes a CPU profile to path, when set, until the returned func
// is called: HOTPIPE_CPUPROFILE=cpu.prof hotpipe ... then go tool pprof.
func profile(path string) func() {
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err == nil {
		err = pprof.StartCPUProfile(f)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "hotpipe: HOTPIPE_CPUPROFILE: %v\n", err)
		return func() {}
	}
	return func() { pprof.StopCPUProfile(); f.Close() }
}

// run executes one command line and returns its exit code.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	env := &env{stdin: stdin, stdout: stdout, stderr: stderr}
	app := newApp(env)
	ctx, stop := interruptible(&env.stop)
	defer stop()
	line := permute(app, args)
	env.asJSON, env.command = line.asJSON, line.command
	err := identityHint(app.RunContext(ctx, line.args))
	if err == nil && env.notFound != "" {
		err = usagef("unknown command %q", env.notFound)
	}
	switch {
	case env.asJSON:
		out := stdout
		if line.command == "hot-backup" { // stdout is the stream's
			out = stderr
		}
		printReport(out, line.command, env.report, err)
	case err != nil && !errors.Is(err, errBrokenPipe):
		fmt.Fprintf(stderr, "hotpipe: %v\n", err)
		if errors.Is(err, errUsage) {
			fmt.Fprintln(stderr, "Run 'hotpipe --help' or 'hotpipe COMMAND --help' for usage.")
		}
	}
	return exitCode(err)
}

// env is what commands share: the process's streams and global flags.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	dataDir        string
	quiet          bool
	progress       progressFlag
	notFound       string
	// asJSON: --json was given; the command records its report, which run
	// prints (report.go), and prints no summaries.
	asJSON  bool
	command string // the command as typed, like "db status"
	report  reporter
	stop    stopper // a graceful stop at the first signal, for commands that ask
}

// warnf prints a warning on stderr, even with -q.
func (e *env) warnf(format string, args ...any) {
	fmt.Fprintf(e.stderr, "hotpipe: "+format+"\n", args...)
}

// notef prints an operator message on stderr unless -q or --json was
// given (a report says it all).
func (e *env) notef(format string, args ...any) {
	if !e.quiet && !e.asJSON {
		fmt.Fprintf(e.stderr, format+"\n", args...)
	}
}

func newApp(e *env) *cli.App {
	app := &cli.App{
		Name:    "hotpipe",
		Version: currentVersion().Version,
		Usage:   "hot, streaming backup and restore of an append-only transactional database",
		Description: `hotpipe is both the admin tool of its embedded database and its backup tool.
Data goes to stdout; messages, usage and errors go to stderr.

Examples:
   hotpipe db create foo
   hotpipe load foo --txs 100000
   hotpipe db status foo
   hotpipe put foo user:1=alice user:2=bob
   hotpipe get foo user:1`,
		Writer:                 e.stdout, // help asked for and completion words: what was asked for
		ErrWriter:              e.stderr,
		Reader:                 e.stdin,
		HideHelpCommand:        true,
		EnableBashCompletion:   true, // hotpipe completion bash|zsh|fish
		CustomAppHelpTemplate:  cli.AppHelpTemplate + exitCodesHelp,
		ExitErrHandler:         func(*cli.Context, error) {},
		OnUsageError:           onUsageError,
		CommandNotFound:        func(_ *cli.Context, name string) { e.notFound = name },
		UseShortOptionHandling: false,
		// -i a,b.backup names one file: a comma is part of a file name.
		DisableSliceFlagSeparator: true,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "data-dir", Value: "./data", EnvVars: []string{"HOTPIPE_DATA_DIR"},
				Usage: "directory holding the databases", Destination: &e.dataDir},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "print no summaries or notices on stderr (warnings and errors still print)", EnvVars: []string{"HOTPIPE_QUIET"}, Destination: &e.quiet},
			&cli.GenericFlag{Name: "progress", Value: &e.progress, DefaultText: "on when stderr is a terminal, unless -q", EnvVars: []string{"HOTPIPE_PROGRESS"},
				Usage: "report progress on stderr, or with `[=json]` as JSON lines (=false: none); on a terminal, one line fitted to its width, drawn by one hotpipe process of a pipeline at a time (they take a lock on the terminal)"},
		},
		Commands: []*cli.Command{backupCommand(e), restoreCommand(e), verifyCommand(e), inspectCommand(e),
			archiveCommand(e), repoCommand(e), serveCommand(e), jobCommand(e), dbCommand(e), putCommand(e), getCommand(e), scanCommand(e), loadCommand(e), versionCommand(e), keyCommand(e), completionCommand(e), manCommand(e)},
		Metadata: map[string]any{envKey: e},
		Before: func(*cli.Context) error {
			if e.dataDir == "" { // HOTPIPE_DATA_DIR set but empty
				e.dataDir = "./data"
			}
			return nil
		},
		Action: groupAction(e, ""),
	}
	quietBoolDefaults(app.Flags)
	for _, c := range app.Commands {
		prepare(c)
	}
	return app
}

// groupAction is the action of a command that only holds others (hotpipe,
// db, repo): an unknown one, or none, is a usage error, with the group's
// help on stderr, where usage after an error goes.
func groupAction(e *env, group string) cli.ActionFunc {
	prefix := ""
	if group != "" {
		prefix = group + ": "
	}
	return func(c *cli.Context) error {
		if c.NArg() > 0 {
			return usagef("%sunknown command %q", prefix, c.Args().First())
		}
		c.App.Writer = e.stderr
		if group == "" {
			cli.ShowAppHelp(c)
		} else {
			cli.ShowSubcommandHelp(c)
		}
		return usagef("%sno command given", prefix)
	}
}

// prepare gives every command our usage-error handling and exit code help.
func prepare(c *cli.Command) {
	c.OnUsageError = onUsageError
	quietBoolDefaults(c.Flags)
	if len(c.Subcommands) > 0 {
		c.CustomHelpTemplate = cli.SubcommandHelpTemplate + exitCodesHelp
	} else {
		c.CustomHelpTemplate = cli.CommandHelpTemplate + exitCodesHelp
	}
	for _, s := range c.Subcommands {
		prepare(s)
	}
}

// quietBoolDefaults drops "(default: false)" from boolean flags' help: a
// switch is off unless given, and a usage that says otherwise says so once.
func quietBoolDefaults(flags []cli.Flag) {
	for _, f := range flags {
		if b, ok := f.(*cli.BoolFlag); ok {
			b.DisableDefaultText = true
		}
	}
}

func onUsageError(_ *cli.Context, err error, _ bool) error {
	return usagef("%v", err)
}

// commandLine is a command line as run gives it to the app, and what run
// needs to know of it before the app has parsed it.
type commandLine struct {
	args    []string
	command string // the command path as typed, like "db status"
	asJSON  bool   // --json was given (and --help was not)
}

// permute moves flags given after positional arguments in front of them,
// because urfave/cli v2 stops parsing flags at the first argument and
// hotpipe's documented usage is `hotpipe hot-backup foo -o FILE`. Global
// flags given after the command move before it. "--" ends flag parsing.
func permute(app *cli.App, args []string) commandLine {
	if len(args) == 0 {
		return commandLine{args: args}
	}
	if n := len(args); n > 1 && args[n-1] == "--generate-bash-completion" {
		// urfave/cli completes only when this is the last argument.
		line := permute(app, args[:n-1])
		line.args, line.asJSON = append(line.args, args[n-1]), false
		return line
	}
	var global, path, flags, positional []string
	cmds, cmdFlags := app.Commands, []cli.Flag(nil)
	resolving := true
	for i := 1; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			positional = append(positional, args[i+1:]...)
			i = len(args)
		case strings.HasPrefix(a, "-") && a != "-":
			dst := &flags
			takesValue, isGlobal := flagKind(a, cmdFlags, app.Flags)
			if isGlobal {
				dst = &global
			}
			*dst = append(*dst, a)
			if takesValue && i+1 < len(args) {
				i++
				*dst = append(*dst, args[i])
			}
		case resolving && findCommand(cmds, a) != nil:
			c := findCommand(cmds, a)
			path = append(path, a)
			cmds, cmdFlags = c.Subcommands, c.Flags
		default:
			resolving = false
			positional = append(positional, a)
		}
	}
	out := append([]string{args[0]}, global...)
	out = append(append(out, path...), flags...)
	for _, p := range positional {
		if strings.HasPrefix(p, "-") {
			out = append(out, "--")
			break
		}
	}
	line := commandLine{args: append(out, positional...), command: strings.Join(path, " ")}
	line.asJSON = hasFlag(flags, "json") && !hasFlag(flags, "help", "h") && !hasFlag(global, "help", "h", "version", "v")
	return line
}

// hasFlag reports whether flags (tokens of a command line) set one of the
// named boolean flags.
func hasFlag(flags []string, names ...string) bool {
	for _, a := range flags {
		if !strings.HasPrefix(a, "-") {
			continue // a flag's value
		}
		name, v, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		for _, n := range names {
			if name == n && (!hasValue || v == "true" || v == "1") {
				return true
			}
		}
	}
	return false
}

// flagKind reports whether flag token a takes a separate value, and whether
// it is a global flag rather than one of the command's.
func flagKind(a string, cmdFlags, globalFlags []cli.Flag) (takesValue, global bool) {
	name := strings.TrimLeft(a, "-")
	if strings.Contains(name, "=") {
		name = name[:strings.Index(name, "=")]
		if f := lookupFlag(globalFlags, name); f != nil && lookupFlag(cmdFlags, name) == nil {
			return false, true
		}
		return false, false
	}
	if f := lookupFlag(cmdFlags, name); f != nil {
		return takesArg(f), false
	}
	if f := lookupFlag(globalFlags, name); f != nil {
		return takesArg(f), true
	}
	return false, false
}

func lookupFlag(flags []cli.Flag, name string) cli.Flag {
	for _, f := range flags {
		for _, n := range f.Names() {
			if n == name {
				return f
			}
		}
	}
	return nil
}

func takesArg(f cli.Flag) bool {
	switch f := f.(type) {
	case *cli.BoolFlag:
		return false
	case *cli.GenericFlag: // --progress: a boolean flag to the flag package
		b, ok := f.Value.(interface{ IsBoolFlag() bool })
		return !ok || !b.IsBoolFlag()
	}
	return true
}

func findCommand(cmds []*cli.Command, name string) *cli.Command {
	for _, c := range cmds {
		if c.HasName(name) {
			return c
		}
	}
	return nil
}
