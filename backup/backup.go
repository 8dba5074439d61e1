package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"syscall"
	"time"

	"filippo.io/age"

	"github.com/hotpipe/hotpipe/engine"
	"github.com/hotpipe/hotpipe/stream"
	"github.com/hotpipe/hotpipe/txframe"
)

// Options choose what a backup copies and how. The zero value backs up
// every durable frame, once, as fast as the output takes it.
type Options struct {
	// Start is the first LSN to copy; 0 and 1 both mean the first there
	// is. Append starts where its file ends, and takes only 0 or 1.
	Start uint64
	// End is the last LSN to copy; 0 means the last durable LSN when the
	// backup starts. Follow takes only 0.
	End uint64
	// Follow keeps copying commits as they become durable until ctx is
	// done; then the end record is written and the backup returns nil.
	Follow bool
	// MaxRate paces the output to at most this many bytes per second, so
	// that a backup of a busy database leaves disk and CPU to its writers;
	// 0 is unlimited.
	MaxRate float64
	// SyncEvery is about how often a following backup into a file fsyncs
	// it, between blocks: what a crash may lose of it. 0 means a second.
	SyncEvery time.Duration
	// Heartbeat is called about every 250 ms while a following backup has
	// nothing to send; an error ends the backup with it. An idle backup
	// writes nothing that could fail, so nil means, for Backup into an
	// *os.File, a check that the reader of the pipe or socket is still
	// there (ErrConsumerGone when it is not), and nothing otherwise.
	Heartbeat func() error
	// Progress, if set, is called after each block of frames is written.
	Progress func(Progress)
	// Repaired, if set, is called when Append has cut a torn tail off its
	// file, before it copies anything, so that the operator hears of it
	// when it happens; Result.Repaired records it too.
	Repaired func(Repair)
	// Recipients, when set, encrypt the output with age to each of them
	// (stream.ParseRecipients reads them): the stream's bytes unchanged
	// inside, the last chunk sealed after the end record, so that a
	// backup stopped early reads as truncated. Append and Follow refuse
	// them (ErrEncrypted says why).
	Recipients []age.Recipient

	// file turns an opened backup file into what File and Append write
	// through: tests fail its writes and fsyncs with it. nil is the file.
	file func(*os.File) syncWriter
	// plain turns the zero-copy paths off, and spliced is told of each
	// block moved by splice: tests compare the paths with them.
	plain   bool
	spliced func(n int)
	// spliceWrap, if set, wraps the splice call (tests fail it).
	spliceWrap func(splice func(src *os.File, off int64, n int) (int, error)) func(src *os.File, off int64, n int) (int, error)
}

// Progress is how far a backup has come, passed to Options.Progress after
// each block of frames.
type Progress struct {
	First, End uint64 // as in Result
	Last       uint64 // the last LSN written
	LastTime   int64  // its commit time, unix ns
	Frames     uint64 // frames written so far by this run
	Bytes      int64  // their bytes
}

// Result says what a backup did. It is returned also on error, saying how
// far the backup got.
type Result struct {
	// First is the first LSN this run was to copy: Options.Start, or the
	// LSN after the last one Append found in its file.
	First uint64
	// End is the last LSN it was to copy: Options.End, or the last durable
	// LSN when it started; while following, the last durable LSN it saw.
	End uint64
	// Last is the last LSN written whole to the output (First-1 when none
	// was), and LastTime its commit time (0 when this run wrote none).
	Last     uint64
	LastTime int64
	// Frames and Bytes count the frames this run wrote whole.
	Frames uint64
	Bytes  int64
	// Ended: the segment's end record was handed to the writer (sealed
	// in the last age chunk when encrypted; by File and Append, fsynced): a writer that buffers must still be
	// flushed before its reader sees a complete stream.
	Ended bool
	// UpToDate: Append found its file complete through End, and wrote
	// nothing.
	UpToDate bool
	// Repaired says how Append cut a torn tail off its file, if it did.
	Repaired *Repair
}

// Repair is a torn tail Append cut off its file: what an interrupted
// backup left after the last whole frame or record.
type Repair struct {
	Path   string
	Offset int64  // where the file was cut: its length after the repair
	Cut    int64  // bytes removed
	After  uint64 // the last LSN kept; when Offset is 0, the start of a header was removed
}

