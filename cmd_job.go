package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/hotpipe/hotpipe/engine"
	"github.com/hotpipe/hotpipe/server"
)

func jobCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:            "job",
		Usage:           "start, list, watch and abort backup and archive jobs on a hotpipe server",
		HideHelpCommand: true,
		Description: `A job runs on the server (hotpipe serve --addr): a backup into a file of
the server's --backup-dir or into its --repo repository, or a continuous
archive into the repository. It runs on without its client, and an ended
job is kept with its result for a day (at most 100 of them).

Examples:
   hotpipe job start foo --addr db1:9899 --repo --level 1 --expire 30d --wait
   hotpipe job start foo --addr db1:9899 -o foo.backup --append
   hotpipe job list --addr db1:9899
   hotpipe job status 3 --addr db1:9899 --wait
   hotpipe job abort 3 --addr db1:9899`,
		Action:      groupAction(e, "job"),
		Subcommands: []*cli.Command{jobStartCommand(e), jobListCommand(e), jobStatusCommand(e), jobAbortCommand(e)},
	}
}

func jobStartCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "start",
		Usage:     "start a backup or archive job on the server",
		ArgsUsage: "DB",
		Description: `Starts a job on the server and prints its id on stdout. A backup goes
into the server's repository (--repo: a levelled object, as hot-backup
--repo writes) or into a file of the server's backup directory (-o NAME, a
plain file name; --append adds what it lacks, as hot-backup --append).
--archive follows DB into the repository, as hotpipe archive, until the
job is aborted. --wait follows the job to its end and exits as the job
ended (see job status --wait).

--recipient KEY and --recipients-file FILE encrypt the backup with age,
as hot-backup's and archive's do (a file, or repository objects named
.hp.age): the keys (public ones) travel in the request, and the server
needs no private key. --append refuses them.`,
		Flags: append([]cli.Flag{
			addrFlag(),
			&cli.BoolFlag{Name: "repo", Usage: "back up into the server's repository (serve --repo)"},
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "back up into `NAME`, a file of the server's backup directory (serve --backup-dir)"},
			&cli.BoolFlag{Name: "append", Usage: "with -o: add to NAME what it lacks (a missing NAME is started)"},
			&cli.IntFlag{Name: "level", Usage: "with --repo: the backup's level, 0 to 9"},
			&cli.StringFlag{Name: "expire", Usage: "with --repo: the backup may be deleted after `SPAN` (7d, 1w, 36h) or at a time (RFC 3339)"},
			&cli.StringFlag{Name: "max-rate", Usage: "back up at most `RATE` bytes a second (100MB/s, 50MiB, 800k)"},
			&cli.BoolFlag{Name: "archive", Usage: "archive DB into the server's repository continuously, until aborted"},
			&cli.DurationFlag{Name: "max-delay", Usage: "with --archive: as archive --max-delay (default 1s)"},
			&cli.BoolFlag{Name: "wait", Usage: "follow the job to its end, and exit as it ended"},
			jsonFlag(),
		}, recipientFlags("the backup the job writes")...),
		Action: e.jobStart,
	}
}

func jobListCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:        "list",
		Usage:       "list the server's running and kept jobs",
		Description: `Prints one line per job, oldest first: id, state, kind, database, target, progress and start time.`,
		Flags:       []cli.Flag{addrFlag(), jsonFlag()},
		Action:      e.jobList,
	}
}

func jobStatusCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "status",
		Usage:     "show a job's state and progress",
		ArgsUsage: "ID",
		Description: `Prints the job's state (running, succeeded, failed, aborted, interrupted),
its progress (LSN x of y, percent, bytes, rate, ETA), its times, and its
result or error. --wait follows it to its end (with --progress, as the
local command draws it), then exits with the code the job's command would
have ended in locally: 0 succeeded, 3 integrity, 130 aborted or
interrupted, and so on. Interrupting --wait (SIGINT) leaves the job
running on the server: job abort stops it.`,
		Flags: []cli.Flag{addrFlag(),
			&cli.BoolFlag{Name: "wait", Usage: "follow the job to its end, and exit as it ended"},
			jsonFlag()},
		Action: e.jobStatus,
	}
}

func jobAbortCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "abort",
		Usage:     "abort a running job",
		ArgsUsage: "ID",
		Description: `Aborts the job and waits until it has settled: a backup stops at a frame
boundary (a file is left resumable with job start --append, a repository
gets no partial object); an archive writes what is durable as a last
object. Aborting an ended job changes nothing. Prints the job's status.`,
		Flags:  []cli.Flag{addrFlag(), jsonFlag()},
		Action: e.jobAbort,
	}
}

// jobReport is what job start, status and abort print with --json.
type jobReport struct {
	head
	Job *server.JobStatus `json:"job,omitempty"`
}

// jobListReport is what job list --json prints.
type jobListReport struct {
	head
	Jobs []server.JobStatus `json:"jobs"`
}

