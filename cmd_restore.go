package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"filippo.io/age"
	"github.com/urfave/cli/v2"

	"github.com/hotpipe/hotpipe/replica"
	"github.com/hotpipe/hotpipe/stream"
)

func restoreCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "hot-restore",
		Usage:     "apply a backup stream to a database, verifying every frame",
		ArgsUsage: "DB",
		Description: `Reads a stream from stdin, or from the -i files in order (xz, gzip, bzip2
and zstd are detected and decompressed, age is decrypted with --identity),
and applies its frames to DB. Every frame's chained hash h(n) is recomputed
as it is read, from the database's own last hash, before the frame is
committed; the first mismatch stops the restore, naming the LSN.

  DB absent or empty         full restore: DB is created as a replica, and
                             replica mode is switched off at success; if it
                             is interrupted, DB stays a replica: resume with
                             --append. The stream must start at LSN 1.
  DB has data, no --append   refused
  --append, DB not replica   refused unless --force-replica, which switches
                             replica mode on and off again after the restore
  --append, gap after DB     refused, naming the missing LSNs (exit 4)
  --append, stream covers    h at DB's last LSN compared (different: exit 4);
  DB's last LSN              frames up to it skipped, the rest applied
  --append, stream starts    the stream's base hash compared with h at DB's
  right after DB's last LSN  last LSN (different: exit 4); equal: applied.
                             --force is accepted and changes nothing
  --append, stream ends at   hashes compared at the stream's last LSN; equal:
  or before DB's last LSN    "already up to date", exit 0

--target-lsn N stops after LSN N; --target-time T stops after the last frame
committed at or before T (RFC 3339), and "latest" restores the whole stream.
The summary says where the restore stopped and which frame came next. A
target before the stream's first frame is refused; a stream that ends
before the target is an error (the database keeps what was restored, and
more can be appended), except with --target-time latest.

--if-not-exists makes a restore idempotent, for boot scripts: a DB that
has data is left untouched (exit 0, its input not even opened), one an
interrupted full restore left is resumed, an absent or empty one restored.
--if-input-exists leaves out -i files that do not exist; with none left,
nothing is restored (exit 0).

--verify checks the input only and writes nothing (DB may be omitted).

Examples:
   bunzip2 -c foo.bz2 | hotpipe hot-restore bar
   hotpipe hot-restore bar -i inc.xz --append --force-replica
   hotpipe hot-backup foo | hotpipe hot-restore bar
   hotpipe hot-restore bar -i full.backup -i inc1.backup -i inc2.backup
   hotpipe hot-restore bar -i foo.backup --target-time 2026-11-20T14:30:00Z
   hotpipe hot-restore -i foo.backup --verify
   hotpipe hot-restore bar -i foo.backup --json
   hotpipe hot-restore foo --repo s3://backups/hotpipe --target-time 2026-11-20T14:30:00Z
   hotpipe hot-restore foo2 --repo /backup/hotpipe --source foo --append --force-replica

--repo URL restores from a repository instead of a stream: the objects that
reach the target with the fewest bytes, read in order, each verified before
it is committed. With --append the plan starts after DB's last LSN, in its
history; gaps in the repository are named (exit 4).
   hotpipe hot-restore foo -i /backup/foo.backup --if-not-exists --if-input-exists   # at boot` + standbyHelp,
		Flags: append([]cli.Flag{
			&cli.StringSliceFlag{Name: "input", Aliases: []string{"i"}, Usage: "read `FILE` (repeatable, in order; - is stdin)"},
			&cli.BoolFlag{Name: "if-not-exists", Usage: "leave a database that has data untouched and exit 0 (an interrupted restore is resumed): for boot scripts"},
			&cli.BoolFlag{Name: "if-input-exists", Usage: "leave out -i files that do not exist; with none left, restore nothing and exit 0"},
			&cli.BoolFlag{Name: "append", Usage: "restore into a database that has data"},
			&cli.BoolFlag{Name: "force", Usage: "accepted for immudb compatibility; changes nothing (an increment's base hash is compared)"},
			&cli.BoolFlag{Name: "force-replica", Usage: "switch a non-replica database to replica mode for the restore"},
			&cli.BoolFlag{Name: "verify", Aliases: []string{"verify-only"}, Usage: "check the input only; write nothing"},
			&cli.Uint64Flag{Name: "target-lsn", Usage: "stop after LSN `N` (point-in-time restore)"},
			&cli.StringFlag{Name: "target-time", Usage: "stop after the last frame committed at or before `T` (RFC 3339, or \"latest\")"},
			jsonFlag(),
			repoFlag(),
			&cli.StringFlag{Name: "source", Usage: "with --repo: restore database `NAME`'s history (default: DB's name)"},
			&cli.StringFlag{Name: "origin", Usage: "with --repo: restore the history of origin `ID`, when the repository holds several of the database"},
			addrFlag(),
			identityFlag(),
		}, standbyFlags()...),
		Action: e.hotRestore,
	}
}

