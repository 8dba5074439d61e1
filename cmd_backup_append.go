package main

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/hotpipe/hotpipe/engine"
	"github.com/hotpipe/hotpipe/stream"
)

// now is the creation time stamped on stream headers.
func now() time.Time { return time.Now().UTC() }

// backupAppend adds to FILE the frames it lacks. FILE is locked before
// anything is read from it. Its tail is found in O(1) from its last end
// record, checked against the database's history, and repaired first if an
// interrupted backup left it torn.
func (e *env) backupAppend(j *backupJob, file string) (err error) {
	o, err := openOut(file)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, o.close()) }()
	j.out, j.file = o, o
	if err := syncParent(file); err != nil {
		return err
	}
	tail, err := readTail(o)
	if err != nil {
		return err
	}
	if tail.Keep > 0 {
		if err := j.checkTail(file, tail); err != nil {
			return err
		}
	}
	if err := e.repairTail(o, tail, j.db.Name()); err != nil {
		return err
	}
	if _, err := o.f.Seek(tail.Keep, io.SeekStart); err != nil {
		return err
	}
	return e.appendFrom(j, tail)
}

// readTail finds how FILE ends; an empty file has nothing to keep.
func readTail(o *outFile) (stream.Tail, error) {
	fi, err := o.f.Stat()
	if err != nil || fi.Size() == 0 {
		return stream.Tail{}, err
	}
	tail, err := stream.ReadTail(o.f, fi.Size(), o.path)
	if err != nil {
		return tail, fmt.Errorf("cannot append to %s: %w", o.path, err)
	}
	return tail, nil
}

// appendFrom writes what FILE lacks after its (repaired) tail: a first
// segment, a new segment after a complete one, or the rest of an
// interrupted one.
func (e *env) appendFrom(j *backupJob, tail stream.Tail) error {
	j.start = tail.Last + 1
	switch {
	case tail.Keep == 0: // empty, or the start of a first header
	case tail.Complete && j.start > j.end:
		e.notef("hot-backup %s: %s is up to date at LSN %d; nothing to append", j.db.Name(), j.file.path, tail.Last)
		return nil
	case !tail.Complete:
		j.w = stream.ResumeWriter(j.sink(), tail.Header, tail.Last, tail.LastHash, tail.Keep-tail.SegStart)
		return e.backupRun(j)
	}
	if err := j.begin(); err != nil {
		return j.settle(err)
	}
	return e.backupRun(j)
}

// checkTail refuses a file that is not a backup of this database's history.
func (j *backupJob) checkTail(file string, t stream.Tail) error {
	name := j.db.Name()
	if engine.Origin(t.Header.Origin) != j.meta.Origin {
		return fmt.Errorf("%s: %w: it is a backup of %q (origin %s), and %s's origin is %s",
			file, engine.ErrHistory, t.Header.Name, engine.Origin(t.Header.Origin), name, j.meta.Origin)
	}
	last, _, err := j.db.State()
	if err != nil {
		return err
	}
	if t.Last > last {
		return fmt.Errorf("%s: %w: it reaches LSN %d, past %s's last durable LSN %d", file, engine.ErrHistory, t.Last, name, last)
	}
	h, err := j.db.HashAt(t.Last)
	if err != nil {
		return err
	}
	if h != t.LastHash {
		return fmt.Errorf("%s: %w at LSN %d: the file has h = %s, %s has %s", file, engine.ErrHistory, t.Last, t.LastHash, name, h)
	}
	return nil
}

// repairTail truncates what an interrupted backup left after the last whole
// frame, and makes the cut durable. Either way the file then stands at
// tail.Keep bytes, as durable as an earlier run made them.
func (e *env) repairTail(o *outFile, t stream.Tail, db string) error {
	o.kept(t.Keep, t.Last)
	if t.Torn == 0 {
		return nil
	}
	if err := o.f.Truncate(t.Keep); err != nil {
		return err
	}
	if err := o.sync(t.Last); err != nil {
		return fmt.Errorf("%w\n%s", err, o.takeBack(db))
	}
	if t.Keep == 0 {
		fmt.Fprintf(e.stderr, "hotpipe: repaired %s: removed the %d bytes of a header left by an interrupted backup\n", o.path, t.Torn)
		return nil
	}
	fmt.Fprintf(e.stderr, "hotpipe: repaired %s: truncated %d bytes left by an interrupted backup at offset %d (after LSN %d)\n",
		o.path, t.Torn, t.Keep, t.Last)
	return nil
}
