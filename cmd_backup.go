package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/hotpipe/hotpipe/engine"
	"github.com/hotpipe/hotpipe/stream"
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

--max-rate RATE paces the output to at most RATE bytes per second (50M,
1.5G, 800k: powers of 1024), so that a backup of a busy server leaves disk
and CPU to its writers: a backup read flat out from the page cache takes a
core (measured: a writer on two cores commits ~30% slower beside one, as
beside cat of the same files).

SIGINT or SIGTERM stops the backup at a frame boundary without an end record
(exit 130): the output is visibly truncated, and --append resumes a file.

--follow keeps streaming commits as they become durable, within milliseconds,
until SIGINT or SIGTERM; then it writes the end record and exits 0. With
-o FILE it fsyncs FILE at least once a second. A live standby, started
(foo2 absent or empty) and restarted after either side dies (from the
standby's last LSN, one frame of overlap) by the same command:
   hotpipe hot-backup foo --follow --start-lsn "$(hotpipe db hash foo2 2>/dev/null | cut -d' ' -f1)" \
     | hotpipe hot-restore foo2 --append --force-replica
--start-lsn takes 0 (what db hash says of an empty database) and the empty
string (what that says of an absent one) as the first LSN there is.

Examples:
   hotpipe hot-backup foo | bzip2 > foo.bz2
   hotpipe hot-backup foo -o foo.backup --max-rate 100M
   hotpipe hot-backup foo -o foo.backup --append
   hotpipe hot-backup foo --start-lsn 123 | xz > inc.xz
   hotpipe hot-backup foo | hotpipe hot-restore bar`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "write to `FILE` instead of stdout"},
			&cli.BoolFlag{Name: "append", Usage: "append what FILE lacks to FILE (needs -o)"},
			&cli.GenericFlag{Name: "start-lsn", Aliases: []string{"start-tx"}, Value: &startLSN{n: 1},
				Usage: "first LSN to back up (inclusive); 0 or empty: the first there is"},
			&cli.Uint64Flag{Name: "end-lsn", Usage: "last LSN to back up (default: the last durable LSN at start)"},
			&cli.BoolFlag{Name: "follow", Usage: "keep streaming new commits as they become durable, until SIGINT or SIGTERM"},
			&cli.StringFlag{Name: "max-rate", Usage: "write at most `RATE` bytes per second (50M, 1.5G, 800k; default: unlimited)"},
		},
		Action: e.hotBackup,
	}
}

// backupJob is one hot-backup run.
type backupJob struct {
	db         *engine.DB
	meta       engine.Meta
	start, end uint64
	follow     bool
	pos        engine.Position // where the last copy stopped
	out        io.Writer       // stdout, or file
	file       *outFile        // -o FILE, or nil for stdout
	rate       float64         // --max-rate in bytes per second; 0 is unlimited
	ctx        context.Context // cancelled by SIGINT or SIGTERM
	w          *stream.Writer
	prog       *progress
}

func (e *env) hotBackup(c *cli.Context) error {
	if err := args(c, 1, 1); err != nil {
		return err
	}
	file, appendMode := c.String("output"), c.Bool("append")
	switch {
	case appendMode && file == "":
		return usagef("hot-backup: --append needs -o FILE")
	case appendMode && c.IsSet("start-lsn"):
		return usagef("hot-backup: --append starts where FILE ends; it cannot take --start-lsn")
	case file == "" && isTerminal(e.stdout):
		return usagef("hot-backup: refusing to write a binary stream to a terminal; use -o FILE or a pipe")
	case file != "" && isTerminalPath(file):
		return usagef("hot-backup: -o %s is a terminal: refusing to write a binary stream to it; use a file or a pipe", file)
	case c.Bool("follow") && c.IsSet("end-lsn"):
		return usagef("hot-backup: --follow streams until interrupted; it cannot take --end-lsn")
	}
	db, err := e.open(c.Args().First(), true)
	if err != nil {
		return err
	}
	defer db.Close()
	job := &backupJob{db: db, follow: c.Bool("follow"), ctx: c.Context}
	if r := c.String("max-rate"); r != "" {
		if job.rate, err = parseRate(r); err != nil {
			return usagef("hot-backup: --max-rate: %v", err)
		}
	}
	if err := job.bounds(c.Generic("start-lsn").(*startLSN).n, c.Uint64("end-lsn")); err != nil {
		return err
	}
	switch {
	case appendMode:
		return e.backupAppend(job, file)
	case file != "":
		return e.backupToFile(job, file)
	}
	job.out = e.stdout
	widenPipe(e.stdout)
	if err := job.begin(); err != nil {
		return err
	}
	return e.backupRun(job)
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

// bounds fixes the LSN range: the end is the last durable LSN now.
func (j *backupJob) bounds(start, end uint64) error {
	last, _, err := j.db.State()
	if err != nil {
		return err
	}
	if j.meta, err = j.db.Meta(); err != nil {
		return err
	}
	if end == 0 {
		end = last
	}
	switch {
	case end > last:
		return fmt.Errorf("%s: --end-lsn %d is past the last durable LSN %d", j.db.Name(), end, last)
	case start > end+1:
		return fmt.Errorf("%s: --start-lsn %d is past the end of the backup (LSN %d)", j.db.Name(), start, end)
	}
	j.start, j.end = start, end
	return nil
}

// begin writes a new segment header based at start-1.
func (j *backupJob) begin() error {
	base, err := j.db.HashAt(j.start - 1)
	if err != nil {
		return err
	}
	h := stream.Header{Origin: j.meta.Origin, Name: j.db.Name(), Created: now(), Base: j.start - 1, BaseHash: base}
	j.w, err = stream.NewWriter(j.sink(), h)
	return writeErr(err)
}

// sink is where the stream goes: the output, paced when --max-rate is set.
func (j *backupJob) sink() io.Writer {
	if j.rate == 0 {
		return j.out
	}
	return &throttled{w: j.out, ctx: j.ctx, rate: j.rate}
}

// backupToFile creates FILE, locked before anything is written to it, and
// backs up into it.
func (e *env) backupToFile(j *backupJob, file string) (err error) {
	o, err := createOut(file)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, o.close()) }()
	j.out, j.file = o, o
	if err := syncParent(file); err != nil { // the new name survives a crash too
		return err
	}
	if err := j.begin(); err != nil {
		return j.settle(err)
	}
	return e.backupRun(j)
}

// syncParent fsyncs the directory holding path, so that a file just created
// there is durable by name.
func syncParent(path string) error {
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	err = d.Sync()
	return errors.Join(err, d.Close())
}

// backupRun copies the frames, writes the end record and reports. A file
// is settled (fsynced, or taken back after a fault) before success is
// reported.
func (e *env) backupRun(j *backupJob) error {
	if j.follow { // no end to reach; report the lag behind the source
		j.prog = e.newProgress("hot-backup "+j.db.Name()+" (following)", j.start, 0)
		j.prog.source = func() uint64 { lsn, _, _ := j.db.State(); return lsn }
	} else {
		j.prog = e.newProgress("hot-backup "+j.db.Name(), j.start, j.end)
	}
	err := j.copy(j.end)
	if j.follow && err == nil {
		err = j.followOn()
	}
	if j.follow && errors.Is(err, context.Canceled) {
		err = nil // following ends with the end record
	}
	if err == nil {
		err = writeErr(j.w.Close())
	}
	if j.file != nil {
		err = j.settle(err)
	}
	j.prog.finish()
	if err != nil {
		return err
	}
	if j.prog.frames == 0 {
		e.notef("hot-backup %s: no frames (a segment at LSN %d)", j.db.Name(), j.w.End().Last)
		return nil
	}
	e.notef("hot-backup %s: LSN %d..%d, %s%s", j.db.Name(), j.start, j.w.End().Last, j.prog.summary(), j.prog.recoveryPoint())
	return nil
}

// settle ends a backup into FILE, successful or not. FILE is fsynced, also
// when the backup stopped early, so that --append finds whole frames. After
// a failed write or fsync it is taken back instead, so that it never looks
// more complete than it durably is.
func (j *backupJob) settle(err error) error {
	last := j.start - 1
	if j.w != nil {
		last = j.w.End().Last
	}
	if j.file.fault == nil {
		err = errors.Join(err, j.file.sync(last))
	}
	if j.file.fault != nil {
		return fmt.Errorf("%w\n%s", err, j.file.takeBack(j.db.Name()))
	}
	if err == nil {
		return nil
	}
	err = fmt.Errorf("%w\n%s is incomplete (no end record after LSN %d)", err, j.file.path, last)
	if errors.Is(err, context.Canceled) {
		err = fmt.Errorf("%w; resume it with: hotpipe hot-backup %s -o %s --append", err, j.db.Name(), j.file.path)
	}
	return err
}

// followSyncEvery is how often --follow -o fsyncs FILE (a variable so that
// tests need not wait seconds for a periodic fsync to fail).
var followSyncEvery = time.Second

// followOn streams each new durable commit after the initial range until
// interrupted. A file is fsynced every followSyncEvery; a failed fsync
// stops the backup.
func (j *backupJob) followOn() error {
	synced := time.Now()
	for {
		last, err := j.db.WaitDurable(j.ctx, j.end, 250*time.Millisecond)
		if err != nil {
			return err
		}
		if err := interrupted(j.ctx); err != nil {
			return err
		}
		if last > j.end {
			if err := j.copy(last); err != nil {
				return err
			}
			j.end = last
		} else if j.file == nil && readerGone(j.out) {
			return errBrokenPipe
		}
		if j.file != nil && time.Since(synced) >= followSyncEvery {
			if err := j.file.sync(j.end); err != nil {
				return err
			}
			synced = time.Now()
		}
	}
}

// copy streams the frames after those written so far, through LSN end, in
// blocks, stopping between blocks (at a frame boundary) when interrupted.
func (j *backupJob) copy(end uint64) error {
	next := j.w.End().Last + 1
	var r *engine.FrameReader
	var err error
	if j.pos.LSN() == next {
		r, err = j.db.FramesFrom(j.pos, end) // no segment scan: O(new frames)
	} else {
		r, err = j.db.Frames(next, end)
	}
	if err != nil {
		return err
	}
	defer func() { j.pos = r.Stop(); r.Close() }()
	for {
		if err := interrupted(j.ctx); err != nil {
			return err
		}
		block, err := r.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		before := j.w.End()
		if err := j.w.WriteFrames(block); err != nil {
			return writeErr(err)
		}
		after := j.w.End()
		j.prog.add(after.Frames-before.Frames, len(block), after.Last, j.w.LastTime())
	}
}