// hotRestore is hot-restore: flags to replica.Options, one replica.Restore,
// and the messages its Result calls for.
func (e *env) hotRestore(c *cli.Context) error {
	opts, err := restoreOptions(c) // a bad target is refused before any input is opened
	if err != nil {
		return err
	}
	if c.IsSet("from") || c.IsSet("follow") || c.IsSet("give-up-after") {
		return e.pullRestore(c, opts)
	}
	if c.String("addr") != "" {
		return e.remoteRestore(c, opts)
	}
	if c.IsSet("repo") || c.IsSet("source") || c.IsSet("origin") {
		return e.repoRestore(c, opts)
	}
	files, ids, inputs, closeInputs, err := e.restoreInputs(c, c.Args().First(), opts.IfNotExists)
	if err != nil || inputs == nil {
		return err
	}
	defer closeInputs()
	if c.Bool("verify") {
		if err := args(c, 0, 1); err != nil {
			return err
		}
		return e.verifyInputs(c.Context, inputs, files, ids, false)
	}
	if err := args(c, 1, 1); err != nil {
		return err
	}
	name := c.Args().First()
	prog := e.restoreProgress(name, expectedEnd(c.StringSlice("input"), opts.TargetLSN), &opts)
	opts.Drain = stdinDrain(inputs, e.stdin)
	res, err := replica.Restore(c.Context, e.dataDir, name, stream.NewReader(inputs, stream.Options{Identities: ids}), opts)
	if done, err := e.restoreEnded(name, res, err, opts, prog); done {
		return err
	}
	e.restored(name, res, prog)
	return nil
}

// restoreInputs opens hot-restore's inputs (the -i files, or stdin; each
// when first read with lazy) and reads its identities. With
// --if-input-exists and no file left, it says that nothing is restored
// and returns no inputs and no error.
func (e *env) restoreInputs(c *cli.Context, name string, lazy bool) (files []string, ids []age.Identity, inputs []stream.Input, closeInputs func(), err error) {
	files = c.StringSlice("input")
	if c.Bool("if-input-exists") {
		if files = e.existingFiles(files); len(files) == 0 {
			e.notef("hot-restore: no input exists; nothing restored")
			if e.asJSON {
				e.report = &restoreReport{DB: name, Skipped: true}
			}
			return nil, nil, nil, nil, nil
		}
	}
	if ids, err = identities(c); err != nil {
		return nil, nil, nil, nil, err
	}
	inputs, closeInputs, err = e.inputsOf(c.Context, files, lazy)
	return files, ids, inputs, closeInputs, err
}

// restoreReport is what hot-restore --json prints. last_lsn and hash are
// the database's as the restore left it, durable, also after an error;
// first_lsn is the first LSN applied (0: none).
type restoreReport struct {
	head
	DB             string     `json:"db"`
	FirstLSN       uint64     `json:"first_lsn"`
	LastLSN        uint64     `json:"last_lsn"`
	Hash           string     `json:"hash,omitempty"`
	Frames         uint64     `json:"frames"`
	Bytes          int64      `json:"bytes"`
	Seconds        float64    `json:"seconds"`
	BytesPerSecond float64    `json:"bytes_per_second"`
	LastCommit     *time.Time `json:"last_commit,omitempty"`
	StreamLastLSN  uint64     `json:"stream_last_lsn"`
	Full           bool       `json:"full"`
	UpToDate       bool       `json:"up_to_date"`
	Skipped        bool       `json:"skipped"`
	Replica        bool       `json:"replica"`
	Restoring      bool       `json:"restoring"`
	Stop           *stopJSON  `json:"stop,omitempty"`
}

