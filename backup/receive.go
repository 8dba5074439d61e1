package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/hotpipe/hotpipe/stream"
	"github.com/hotpipe/hotpipe/txframe"
)

// Source opens a backup stream of one database made elsewhere (by a
// hotpipe server: GET /v1/databases/{db}/backup?after=N): one segment
// based at LSN after, as Backup writes it. Reading it returns io.EOF only
// at the end of a stream that ended as it should; any other error says why
// not, and a connection that broke wraps stream.ErrTruncated. What it
// copies beyond its start (an end, a rate, following) is the Source's to
// ask for; FileFrom and AppendFrom take Options.Follow as what it does.
type Source func(ctx context.Context, after uint64) (io.ReadCloser, error)

// errSecondSegment means a source sent more than the one segment asked for.
var errSecondSegment = errors.New("a second segment after the one asked for")

// FileFrom creates the backup file path from the stream src opens after
// LSN opts.Start-1, as File makes it from a database: refusing an existing
// path, locked before anything is written, fsynced before success, taken
// back after a failed write or fsync. Every frame is checked (CRC, chain,
// LSN) before it is written, and only whole frames are: a stream that
// breaks leaves a file that Append and AppendFrom resume (a *FileError,
// Incomplete, whose cause is the source's error). db names the database
// in messages. With opts.Recipients the file is encrypted as File
// encrypts it: the checked frames go through age, whose last chunk is
// sealed after the end record, so a stream that breaks leaves a file that
// reads as truncated (Incomplete, Encrypted: not resumable).
func FileFrom(ctx context.Context, db string, src Source, path string, opts Options) (res Result, err error) {
	j, err := newRun(ctx, db, opts)
	if err != nil {
		return j.res, err
	}
	in, err := src(ctx, j.res.First-1)
	if err != nil {
		return j.res, err
	}
	defer in.Close()
	rd := j.reader(in, path)
	defer rd.stop()
	h, err := j.header(rd, j.res.First-1) // a stream refused or broken makes no file
	if err != nil {
		return j.res, err
	}
	o, err := createOut(path, j.opts.file)
	if err != nil {
		return j.res, err
	}
	defer func() { err = errors.Join(err, o.close()) }()
	j.out, j.file = o, o
	if err := syncParent(path); err != nil {
		return j.res, err
	}
	err = j.encrypt()
	if err == nil {
		err = j.start(h)
	}
	if err == nil {
		err = j.receive(rd, nil)
	}
	return j.res, j.settle(err)
}

// AppendFrom adds to the backup file path what it lacks, from the stream
// src opens after the file's last LSN, as Append does from a database: a
// missing path is started, the file is locked before it is read, a torn
// tail is cut back to its last whole frame, an interrupted segment is
// continued, and a complete file the stream adds nothing to is up to date.
// The stream's header must continue the file's history (its origin, and
// h at the file's last LSN; else the error wraps txframe.ErrHistory and
// the file is untouched). Frames are checked as FileFrom checks them.
func AppendFrom(ctx context.Context, db string, src Source, path string, opts Options) (res Result, err error) {
	if r, err := checkAppend("AppendFrom", opts); err != nil {
		return r, err
	}
	j, err := newRun(ctx, db, opts)
	if err != nil {
		return j.res, err
	}
	o, err := openOut(path, j.opts.file)
	if err != nil {
		return j.res, err
	}
	defer func() { err = errors.Join(err, o.close()) }()
	j.out, j.file = o, o
	tail, in, err := j.openAfterTail(src)
	if err != nil {
		return j.res, j.refused(err)
	}
	defer in.Close()
	rd := j.reader(in, path)
	defer rd.stop()
	h, err := j.header(rd, tail.Last)
	if err == nil && tail.Keep > 0 {
		err = j.joins(tail, h)
	}
	if err == nil {
		err = j.repairTail(tail)
	}
	if err != nil {
		return j.res, j.refused(err)
	}
	if _, err := o.f.Seek(tail.Keep, io.SeekStart); err != nil {
		return j.res, err
	}
	j.res.First, j.res.Last = tail.Last+1, tail.Last
	var pending *stream.Header // a complete file: its new segment's header waits for a frame
	switch {
	case tail.Keep == 0:
		err = j.start(h)
	case !tail.Complete:
		j.w = stream.ResumeWriter(j.out, tail.Header, tail.Last, tail.LastHash, tail.Keep-tail.SegStart)
	default:
		pending = &h
	}
	if err == nil {
		err = j.receive(rd, pending)
	}
	return j.res, j.settle(err)
}

// refused is err, after a file this run created and wrote nothing to is
// removed: as locally, a backup refused makes no file.
func (j *job) refused(err error) error {
	if o := j.file; o.created && o.size == 0 {
		err = errors.Join(err, os.Remove(o.path), syncParent(o.path))
	}
	return err
}

// openAfterTail reads how the file ends and opens the stream after its
// last LSN. A source that has no such LSN is another history.
func (j *job) openAfterTail(src Source) (stream.Tail, io.ReadCloser, error) {
	if err := syncParent(j.file.path); err != nil {
		return stream.Tail{}, nil, err
	}
	tail, err := readTail(j.file)
	if err != nil {
		return tail, nil, err
	}
	in, err := src(j.ctx, tail.Last)
	var rng *RangeError
	if errors.As(err, &rng) && tail.Keep > 0 && tail.Last > rng.Last {
		return tail, nil, fmt.Errorf("%s: %w: it reaches LSN %d, past %s's last durable LSN %d",
			j.file.path, txframe.ErrHistory, tail.Last, j.name, rng.Last)
	}
	return tail, in, err
}

