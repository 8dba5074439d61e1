package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/hotpipe/hotpipe/backup"
	"github.com/hotpipe/hotpipe/engine"
)

func backupCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "hot-backup",
		Usage:     "stream a database's frames while writers commit",
		ArgsUsage: "DB",
		Description: `Writes frames START..END of DB as one stream segment (header, frames, end
record) to stdout or to -o FILE, while writers keep committing. END is the
last durable LSN when the backup starts, unless --end-lsn says otherwise.
Frames are copied in large blocks and each frame's CRC is checked on the way,
so damage at the source fails the backup, naming the LSN.

-o FILE creates FILE and refuses an existing one. With --append, FILE's last
end record must match DB's history (same LSN and hash, else exit 4); a torn
tail left by an interrupted backup is truncated back to its last whole frame;
then only newer frames are appended. --append with a missing FILE starts it.
FILE is fsynced before success is reported. A binary stream is never written
to a terminal, neither on stdout nor with -o.

FILE is locked (flock) from before it is read until it is fsynced and
closed: another hot-backup writing it gets exit 5, naming the holder
(described in FILE.lock meanwhile). If a write or fsync of FILE fails, FILE
never looks complete: a FILE this run created is removed, any other is cut
back to what was durable (--append resumes it).

--max-rate RATE paces the output to at most RATE bytes per second (100MB/s
and 100M are 100,000,000; 100MiB is 104,857,600; at least 1kB/s; 0 is
unlimited), so that a backup of a busy server leaves disk
and CPU to its writers: a backup read flat out from the page cache takes a
core (measured: a writer on two cores commits ~30% slower beside one, as
beside cat of the same files). --nice ($HOTPIPE_NICE) leaves the pace to the
scheduler instead: every thread of the backup runs at nice 19, so writers on
the same cores get the CPU first; the backup is as fast on idle cores and
slower beside busy ones (Linux only).

SIGINT or SIGTERM stops the backup at a frame boundary without an end record
(exit 130): the output is visibly truncated, and --append resumes a file.

--follow keeps streaming commits as they become durable, within milliseconds,
until SIGINT or SIGTERM; then it writes the end record and exits 0. With
-o FILE it fsyncs FILE at least once a second. A live standby, started
(foo2 absent or empty) and restarted after either side dies (right after
the standby's last LSN, its hash compared) by the same command:
   hotpipe hot-backup foo --follow --after "$(hotpipe db position foo2)" \
     | hotpipe hot-restore foo2 --append --force-replica
--after N starts at N+1; db position prints 0 for an empty or absent
database. --start-lsn also takes 0 and the empty string as the first LSN.

--recipient KEY (repeatable: age1..., ssh-ed25519 ..., ssh-rsa ...) and
--recipients-file FILE ($HOTPIPE_RECIPIENTS_FILE; one key a line, # comments)
encrypt the backup with age, to stdout or -o FILE: the host that makes
backups needs only public keys (hotpipe key generate makes a pair). A
backup stopped early lacks age's sealed last chunk and reads as truncated.
--append and --follow refuse recipients: age seals a file's last chunk,
which only a private key could reopen, and seals whole 64 KiB chunks, which
would hold an idle follow's commits back; take encrypted increments into
new files with --after instead.

Examples:
   hotpipe hot-backup foo | bzip2 > foo.bz2
   hotpipe hot-backup foo -o foo.backup --max-rate 100M
   hotpipe hot-backup foo -o foo.backup --append
   hotpipe hot-backup foo --start-lsn 123 | xz > inc.xz
   hotpipe hot-backup foo | hotpipe hot-restore bar
   hotpipe hot-backup foo -o foo.backup --json 2> report.json
   hotpipe hot-backup foo -o foo.backup.age --recipients-file backup.pub
   hotpipe hot-backup foo --repo s3://backups/hotpipe --level 1 --expire 1w3d

--addr HOST:PORT (or $HOTPIPE_ADDR) asks a hotpipe server (hotpipe serve)
for the backup, with the token in $HOTPIPE_TOKEN: the stream, the report
and the exit code are the local backup's; a connection that breaks is a
truncated stream (exit 3). SIGINT asks the server to end the stream as
it ends the local one: with --follow with its end record, else at a frame
boundary without one. A stream that ends without the server's word that
it is whole (a proxy that drops HTTP trailers) is truncated too. -o FILE and --append write FILE as they
do locally, each frame checked as it arrives; a connection that breaks
leaves FILE whole frames, fsynced, that --append resumes (exit 3).
--recipient and --recipients-file encrypt on the client, to stdout or -o
FILE, to the client's recipients: the server's stream crosses the network
in clear, which the token and TLS protect.

--repo URL writes the backup into a repository as one object (see hotpipe
repo --help) instead of a stream: level 0 copies LSN 1 to the last durable
LSN, level N the frames after the last backup of a lower level (nothing,
exit 0, when there are none); --expire records until when it is kept.`,
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "write to `FILE` instead of stdout (- is stdout)"},
			&cli.BoolFlag{Name: "append", Usage: "append what FILE lacks to FILE (needs -o)"},
			&cli.GenericFlag{Name: "start-lsn", Aliases: []string{"start-tx"}, Value: &startLSN{n: 1},
				Usage: "first `LSN` to back up (inclusive); 0 and the empty string mean the first", DefaultText: "the first there is"},
			&cli.Uint64Flag{Name: "after", Usage: "back up what comes after LSN `N`: what a standby at N lacks (db position prints N)", DefaultText: "none"},
			&cli.Uint64Flag{Name: "end-lsn", Usage: "last `LSN` to back up", DefaultText: "the last durable LSN at start"},
			&cli.BoolFlag{Name: "follow", Usage: "keep streaming new commits as they become durable, until SIGINT or SIGTERM"},
			&cli.StringFlag{Name: "max-rate", Usage: "write at most `RATE` bytes per second (100MB/s, 50MiB, 800k; default: unlimited)", EnvVars: []string{"HOTPIPE_MAX_RATE"}},
			&cli.BoolFlag{Name: "nice", Usage: "run at the lowest CPU priority (nice 19, every thread): writers on the same cores get the CPU first; as fast on idle cores, slower beside busy ones (Linux)", EnvVars: []string{"HOTPIPE_NICE"}},
			&cli.BoolFlag{Name: "json", Usage: "print the report as one JSON object on one line, errors included, on stderr: stdout is the stream's (docs/JSON.md)"},
			addrFlag(),
			repoFlag(),
			&cli.IntFlag{Name: "level", Usage: "with --repo: the backup's level `N`, 0 to 9: 0 copies everything, N the frames after the last backup of a lower level", DefaultText: "0"},
			&cli.StringFlag{Name: "expire", Usage: "with --repo: keep the backup for `SPAN` (7d, 1w3d, 36h) or until a time (RFC 3339); expire deletes it after, unless a kept restore point needs it", DefaultText: "never"},
		}, recipientFlags("the backup")...),
		Action: e.hotBackup,
	}
}

