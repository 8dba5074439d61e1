package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/hotpipe/hotpipe/engine"
	"github.com/hotpipe/hotpipe/replica"
	"github.com/hotpipe/hotpipe/stream"
	"github.com/hotpipe/hotpipe/txframe"
)

func restoreCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "hot-restore",
		Usage:     "apply a backup stream to a database, verifying every frame",
		ArgsUsage: "DB",
		Description: `Reads a stream from stdin, or from the -i files in order (xz, gzip and bzip2
are detected and decompressed), and applies its frames to DB. Every frame's
chained hash h(n) is recomputed as it is read, from the database's own last
hash, before the frame is committed; the first mismatch stops the restore,
naming the LSN.

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
  --append, stream starts    refused unless --force; with --force the
  right after DB's last LSN  stream's base hash is still compared
  --append, stream ends at   hashes compared at the stream's last LSN; equal:
  or before DB's last LSN    "already up to date", exit 0

--target-lsn N stops after LSN N; --target-time T stops after the last frame
committed at or before T (RFC 3339), and "latest" restores the whole stream.
The summary says where the restore stopped and which frame came next. A
target before the stream's first frame is refused; a stream that ends
before the target is an error (the database keeps what was restored, and
more can be appended), except with --target-time latest.

--verify checks the input only and writes nothing (DB may be omitted).

Examples:
   bunzip2 -c foo.bz2 | hotpipe hot-restore bar
   hotpipe hot-restore bar -i inc.xz --append --force-replica
   hotpipe hot-backup foo | hotpipe hot-restore bar
   hotpipe hot-restore bar -i full.backup -i inc1.backup -i inc2.backup
   hotpipe hot-restore bar -i foo.backup --target-time 2026-11-20T14:30:00Z
   hotpipe hot-restore -i foo.backup --verify`,
		Flags: []cli.Flag{
			&cli.StringSliceFlag{Name: "input", Aliases: []string{"i"}, Usage: "read `FILE` (repeatable, in order; - is stdin)"},
			&cli.BoolFlag{Name: "append", Usage: "restore into a database that has data"},
			&cli.BoolFlag{Name: "force", Usage: "apply a stream that starts right after the database's last LSN"},
			&cli.BoolFlag{Name: "force-replica", Usage: "switch a non-replica database to replica mode for the restore"},
			&cli.BoolFlag{Name: "verify", Aliases: []string{"verify-only"}, Usage: "check the input only; write nothing"},
			&cli.Uint64Flag{Name: "target-lsn", Usage: "stop after LSN `N` (point-in-time restore)"},
			&cli.StringFlag{Name: "target-time", Usage: "stop after the last frame committed at or before `T` (RFC 3339, or \"latest\")"},
		},
		Action: e.hotRestore,
	}
}

// restoreJob is one hot-restore run.
type restoreJob struct {
	env      *env
	name     string
	flags    replica.Flags
	target   target
	r        *stream.Reader
	header   stream.Header // the stream's first
	db       *engine.DB
	origin   engine.Origin
	plan     replica.Plan
	switched bool // replica mode switched on by this restore (--force-replica)
	apply    *applier
	first    uint64 // first LSN applied
	stopped  *stopPoint
	wasAhead bool // the database was at or past the stream's end
	prog     *progress
}

func (e *env) hotRestore(c *cli.Context) error {
	tgt, err := parseTarget(c) // a bad target is refused before any input is opened
	if err != nil {
		return err
	}
	inputs, closeInputs, err := e.openInputs(c.Context, c.StringSlice("input"))
	if err != nil {
		return err
	}
	defer closeInputs()
	if c.Bool("verify") {
		if err := args(c, 0, 1); err != nil {
			return err
		}
		return e.verifyInputs(c.Context, inputs, false)
	}
	if err := args(c, 1, 1); err != nil {
		return err
	}
	if err := engine.ValidateName(c.Args().First()); err != nil {
		return err
	}
	j := &restoreJob{env: e, name: c.Args().First(), r: stream.NewReader(inputs, stream.Options{}), target: tgt,
		flags: replica.Flags{Append: c.Bool("append"), Force: c.Bool("force"), ForceReplica: c.Bool("force-replica")}}
	err = j.run(c)
	if j.db != nil {
		err = errors.Join(err, j.finish(err), j.db.Close())
	}
	return err
}

// run reads the first header, prepares the target and applies the stream.
func (j *restoreJob) run(c *cli.Context) error {
	ev, err := j.r.Next()
	if err != nil {
		return err
	}
	if err := j.prepare(ev.Header); err != nil {
		return err
	}
	j.prog = j.env.newProgress("hot-restore "+j.name, 0, j.expectedEnd(c))
	err = j.stream(c)
	if j.apply != nil {
		if cerr := j.apply.close(); !errors.Is(err, cerr) { // the applier's error, once
			err = errors.Join(err, cerr)
		}
	}
	if err != nil {
		return err
	}
	return j.checkEnd()
}