func (e *env) jobStart(c *cli.Context) error {
	if err := args(c, 1, 1); err != nil {
		return err
	}
	req, err := jobRequest(c)
	if err != nil {
		return err
	}
	cl, err := e.jobClient(c)
	if err != nil {
		return err
	}
	st, err := cl.StartJob(c.Context, req)
	if err != nil {
		return err
	}
	e.notef("job %s: %s started on %s", st.ID, jobWhat(st), cl)
	if c.Bool("wait") {
		return e.followJob(c, cl, st)
	}
	if e.asJSON {
		e.report = &jobReport{Job: &st}
		return nil
	}
	fmt.Fprintln(e.stdout, st.ID)
	return nil
}

// jobRequest reads job start's flags.
func jobRequest(c *cli.Context) (server.JobRequest, error) {
	req := server.JobRequest{Kind: server.JobBackup, DB: c.Args().First(), Repo: c.Bool("repo"), File: c.String("output"),
		Append: c.Bool("append"), Level: c.Int("level")}
	if err := engine.ValidateName(req.DB); err != nil {
		return req, err
	}
	var err error
	if req.Recipients, err = jobRecipients(c); err != nil {
		return req, err
	}
	if c.Bool("archive") {
		req.Kind, req.Repo = server.JobArchive, false
		if req.File != "" || c.IsSet("level") || c.IsSet("expire") || c.IsSet("max-rate") || c.IsSet("repo") {
			return req, usagef("job start: --archive goes into the repository: it takes no -o, --repo, --level, --expire or --max-rate")
		}
		if d := c.Duration("max-delay"); d != 0 {
			req.MaxDelay = d.String()
		}
		return req, nil
	}
	switch {
	case req.Repo == (req.File != ""):
		return req, usagef("job start: give --repo (the server's repository) or -o NAME (a file of its backup directory)")
	case req.File != "" && (c.IsSet("level") || c.IsSet("expire")):
		return req, usagef("job start: --level and --expire go with --repo")
	case req.Append && req.File == "":
		return req, usagef("job start: --append goes with -o NAME")
	case c.IsSet("max-delay"):
		return req, usagef("job start: --max-delay goes with --archive")
	}
	if v := c.String("expire"); v != "" {
		at, err := expiry(v, time.Now())
		if err != nil {
			return req, usagef("job start: --expire: %v", err)
		}
		req.Expires = &at
	}
	if r := c.String("max-rate"); r != "" {
		var err error
		if req.MaxRate, err = parseRate(r); err != nil {
			return req, usagef("job start: --max-rate: %v", err)
		}
	}
	return req, nil
}

// jobClient is the client of --addr, which job commands need.
func (e *env) jobClient(c *cli.Context) (*server.Client, error) {
	if c.String("addr") == "" {
		return nil, usagef("%s: --addr HOST:PORT (or HOTPIPE_ADDR) names the server", commandPath(c))
	}
	return e.client(c)
}

func (e *env) jobList(c *cli.Context) error {
	if err := args(c, 0, 0); err != nil {
		return err
	}
	cl, err := e.jobClient(c)
	if err != nil {
		return err
	}
	jobs, err := cl.Jobs(c.Context)
	if err != nil {
		return err
	}
	if e.asJSON {
		e.report = &jobListReport{Jobs: jobs.Jobs}
		return nil
	}
	if len(jobs.Jobs) == 0 {
		e.notef("job list: no jobs on %s", cl)
	}
	for _, st := range jobs.Jobs {
		fmt.Fprintf(e.stdout, "%s\t%s\t%s\t%s\t%s\n", st.ID, st.State, jobWhat(st), jobProgress(st), st.Started.Format(time.RFC3339))
	}
	return nil
}

func (e *env) jobStatus(c *cli.Context) error {
	if err := args(c, 1, 1); err != nil {
		return err
	}
	cl, err := e.jobClient(c)
	if err != nil {
		return err
	}
	st, err := cl.Job(c.Context, c.Args().First())
	if err != nil {
		return err
	}
	if c.Bool("wait") {
		return e.followJob(c, cl, st)
	}
	e.showJob(st)
	return nil
}

func (e *env) jobAbort(c *cli.Context) error {
	if err := args(c, 1, 1); err != nil {
		return err
	}
	cl, err := e.jobClient(c)
	if err != nil {
		return err
	}
	st, err := cl.AbortJob(c.Context, c.Args().First())
	if err != nil {
		return err
	}
	if st, err = e.settle(c.Context, cl, st, nil); err != nil {
		return err
	}
	e.showJob(st)
	return nil
}

// jobPoll is how often a waiting client asks for a job's status.
const jobPoll = 200 * time.Millisecond

// settle polls job st until it has ended, calling seen with each status.
func (e *env) settle(ctx context.Context, cl *server.Client, st server.JobStatus, seen func(server.JobStatus)) (server.JobStatus, error) {
	for st.State == server.JobRunning {
		select {
		case <-ctx.Done():
			return st, context.Cause(ctx)
		case <-time.After(jobPoll):
		}
		var err error
		if st, err = cl.Job(ctx, st.ID); err != nil {
			return st, err
		}
		if seen != nil {
			seen(st)
		}
	}
	return st, nil
}