func (e *env) hotBackup(c *cli.Context) error {
	recipients, err := e.backupRecipients(c)
	if err != nil {
		return err
	}
	if c.IsSet("repo") || c.IsSet("level") || c.IsSet("expire") {
		return e.repoBackup(c, recipients)
	}
	opts, err := e.backupOptions(c)
	if err != nil {
		return err
	}
	opts.Recipients = recipients
	if c.Bool("nice") {
		if err := lowerPriority(); err != nil {
			return err
		}
	}
	if c.String("addr") != "" {
		return e.remoteBackup(c, opts)
	}
	file, appendMode := c.String("output"), c.Bool("append")
	if file == "-" { // stdout, as for -i - and immuadmin
		file = ""
	}
	db, err := e.open(c.Args().First(), true)
	if err != nil {
		return err
	}
	defer db.Close()
	prog := e.backupProgress(db, &opts)
	opts.Repaired = e.repaired
	var res backup.Result
	switch {
	case appendMode:
		res, err = backup.Append(c.Context, db, file, opts)
	case file != "":
		res, err = backup.File(c.Context, db, file, opts)
	default:
		res, err = backup.Backup(c.Context, db, e.stdout, opts)
	}
	return e.backupEnded(db.Name(), file, opts, res, err, prog)
}

// backupEnded reports how a backup of db into file (stdout: "") ended,
// local or remote: the last progress line, the JSON report, and the
// summary or the error as the CLI words it.
func (e *env) backupEnded(db, file string, opts backup.Options, res backup.Result, err error, prog *progress) error {
	if !res.UpToDate && (err == nil || prog.frames > 0) { // it got to copying
		prog.first = res.First
		if !opts.Follow {
			prog.total = res.End
		}
		prog.finish()
	}
	if e.asJSON {
		e.report = backupJSONOf(db, file, res, time.Since(prog.start))
	}
	if err != nil {
		return backupError(err, db, file)
	}
	e.backupDone(db, file, res, prog)
	return nil
}