// stopJSON is where a point-in-time restore stopped.
type stopJSON struct {
	LastLSN    uint64     `json:"last_lsn"`
	LastCommit *time.Time `json:"last_commit,omitempty"`
	NextLSN    uint64     `json:"next_lsn,omitempty"`
	NextCommit *time.Time `json:"next_commit,omitempty"`
}

func restoreJSONOf(name string, res replica.Result, d time.Duration) *restoreReport {
	r := &restoreReport{DB: name, FirstLSN: res.First, Frames: res.Frames, Bytes: res.Bytes, Seconds: d.Seconds(),
		BytesPerSecond: perSecond(float64(res.Bytes), d), StreamLastLSN: res.StreamLast,
		Full: res.Full, UpToDate: res.UpToDate, Skipped: res.Skipped}
	if st := res.State; st != nil {
		r.LastLSN, r.Hash, r.Replica, r.Restoring = st.LSN, st.Hash.String(), st.Replica, st.Restoring
		if res.Frames > 0 && res.Last <= st.LSN { // the recovery point, when durable
			r.LastCommit = jsonTime(res.LastTime)
		}
	}
	if s := res.Stop; s != nil {
		r.Stop = &stopJSON{LastLSN: s.Last, LastCommit: jsonTime(s.LastTime), NextLSN: s.Next, NextCommit: jsonTime(s.NextTime)}
	}
	return r
}

// restoreProgress makes a restore's progress display and has opts report
// to it (and engine notices to the operator).
func (e *env) restoreProgress(name string, end uint64, opts *replica.Options) *progress {
	prog := e.newProgress("hot-restore", name, 0, end)
	var seen replica.Progress
	opts.Notify = e.notify
	opts.Progress = func(p replica.Progress) {
		prog.add(p.Frames-seen.Frames, int(p.Bytes-seen.Bytes), p.Last, p.LastTime.UnixNano())
		seen = p
	}
	return prog
}

// restoreEnded handles what every restore's end has in common: the JSON
// report, a database --if-not-exists left alone, the last progress line,
// and where a failure left the database. done means the command ends
// here, with err.
func (e *env) restoreEnded(name string, res replica.Result, err error, opts replica.Options, prog *progress) (done bool, _ error) {
	if e.asJSON {
		e.report = restoreJSONOf(name, res, time.Since(prog.start))
	}
	if res.Skipped {
		e.notef("hot-restore %s: %s exists (at LSN %d); --if-not-exists leaves it untouched", name, name, res.State.LSN)
		return true, nil
	}
	if res.Started && res.State != nil {
		prog.finish()
	}
	if err != nil {
		if !e.asJSON { // the report says where the database is
			e.restoreFailed(name, res, err)
		}
		return true, restoreHint(err, opts)
	}
	return false, nil
}

// restoreHint adds to a refused restore the flag that changes the answer.
// The library's errors name no flags; the CLI's say which to pass.
func restoreHint(err error, o replica.Options) error {
	switch {
	case errors.Is(err, replica.ErrHasData):
		return fmt.Errorf("%w: restore into it with --append", err)
	case errors.Is(err, replica.ErrNotReplica):
		return fmt.Errorf("%w: --force-replica switches replica mode on for the restore (and off after it)", err)
	case errors.Is(err, replica.ErrTargetMissed) && !o.TargetTime.IsZero():
		return fmt.Errorf("%w (--target-time latest restores the whole stream)", err)
	}
	return err
}

