package backup

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/hotpipe/hotpipe/engine"
	"github.com/hotpipe/hotpipe/stream"
	"github.com/hotpipe/hotpipe/txframe"
)

// File creates the backup file path, refusing an existing one (an error
// that is fs.ErrExist), locked before anything is written to it, and backs
// db up into it as Backup does. The file is fsynced before File returns
// success, and after a failure it is left as the *FileError says.
func File(ctx context.Context, db *engine.DB, path string, opts Options) (res Result, err error) {
	j, err := newJob(ctx, db, opts)
	if err != nil {
		return j.res, err
	}
	o, err := createOut(path, j.opts.file)
	if err != nil {
		return j.res, err
	}
	defer func() { err = errors.Join(err, o.close()) }()
	j.out, j.file = o, o
	if err := syncParent(path); err != nil { // the new name survives a crash too
		return j.res, err
	}
	err = j.encrypt()
	if err == nil {
		err = j.begin()
	}
	if err == nil {
		err = j.run()
	}
	return j.res, j.settle(err)
}

// Append adds to the backup file path the frames of db it lacks; a missing
// path is started. The file is locked before anything is read from it. Its
// tail is found in O(1) from its last end record and must be db's history
// (else the error wraps txframe.ErrHistory, and the file is untouched); a
// torn tail an interrupted backup left is cut back to the last whole frame
// first. Then Append writes a new segment after a complete one, or the
// rest of an interrupted one, and fsyncs the file before it returns
// success. opts.Start must be 0 or 1: the file says where to start.
func Append(ctx context.Context, db *engine.DB, path string, opts Options) (res Result, err error) {
	if r, err := checkAppend("Append", opts); err != nil {
		return r, err
	}
	j, err := newJob(ctx, db, opts)
	if err != nil {
		return j.res, err
	}
	o, err := openOut(path, j.opts.file)
	if err != nil {
		return j.res, err
	}
	defer func() { err = errors.Join(err, o.close()) }()
	j.out, j.file = o, o
	if err := syncParent(path); err != nil {
		return j.res, err
	}
	tail, err := readTail(o)
	if err != nil {
		return j.res, err
	}
	if tail.Keep > 0 {
		if err := j.checkTail(tail); err != nil {
			return j.res, err
		}
	}
	if err := j.repairTail(tail); err != nil {
		return j.res, err
	}
	if _, err := o.f.Seek(tail.Keep, io.SeekStart); err != nil {
		return j.res, err
	}
	return j.res, j.appendFrom(tail)
}

// readTail finds how the file ends; an empty file has nothing to keep.
func readTail(o *outFile) (stream.Tail, error) {
	fi, err := o.f.Stat()
	if err != nil || fi.Size() == 0 {
		return stream.Tail{}, err
	}
	if enc, err := isEncrypted(o); err != nil || enc {
		return stream.Tail{}, errors.Join(err, encryptedFile(o.path, enc))
	}
	tail, err := stream.ReadTail(o.f, fi.Size(), o.path)
	if err != nil {
		return tail, fmt.Errorf("cannot append to %s: %w", o.path, err)
	}
	return tail, nil
}

// checkTail refuses a file that is not a backup of the database's history:
// another origin, past the database's end, or another hash at its last LSN.
func (j *job) checkTail(t stream.Tail) error {
	name, path := j.db.Name(), j.file.path
	theirs := fmt.Sprintf("the file (a backup of %q)", t.Header.Name)
	if err := txframe.SameOrigin(t.Header.Origin, j.origin, theirs, name); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	last, _, err := j.db.State()
	if err != nil {
		return err
	}
	if t.Last > last {
		return fmt.Errorf("%s: %w: it reaches LSN %d, past %s's last durable LSN %d", path, txframe.ErrHistory, t.Last, name, last)
	}
	h, err := j.db.HashAt(t.Last)
	if err != nil {
		return err
	}
	if err := txframe.SameHash(t.Last, t.LastHash, h, "the file", name); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// repairTail truncates what an interrupted backup left after the last whole
// frame, and makes the cut durable. Either way the file then stands at
// t.Keep bytes, as durable as an earlier run made them.
func (j *job) repairTail(t stream.Tail) error {
	o := j.file
	o.kept(t.Keep, t.Last)
	if t.Torn == 0 {
		return nil
	}
	if err := o.f.Truncate(t.Keep); err != nil {
		return err
	}
	if err := o.sync(t.Last); err != nil {
		return o.takeBack(err)
	}
	j.res.Repaired = &Repair{Path: o.path, Offset: t.Keep, Cut: t.Torn, After: t.Last}
	if j.opts.Repaired != nil {
		j.opts.Repaired(*j.res.Repaired)
	}
	return nil
}

// appendFrom writes what the file lacks after its (repaired) tail: a
// first segment, a new segment after a complete one, or the rest of an
// interrupted one. A complete file that reaches End is up to date, unless
// the backup follows.
func (j *job) appendFrom(t stream.Tail) error {
	j.res.First, j.res.Last = t.Last+1, t.Last
	switch {
	case t.Keep == 0: // empty, or the start of a first header, cut
	case t.Complete && t.Last >= j.res.End && !j.opts.Follow:
		j.res.UpToDate = true
		return nil
	case !t.Complete:
		j.w = stream.ResumeWriter(j.sink(), t.Header, t.Last, t.LastHash, t.Keep-t.SegStart)
		return j.settle(j.run())
	}
	err := j.begin()
	if err == nil {
		err = j.run()
	}
	return j.settle(err)
}

// settle ends a backup into a file, successful or not. The file is
// fsynced, also when the backup stopped early, so that Append finds whole
// frames. After a failed write or fsync it is taken back instead, so that
// it never looks more complete than it durably is.
func (j *job) settle(err error) error {
	o := j.file
	if o.fault == nil {
		if serr := o.sync(j.res.Last); serr != nil {
			err = errors.Join(err, serr)
		}
	}
	if o.fault != nil {
		j.res.Ended = false
		return o.takeBack(err)
	}
	if err == nil {
		return nil
	}
	return &FileError{Path: o.path, State: Incomplete, Last: j.res.Last, Encrypted: j.enc != nil, Err: err}
}