// backupOptions checks hot-backup's arguments and flags, and makes its
// options from them.
func (e *env) backupOptions(c *cli.Context) (backup.Options, error) {
	var opts backup.Options
	if err := args(c, 1, 1); err != nil {
		return opts, err
	}
	file, appendMode := c.String("output"), c.Bool("append")
	switch {
	case appendMode && (file == "" || file == "-"):
		return opts, usagef("hot-backup: --append needs -o FILE (a file it can read back, not stdout)")
	case file == "-" && isTerminal(e.stdout):
		return opts, usagef("hot-backup: refusing to write a binary stream to a terminal; use -o FILE or a pipe")
	case c.IsSet("after") && c.IsSet("start-lsn"):
		return opts, usagef("hot-backup: give --after or --start-lsn, not both")
	case appendMode && c.IsSet("after"):
		return opts, usagef("hot-backup: --append starts where FILE ends; it cannot take --after")
	case appendMode && c.IsSet("start-lsn"):
		return opts, usagef("hot-backup: --append starts where FILE ends; it cannot take --start-lsn")
	case file == "" && isTerminal(e.stdout):
		return opts, usagef("hot-backup: refusing to write a binary stream to a terminal; use -o FILE or a pipe")
	case file != "" && isTerminalPath(file):
		return opts, usagef("hot-backup: -o %s is a terminal: refusing to write a binary stream to it; use a file or a pipe", file)
	case c.Bool("follow") && c.IsSet("end-lsn"):
		return opts, usagef("hot-backup: --follow streams until interrupted; it cannot take --end-lsn")
	}
	opts = backup.Options{Start: c.Generic("start-lsn").(*startLSN).n, End: c.Uint64("end-lsn"), Follow: c.Bool("follow")}
	if c.IsSet("after") {
		if opts.Start = c.Uint64("after") + 1; opts.Start == 0 {
			return opts, usagef("hot-backup: --after %d: there is no LSN after it", c.Uint64("after"))
		}
	}
	if r := c.String("max-rate"); r != "" {
		var err error
		if opts.MaxRate, err = parseRate(r); err != nil {
			return opts, usagef("hot-backup: --max-rate: %v", err)
		}
	}
	return opts, nil
}

// startLSN is --start-lsn's value: an LSN, where 0 and the empty string
// mean the first. They are what `db hash` gives a standby's restart recipe
// for an empty database and (with its error discarded) an absent one, so
// that one command starts a standby and restarts it.
type startLSN struct{ n uint64 }

// Set parses an LSN; "" and "0" are LSN 1.
func (s *startLSN) Set(v string) error {
	if v == "" {
		s.n = 1
		return nil
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return fmt.Errorf("%q is not an LSN", v)
	}
	s.n = max(n, 1)
	return nil
}

func (s *startLSN) String() string { return strconv.FormatUint(s.n, 10) }

// backupProgress makes the progress display of a backup of db and has
// opts report to it. The range is the library's to fix (the end is the
// last durable LSN when it starts), so each report brings it; a following
// backup shows its lag behind db instead of an end.
func (e *env) backupProgress(db *engine.DB, opts *backup.Options) *progress {
	prog := e.newProgress("hot-backup", db.Name(), max(opts.Start, 1), 0)
	if opts.Follow {
		prog.source = func() uint64 { lsn, _, _ := db.State(); return lsn }
	}
	progressTo(prog, opts)
	return prog
}

// progressTo has opts report to prog as the backup goes.
func progressTo(prog *progress, opts *backup.Options) {
	opts.Progress = func(p backup.Progress) {
		prog.first = p.First
		if !opts.Follow {
			prog.total = p.End
		}
		prog.add(p.Frames-prog.frames, int(p.Bytes-prog.bytes), p.Last, p.LastTime)
	}
}

// repaired tells the operator, even with -q, that --append cut a torn
// tail off FILE.
func (e *env) repaired(r backup.Repair) {
	if r.Offset == 0 {
		fmt.Fprintf(e.stderr, "hotpipe: repaired %s: removed the %d bytes of a header left by an interrupted backup\n", r.Path, r.Cut)
		return
	}
	fmt.Fprintf(e.stderr, "hotpipe: repaired %s: truncated %d bytes left by an interrupted backup at offset %d (after LSN %d)\n",
		r.Path, r.Cut, r.Offset, r.After)
}