// restoreOptions turns hot-restore's flags into replica.Options, checked
// by the library and refused as usage errors in the flags' terms.
func restoreOptions(c *cli.Context) (replica.Options, error) {
	o := replica.Options{Append: c.Bool("append"), Force: c.Bool("force"), ForceReplica: c.Bool("force-replica"),
		TargetLSN: c.Uint64("target-lsn"), IfNotExists: c.Bool("if-not-exists")}
	if c.IsSet("target-lsn") && o.TargetLSN == 0 { // 0 would mean no target
		return o, usagef("hot-restore: --target-lsn counts from 1")
	}
	tt := c.String("target-time")
	switch {
	case tt == "latest":
		o.Latest = true
	case c.IsSet("target-time"):
		at, err := time.Parse(time.RFC3339Nano, tt)
		if err != nil {
			return o, usagef("hot-restore: --target-time %q is not an RFC 3339 time (like 2026-11-20T14:30:00Z) or \"latest\"", tt)
		}
		o.TargetTime = at
	}
	switch err := o.Validate(); {
	case errors.Is(err, replica.ErrTargetConflict):
		return o, usagef("hot-restore: give --target-lsn or --target-time, not both")
	case errors.Is(err, replica.ErrTargetTime):
		return o, usagef("hot-restore: --target-time %s is outside the times commits can carry, %s to %s",
			tt, replica.MinTargetTime.Format(time.RFC3339Nano), replica.MaxTargetTime.Format(time.RFC3339Nano))
	case err != nil:
		return o, usagef("hot-restore: %v", err)
	}
	return o, nil
}

// expectedEnd is the LSN a restore should reach, for progress: the target
// LSN, else the last LSN of the last -i file when it is an uncompressed
// file ending in an end record (found in O(1)); 0 when unknown.
func expectedEnd(files []string, targetLSN uint64) uint64 {
	if targetLSN > 0 || len(files) == 0 {
		return targetLSN
	}
	f, err := os.Open(files[len(files)-1])
	if err != nil {
		return 0
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		return 0
	}
	last, _ := stream.LastLSN(f, fi.Size())
	return last
}

// restoreFailed says where a failed restore left the database, and how to
// resume it. These lines print even with -q: they go with the error.
func (e *env) restoreFailed(name string, res replica.Result, err error) {
	st := res.State
	if st == nil { // the database was never opened: nothing changed
		return
	}
	how := "stopped"
	if errors.Is(err, context.Canceled) {
		how = "interrupted"
	}
	if how == "interrupted" || res.First > 0 {
		fmt.Fprintf(e.stderr, "hotpipe: hot-restore %s %s: the database is at LSN %d, durable\n", name, how, st.LSN)
	}
	switch {
	case res.SwitchedOff && res.First > 0:
		fmt.Fprintf(e.stderr, "hotpipe: %s is switched back off replica mode; resume with hot-restore %s --append --force-replica\n", name, name)
	case st.Restoring:
		fmt.Fprintf(e.stderr, "hotpipe: %s stays a replica with a partial restore; resume with hot-restore %s --append\n", name, name)
	}
}

// restored sums up a restore that succeeded.
func (e *env) restored(name string, res replica.Result, prog *progress) {
	st := res.State
	if st == nil {
		return
	}
	switch {
	case res.UpToDate:
		e.notef("hot-restore %s: already up to date (at LSN %d; the stream ends at LSN %d with the same hash)", name, st.LSN, res.StreamLast)
		if st.Restoring {
			e.notef("hot-restore %s: %s stays a replica: an interrupted restore into it has not been completed; "+
				"if it is complete (this was its whole input), end it with: hotpipe db replica %s off", name, name, name)
		}
		return
	case res.First == 0:
		e.notef("hot-restore %s: nothing to apply; at LSN %d, h %s", name, st.LSN, st.Hash)
	default:
		e.notef("hot-restore %s: applied LSN %d..%d, %s; at LSN %d, h %s%s",
			name, res.First, st.LSN, prog.summary(), st.LSN, st.Hash, prog.recoveryPoint())
	}
	if s := res.Stop; s != nil {
		msg := fmt.Sprintf("hot-restore %s: stopped at the target after LSN %d (committed %s)", name, s.Last, commitTime(s.LastTime.UnixNano()))
		if s.Next == 0 {
			e.notef("%s; the stream has no frame after it", msg)
		} else {
			e.notef("%s; the stream's next frame is LSN %d (committed %s)", msg, s.Next, commitTime(s.NextTime.UnixNano()))
		}
	}
}