// idleWait is how long a following backup waits for a commit before it
// calls the heartbeat.
const idleWait = 250 * time.Millisecond

// Backup writes frames opts.Start..opts.End of db to w as one stream
// segment: header, frames, end record. Each frame's CRC is checked as it
// is copied. A pipe w gets a 1 MiB buffer where the system allows, so that
// each block reaches its reader in one step. After a failed write nothing more is written, so no end
// record follows it; a write that failed because the reader went away
// wraps ErrConsumerGone.
func Backup(ctx context.Context, db *engine.DB, w io.Writer, opts Options) (Result, error) {
	j, err := newJob(ctx, db, opts)
	if err != nil {
		return j.res, err
	}
	j.out = w
	if err := j.encrypt(); err != nil {
		return j.res, err
	}
	j.zeroCopy(w)
	if j.opts.Heartbeat == nil {
		j.opts.Heartbeat = pipeHeartbeat(w)
	}
	if f, ok := w.(*os.File); ok {
		widenPipe(f)
	}
	if err := j.begin(); err != nil {
		return j.res, err
	}
	err = j.finishZeroCopy(j.run())
	return j.res, err
}

// syncWriter is what a backup file is written through.
type syncWriter interface {
	io.Writer
	Sync() error
}

// job is one backup run.
type job struct {
	ctx    context.Context
	db     *engine.DB // nil when the frames come from a Source
	name   string     // the database, for messages
	opts   Options
	origin txframe.Origin
	out    io.Writer      // the output, before pacing
	file   *outFile       // File and Append: the output; nil for Backup
	enc    io.WriteCloser // the age writer out is, when encrypting
	zc     offerer        // told where each frame block lies, when it can send it from there
	before Result         // the Result before the block last written (zerocopy.go: sent)
	w      *stream.Writer
	pos    engine.Position // where the last copy stopped
	res    Result
}

// newJob checks opts and fixes the LSN range: the end is the last durable
// LSN now. A plain backup whose ctx is already done goes no further.
func newJob(ctx context.Context, db *engine.DB, opts Options) (*job, error) {
	j, err := newRun(ctx, db.Name(), opts)
	if err != nil {
		return j, err
	}
	j.db = db
	switch {
	case opts.Follow && opts.End != 0:
		return j, fmt.Errorf("%w: a following backup has no End", ErrOptions)
	case opts.MaxRate < 0 || opts.MaxRate > 0 && opts.MaxRate < 1 || math.IsNaN(opts.MaxRate):
		return j, fmt.Errorf("%w: MaxRate %v: 0 (unlimited) or at least 1 byte per second", ErrOptions, opts.MaxRate)
	}
	last, _, err := db.State()
	if err != nil {
		return j, err
	}
	meta, err := db.Meta()
	if err != nil {
		return j, err
	}
	j.origin, j.res.End = meta.Origin, opts.End
	if j.res.End == 0 {
		j.res.End = last
	}
	if j.res.End > last || j.res.First > j.res.End+1 {
		return j, &RangeError{DB: db.Name(), Start: j.res.First, End: j.res.End, Last: last}
	}
	if !opts.Follow {
		return j, j.stopped()
	}
	return j, nil
}

// newRun starts the Result of a run from opts.Start and checks the
// options every run takes.
func newRun(ctx context.Context, name string, opts Options) (*job, error) {
	j := &job{ctx: ctx, name: name, opts: opts}
	j.res.First = max(opts.Start, 1)
	j.res.Last = j.res.First - 1
	if j.opts.SyncEvery == 0 {
		j.opts.SyncEvery = time.Second
	}
	if opts.SyncEvery < 0 {
		return j, fmt.Errorf("%w: SyncEvery %v is negative", ErrOptions, opts.SyncEvery)
	}
	return j, checkRecipients(opts)
}

// begin writes a new segment header based at the LSN before First.
func (j *job) begin() error {
	base, err := j.db.HashAt(j.res.First - 1)
	if err != nil {
		return err
	}
	h := stream.Header{Origin: j.origin, Name: j.db.Name(), Created: time.Now().UTC(), Base: j.res.First - 1, BaseHash: base}
	j.w, err = stream.NewWriter(j.sink(), h)
	return j.writeErr(err)
}