// joins refuses a stream that does not continue the file's history:
// another origin, or another hash at the file's last LSN.
func (j *job) joins(t stream.Tail, h stream.Header) error {
	theirs := fmt.Sprintf("the file (a backup of %q)", t.Header.Name)
	if err := txframe.SameOrigin(t.Header.Origin, h.Origin, theirs, j.name); err != nil {
		return fmt.Errorf("%s: %w", j.file.path, err)
	}
	if err := txframe.SameHash(t.Last, t.LastHash, h.BaseHash, "the file", j.name); err != nil {
		return fmt.Errorf("%s: %w", j.file.path, err)
	}
	return nil
}

// received is a source's stream as it is read: checked by a
// stream.Reader, the source's own error kept, since it says more than the
// reader's "truncated" (the error a server reported, with its exit code;
// a connection that broke).
type received struct {
	r    *stream.Reader
	src  *sourceErr
	stop func() // ends a read-ahead, once no Read is waiting
}

// sourceErr remembers the error, other than io.EOF, that a source's Read
// returned.
type sourceErr struct {
	r   io.Reader
	err error
}

func (s *sourceErr) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if err != nil && err != io.EOF {
		s.err = err
	}
	return n, err
}

// reader reads in checked. A following run reads ahead, so that it can
// fsync its file every SyncEvery also while the source is idle.
func (j *job) reader(in io.ReadCloser, path string) *received {
	rd := &received{stop: func() {}}
	var r io.Reader = in
	if j.opts.Follow {
		a := newAhead(in, j.opts.SyncEvery, j.syncDirty)
		r, rd.stop = a, a.stop
	}
	rd.src = &sourceErr{r: r}
	name := fmt.Sprintf("the stream of %s for %s", j.name, path)
	rd.r = stream.NewReader([]stream.Input{{Name: name, R: rd.src}}, stream.Options{})
	return rd
}

// next returns the next event; after a failed read of the source, its
// error.
func (rd *received) next() (*stream.Event, error) {
	ev, err := rd.r.Next()
	if err != nil && err != io.EOF && rd.src.err != nil {
		return nil, rd.src.err
	}
	return ev, err
}

// header reads the stream's header: based at LSN after, as asked.
func (j *job) header(rd *received, after uint64) (stream.Header, error) {
	ev, err := rd.next()
	if err == io.EOF {
		err = stream.ErrEmpty
	}
	if err != nil {
		return stream.Header{}, j.broke(err)
	}
	if h := ev.Header; h.Base != after {
		return h, fmt.Errorf("%w: the stream of %s starts after LSN %d, not after LSN %d as asked", stream.ErrFormat, j.name, h.Base, after)
	}
	return ev.Header, nil
}

// receive writes the stream's frames, each block as it comes, and its end
// record once the source has ended as it should. pending is the header of
// a new segment after a complete file: it is written with the first frame,
// and a stream of no frames leaves the file as it was, up to date.
func (j *job) receive(rd *received, pending *stream.Header) error {
	ended := false
	for {
		ev, err := rd.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return j.broke(err)
		}
		switch {
		case ended || ev.Kind == stream.KindHeader:
			return fmt.Errorf("%w: the stream of %s: %w", stream.ErrFormat, j.name, errSecondSegment)
		case ev.Kind == stream.KindEnd:
			ended, j.res.End = true, ev.End.Last
			continue
		}
		if pending != nil {
			if err := j.start(*pending); err != nil {
				return err
			}
			pending = nil
		}
		if err := j.w.WriteFrames(ev.Frames); err != nil {
			return j.writeErr(err)
		}
		j.res.End = max(j.res.End, ev.Last)
		j.wrote(len(ev.Frames))
	}
	if pending != nil && !j.opts.Follow {
		j.res.UpToDate = true
		return nil
	}
	return j.end(pending)
}

// start writes the header of a new segment.
func (j *job) start(h stream.Header) error {
	w, err := stream.NewWriter(j.out, h)
	j.w = w
	return j.writeErr(err)
}

// end writes the segment's end record, after its header if none is
// written, and seals an encrypted file's last chunk after it.
func (j *job) end(pending *stream.Header) error {
	if pending != nil {
		if err := j.start(*pending); err != nil {
			return err
		}
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

// broke is why the stream stopped before its end: ctx, done, ends a
// following run with its end record, as a local one ends, and stops a
// plain one; anything else is the source's error.
func (j *job) broke(err error) error {
	if j.ctx.Err() == nil {
		return err
	}
	if j.opts.Follow && j.w != nil {
		return j.end(nil)
	}
	return j.stopped()
}

// syncDirty fsyncs the file if anything was written since its last fsync
// (FileFrom creates it only once the stream's header has come).
func (j *job) syncDirty() error {
	if j.file == nil || j.file.size == j.file.durable {
		return nil
	}
	return j.file.sync(j.res.Last)
}