// backupReport is what hot-backup --json prints (on stderr).
type backupReport struct {
	head
	DB             string     `json:"db"`
	File           string     `json:"file,omitempty"` // "-": stdout
	Repo           string     `json:"repo,omitempty"`
	Object         string     `json:"object,omitempty"`
	Level          *int       `json:"level,omitempty"`
	Expires        *time.Time `json:"expires,omitempty"`
	FirstLSN       uint64     `json:"first_lsn"`
	LastLSN        uint64     `json:"last_lsn"`
	EndLSN         uint64     `json:"end_lsn"`
	Frames         uint64     `json:"frames"`
	Bytes          int64      `json:"bytes"`
	Seconds        float64    `json:"seconds"`
	BytesPerSecond float64    `json:"bytes_per_second"`
	LastCommit     *time.Time `json:"last_commit,omitempty"`
	Complete       bool       `json:"complete"`
	UpToDate       bool       `json:"up_to_date"`
}

func backupJSONOf(db, file string, res backup.Result, d time.Duration) *backupReport {
	if file == "" {
		file = "-"
	}
	return &backupReport{DB: db, File: file, FirstLSN: res.First, LastLSN: res.Last, EndLSN: res.End, Frames: res.Frames,
		Bytes: res.Bytes, Seconds: d.Seconds(), BytesPerSecond: perSecond(float64(res.Bytes), d),
		LastCommit: jsonNanos(res.LastTime), Complete: res.Ended, UpToDate: res.UpToDate}
}

// backupDone reports a successful backup.
func (e *env) backupDone(db, file string, res backup.Result, prog *progress) {
	switch {
	case res.UpToDate:
		e.notef("hot-backup %s: %s is up to date at LSN %d; nothing to append", db, file, res.Last)
	case res.Frames == 0:
		e.notef("hot-backup %s: no frames (a segment at LSN %d)", db, res.Last)
	default:
		e.notef("hot-backup %s: LSN %d..%d, %s%s", db, res.First, res.Last, prog.summary(), prog.recoveryPoint())
	}
}

// backupError words the backup library's errors as the CLI says them:
// naming flags and the command that resumes a file. A reader of stdout
// that went away ends the command quietly (errBrokenPipe).
func backupError(err error, db, file string) error {
	var locked *backup.FileLockedError
	var rng *backup.RangeError
	var fe *backup.FileError
	resume := fmt.Sprintf("hotpipe hot-backup %s -o %s --append", db, file)
	if ee := encryptedBackupError(err, db, file); ee != nil {
		return ee
	}
	switch {
	case errors.Is(err, backup.ErrConsumerGone):
		return errBrokenPipe
	case errors.Is(err, backup.ErrOptions): // options come from flags
		return usagef("hot-backup: %v", err)
	case errors.As(err, &locked):
		return reword(err, "%s: backup file is locked by another hot-backup (%s); the file is untouched", locked.Path, locked.Holder)
	case errors.As(err, &rng) && rng.End > rng.Last:
		return reword(err, "%s: --end-lsn %d is past the last durable LSN %d", rng.DB, rng.End, rng.Last)
	case errors.As(err, &rng):
		return reword(err, "%s: --start-lsn %d is past the end of the backup (LSN %d)", rng.DB, rng.Start, rng.End)
	case file != "" && errors.Is(err, fs.ErrExist):
		return reword(err, "%s already exists: hot-backup -o creates a new file (use --append to add to it)", file)
	case errors.As(err, &fe) && fe.State == backup.CutBack:
		return fmt.Errorf("%w; resume with: %s", err, resume)
	case errors.As(err, &fe) && fe.State == backup.Incomplete && errors.Is(err, context.Canceled):
		return fmt.Errorf("%w; resume it with: %s", err, resume)
	}
	return err
}

// reworded is an error as the CLI words it; it keeps the error's chain,
// for exitCode.
type reworded struct {
	msg string
	err error
}

func (r *reworded) Error() string { return r.msg }
func (r *reworded) Unwrap() error { return r.err }

func reword(err error, format string, args ...any) error {
	return &reworded{msg: fmt.Sprintf(format, args...), err: err}
}