// sink is where the stream goes: the output, paced when MaxRate is set.
func (j *job) sink() io.Writer {
	if j.opts.MaxRate == 0 {
		return j.out
	}
	return &throttled{w: j.out, ctx: j.ctx, rate: j.opts.MaxRate}
}

// run copies the frames, follows when asked, and writes the end record.
func (j *job) run() error {
	err := j.copy(j.res.End)
	if err == nil && j.opts.Follow {
		err = j.followOn()
	}
	if j.opts.Follow && j.ctx.Err() != nil && errors.Is(err, j.ctx.Err()) {
		err = nil // following ends with the end record
	}
	if err != nil {
		return err
	}
	if err := j.w.Close(); err != nil {
		return j.writeErr(err)
	}
	if err := j.seal(); err != nil {
		return err
	}
	j.res.Ended = true
	return nil
}

// followOn streams each new durable commit until ctx is done. While idle
// it calls the heartbeat; a file is fsynced every SyncEvery, and a failed
// fsync stops the backup.
func (j *job) followOn() error {
	synced := time.Now()
	for {
		last, err := j.db.WaitDurable(j.ctx, j.res.End, idleWait)
		if err != nil {
			return err
		}
		if err := j.stopped(); err != nil {
			return err
		}
		if last > j.res.End {
			j.res.End = last
			if err := j.copy(last); err != nil {
				return err
			}
		} else if j.opts.Heartbeat != nil {
			if err := j.opts.Heartbeat(); err != nil {
				return fmt.Errorf("backup of %s, following after LSN %d: %w", j.name, j.res.Last, err)
			}
		}
		if j.file != nil && time.Since(synced) >= j.opts.SyncEvery {
			if err := j.file.sync(j.res.Last); err != nil {
				return err
			}
			synced = time.Now()
		}
	}
}

// copy streams the frames after those written so far, through LSN end, in
// blocks, stopping between blocks (at a frame boundary) when ctx is done.
func (j *job) copy(end uint64) error {
	if err := j.stopped(); err != nil {
		return err
	}
	next := j.res.Last + 1
	if next > end {
		return nil
	}
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
		block, err := r.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		j.offer(r, block)
		before := j.res
		if err := j.w.WriteFrames(block); err != nil {
			return j.writeErr(err)
		}
		j.wrote(len(block))
		j.sent(before)
		if err := j.stopped(); err != nil {
			return err
		}
	}
}

// wrote counts a block of n bytes just written, and reports progress.
func (j *job) wrote(n int) {
	end := j.w.End()
	j.res.Frames += end.Last - j.res.Last
	j.res.Bytes += int64(n)
	j.res.Last, j.res.LastTime = end.Last, j.w.LastTime()
	if j.opts.Progress != nil {
		j.opts.Progress(Progress{First: j.res.First, End: j.res.End, Last: j.res.Last, LastTime: j.res.LastTime,
			Frames: j.res.Frames, Bytes: j.res.Bytes})
	}
}

// stopped returns why the backup must stop, once ctx is done.
func (j *job) stopped() error {
	if err := stream.Stopped(j.ctx); err != nil {
		return fmt.Errorf("backup of %s stopped after LSN %d: %w", j.name, j.res.Last, err)
	}
	return nil
}

// writeErr says where a write of the stream failed; a broken pipe is also
// ErrConsumerGone.
func (j *job) writeErr(err error) error {
	j.unsent(err)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, syscall.EPIPE):
		return fmt.Errorf("backup of %s after LSN %d: %w (%w)", j.name, j.res.Last, ErrConsumerGone, err)
	}
	return fmt.Errorf("backup of %s: write after LSN %d: %w", j.name, j.res.Last, err)
}

// pipeHeartbeat is the default heartbeat of a backup into w: for a pipe or
// socket, a check that its reader is still there.
func pipeHeartbeat(w io.Writer) func() error {
	f, ok := w.(*os.File)
	if !ok {
		return nil
	}
	return func() error {
		if readerGone(f) {
			return ErrConsumerGone
		}
		return nil
	}
}