// expectedEnd is the LSN the restore should reach, for progress: the target
// LSN, else the last LSN of the last -i file when it is an uncompressed
// file ending in an end record (found in O(1)); 0 when unknown.
func (j *restoreJob) expectedEnd(c *cli.Context) uint64 {
	files := c.StringSlice("input")
	if j.target.lsn > 0 || len(files) == 0 {
		return j.target.lsn
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

// stream feeds the stream's new frames to the applier until the stream or
// the target ends.
func (j *restoreJob) stream(c *cli.Context) error {
	for j.stopped == nil {
		if err := interrupted(c.Context); err != nil {
			return err
		}
		ev, err := j.r.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			if ierr := interrupted(c.Context); ierr != nil {
				err = ierr // reading stopped because of the signal, not the input
			}
			return err
		}
		if ev.Kind == stream.KindFrames {
			if err := j.frames(ev); err != nil {
				return err
			}
		}
	}
	j.stopped.findNext(j.r)
	return nil
}

// prepare decides, from the first header, how the stream joins the target.
func (j *restoreJob) prepare(h stream.Header) error {
	j.header = h
	t, err := j.describeTarget()
	if err != nil {
		return err
	}
	s := replica.Stream{Origin: engine.Origin(h.Origin), Base: h.Base, BaseHash: h.BaseHash}
	if j.plan, err = replica.Decide(t, s, j.flags); err != nil {
		return err
	}
	j.origin = s.Origin
	if err := j.target.notBehind(j, t); err != nil {
		return err
	}
	// An absent database (j.db nil) is created when the first frames pass
	// the target checks.
	if j.plan.Full && t.Exists {
		if err := j.db.BeginRestore(s.Origin); err != nil {
			return err
		}
	}
	if !j.plan.Full && h.Base == j.plan.Skip {
		return j.compareAt(h.Base, h.BaseHash)
	}
	return nil
}

// describeTarget opens the database for write, if it exists, and describes it.
func (j *restoreJob) describeTarget() (replica.Target, error) {
	t := replica.Target{Name: j.name}
	db, err := j.env.open(j.name, false)
	if errors.Is(err, engine.ErrNotFound) {
		return t, nil
	}
	if err != nil {
		return t, err
	}
	j.db = db
	m, err := db.Meta()
	if err != nil {
		return t, err
	}
	last, _, err := db.State()
	t.Exists, t.Last, t.Replica, t.Origin = true, last, m.Replica, m.Origin
	return t, err
}

// open creates the target of a full restore, if needed, and starts applying.
func (j *restoreJob) open() error {
	if j.apply != nil {
		return nil
	}
	if err := j.plan.CheckApply(j.name); err != nil {
		return err
	}
	if j.plan.SwitchOn {
		if err := j.db.MarkRestoring(); err != nil {
			return err
		}
		j.switched = true
	}
	if j.db == nil {
		if err := j.create(); err != nil {
			return err
		}
	}
	j.apply = startApplier(j.db)
	return nil
}

// errReplanned means the target turned out to exist with data when a full
// restore went to create it: the frames at hand are to be taken again,
// under the new plan.
var errReplanned = errors.New("restore planned again")

// beforeCreate, when set, runs just before a full restore creates its
// database: tests play there the restore that wins the race to create it.
var beforeCreate func()

// create makes the database of a full restore. Another restore may have
// created it since describeTarget found it absent; then the target is
// described and planned again, so this restore meets what it would have met
// arriving later: the winner's lock (exit 5), its data (refused without
// --append, joined with it: errReplanned), or an empty database to fill.
func (j *restoreJob) create() error {
	if beforeCreate != nil {
		beforeCreate()
	}
	_, err := engine.Create(j.env.dataDir, j.name, engine.CreateOptions{Origin: j.origin, Restoring: true})
	if errors.Is(err, engine.ErrExists) {
		return j.replan(err)
	}
	if err != nil {
		return err
	}
	j.db, err = j.env.open(j.name, false)
	return err
}

// replan prepares the restore again for a target created under it.
func (j *restoreJob) replan(exists error) error {
	if err := j.prepare(j.header); err != nil {
		return err
	}
	if j.db == nil { // there, yet not a database that opens: say so
		return exists
	}
	if !j.plan.Full {
		return errReplanned
	}
	return nil
}

func (j *restoreJob) compareAt(lsn uint64, h txframe.Hash) error {
	mine, err := j.db.HashAt(lsn)
	if err != nil {
		return err
	}
	return replica.CheckJoin(j.name, lsn, h, mine)
}

// frames queues a block's new frames up to the target, after comparing the
// frame at the database's last LSN when the block covers it.
func (j *restoreJob) frames(ev *stream.Event) error {
	block, first, prev := ev.Frames, ev.First, ev.Prev
	if !j.plan.Full && first <= j.plan.Skip {
		skipped, h := skipFrames(block, min(ev.Last, j.plan.Skip)-first+1)
		if ev.Last >= j.plan.Skip {
			if err := j.compareAt(j.plan.Skip, h); err != nil {
				return err
			}
		}
		block, first, prev = block[skipped:], j.plan.Skip+1, h
	}
	if len(block) == 0 {
		return nil
	}
	block, stop, err := j.target.cut(block, ev.Last, ev.LastTime)
	if err != nil {
		return err
	}
	j.stopped = stop
	if len(block) == 0 {
		return nil
	}
	if err := j.open(); err != nil {
		if errors.Is(err, errReplanned) {
			return j.frames(ev) // once: the database is open now
		}
		return err
	}
	last, lastTime := ev.Last, ev.LastTime
	if stop != nil {
		last, lastTime = stop.last, stop.lastAt
	}
	if j.first == 0 {
		j.first = first
	}
	j.prog.add(last-first+1, len(block), last, lastTime)
	return j.apply.add(prev, block)
}

// checkEnd handles the end of the stream: a target not reached, or a
// stream that brought nothing new and must agree with the database.
func (j *restoreJob) checkEnd() error {
	last, h := j.r.Last()
	if err := j.target.reached(j, last); err != nil {
		return err
	}
	if j.db == nil { // a stream of no frames: an empty copy
		switch err := j.open(); {
		case errors.Is(err, errReplanned): // a database with data: as below
		case err != nil:
			return err
		default:
			return j.apply.close()
		}
	}
	if j.plan.Full || last > j.plan.Skip || j.stopped != nil {
		return nil
	}
	if last < j.plan.Skip {
		if err := j.compareAt(last, h); err != nil {
			return err
		}
	}
	j.wasAhead = true
	return nil
}

// finish switches replica mode as the outcome requires and reports.
func (j *restoreJob) finish(runErr error) error {
	m, err := j.db.Meta()
	if err != nil {
		return err
	}
	// A restore that completes ends a restore in progress, unless it brought
	// nothing (the database was already at or past the stream's end): that
	// is no sign an interrupted full restore was completed. report() says
	// how to end it when that is what the user knows.
	switchOff := runErr == nil && (j.plan.Full || m.Restoring && !j.wasAhead) || j.switched
	if switchOff {
		if err := j.db.SetReplica(false); err != nil {
			return err
		}
	}
	if j.prog != nil {
		j.prog.finish()
	}
	if runErr != nil {
		how := "stopped"
		if errors.Is(runErr, context.Canceled) {
			how = "interrupted"
		}
		if last, _, err := j.db.State(); err == nil && (how == "interrupted" || j.first > 0) {
			fmt.Fprintf(j.env.stderr, "hotpipe: hot-restore %s %s: the database is at LSN %d, durable\n", j.name, how, last)
		}
		switch {
		case switchOff && j.first > 0:
			fmt.Fprintf(j.env.stderr, "hotpipe: %s is switched back off replica mode; resume with hot-restore %s --append --force-replica\n", j.name, j.name)
		case m.Restoring && !switchOff:
			fmt.Fprintf(j.env.stderr, "hotpipe: %s stays a replica with a partial restore; resume with hot-restore %s --append\n", j.name, j.name)
		}
		return nil
	}
	return j.report()
}

func (j *restoreJob) report() error {
	last, h, err := j.db.State()
	if err != nil {
		return err
	}
	if j.wasAhead {
		end, _ := j.r.Last()
		j.env.notef("hot-restore %s: already up to date (at LSN %d; the stream ends at LSN %d with the same hash)", j.name, last, end)
		if m, err := j.db.Meta(); err == nil && m.Restoring {
			j.env.notef("hot-restore %s: %s stays a replica: an interrupted restore into it has not been completed; "+
				"if it is complete (this was its whole input), end it with: hotpipe db replica %s off", j.name, j.name, j.name)
		}
		return nil
	}
	if j.first == 0 {
		j.env.notef("hot-restore %s: nothing to apply; at LSN %d, h %s", j.name, last, h)
	} else {
		j.env.notef("hot-restore %s: applied LSN %d..%d, %s; at LSN %d, h %s%s",
			j.name, j.first, last, j.prog.summary(), last, h, j.prog.recoveryPoint())
	}
	if j.stopped != nil {
		j.env.notef("%s", j.stopped.describe(j.name))
	}
	return nil
}

// skipFrames returns the byte length of the first n frames of block and the
// hash stored in the nth.
func skipFrames(block []byte, n uint64) (int, txframe.Hash) {
	p := 0
	var h txframe.Hash
	for i := uint64(0); i < n; i++ {
		l, _ := txframe.FrameLen(block[p:])
		h = txframe.StoredHash(block[p : p+l])
		p += l
	}
	return p, h
}