// followJob waits for the job to end, drawing its progress as the local
// command does, shows it, and returns its error: the job's exit code is
// the command's.
func (e *env) followJob(c *cli.Context, cl *server.Client, st server.JobStatus) error {
	prog := e.newProgress("job "+st.ID, st.DB, st.FirstLSN, st.EndLSN)
	seen := func(st server.JobStatus) {
		if st.Frames >= prog.frames && st.Bytes >= prog.bytes {
			prog.first, prog.total = st.FirstLSN, st.EndLSN
			lastTime := int64(0)
			if st.LastCommit != nil {
				lastTime = st.LastCommit.UnixNano()
			}
			prog.add(st.Frames-prog.frames, int(st.Bytes-prog.bytes), st.LastLSN, lastTime)
		}
	}
	st, err := e.settle(c.Context, cl, st, seen)
	prog.finish()
	if err != nil {
		return err
	}
	e.showJob(st)
	return st.Err()
}

// showJob prints a job's status: its report with --json, else lines.
func (e *env) showJob(st server.JobStatus) {
	if e.asJSON {
		e.report = &jobReport{Job: &st}
		return
	}
	printJob(e.stdout, st)
}

// printJob prints a job's status for a person, one fact a line.
func printJob(w io.Writer, st server.JobStatus) {
	fmt.Fprintf(w, "job %s: %s\n", st.ID, jobWhat(st))
	fmt.Fprintf(w, "state: %s\n", st.State)
	fmt.Fprintf(w, "progress: %s, %d frames, %s, %s/s\n", jobProgress(st), st.Frames, size(st.Bytes), size(int64(st.Rate)))
	fmt.Fprintf(w, "started: %s\n", st.Started.Format(time.RFC3339Nano))
	if st.Ended != nil {
		fmt.Fprintf(w, "ended: %s (%.1fs)\n", st.Ended.Format(time.RFC3339Nano), st.Seconds)
	}
	if st.LastCommit != nil {
		fmt.Fprintf(w, "last commit: %s\n", st.LastCommit.Format(time.RFC3339Nano))
	}
	switch {
	case st.Object != "":
		fmt.Fprintf(w, "object: %s\n", st.Object)
	case st.UpToDate:
		fmt.Fprintln(w, "up to date: nothing new to back up")
	case st.Complete:
		fmt.Fprintln(w, "complete: ends in its end record")
	}
	if st.Note != "" {
		fmt.Fprintf(w, "note: %s\n", st.Note)
	}
	if st.Error != nil {
		fmt.Fprintf(w, "error: %s (exit %d, %s)\n", shownText(st.Error.Message), st.Error.ExitCode, st.Error.Kind)
	}
}

// jobWhat says what a job does: "backup of foo into file foo.backup".
func jobWhat(st server.JobStatus) string {
	into := "file " + shownText(st.File)
	if st.Repo != "" {
		into = "repository " + st.Repo
	}
	what := st.Kind + " of " + st.DB + " into " + into
	if st.Append {
		what += " (append)"
	}
	if st.Level != nil {
		what += fmt.Sprintf(" (level %d)", *st.Level)
	}
	if st.Encrypted {
		what += " (encrypted)"
	}
	return what
}

// jobProgress says how far a job is: "LSN 120 of 300 (40%), ETA 2s".
func jobProgress(st server.JobStatus) string {
	var b strings.Builder
	fmt.Fprintf(&b, "LSN %d of %d", st.LastLSN, st.EndLSN)
	if st.Percent != nil {
		fmt.Fprintf(&b, " (%.0f%%)", *st.Percent)
	}
	if st.ETA != nil {
		fmt.Fprintf(&b, ", ETA %s", time.Duration(*st.ETA*float64(time.Second)).Round(time.Second))
	}
	if st.LagLSNs != nil {
		fmt.Fprintf(&b, ", lag %d LSNs", *st.LagLSNs)
	}
	return b.String()
}

// serveTargets reads serve's --backup-dir and --repo (else
// $HOTPIPE_REPO): where jobs may write, and nowhere else.
func (e *env) serveTargets(c *cli.Context, opts *server.Options) error {
	if dir := c.String("backup-dir"); dir != "" {
		abs, err := filepath.Abs(dir)
		if err == nil {
			var fi os.FileInfo
			if fi, err = os.Stat(abs); err == nil && !fi.IsDir() {
				err = fmt.Errorf("not a directory")
			}
		}
		if err != nil {
			return usagef("serve: --backup-dir %s: %v", dir, err)
		}
		opts.BackupDir = abs
	}
	if c.String("repo") == "" && os.Getenv("HOTPIPE_REPO") == "" {
		return nil
	}
	r, err := e.openRepo(c)
	opts.Repo = r
	return err
}
