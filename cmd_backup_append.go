package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/hotpipe/hotpipe/engine"
	"github.com/hotpipe/hotpipe/stream"
)

// now is the creation time stamped on stream headers.
func now() time.Time { return time.Now().UTC() }

// backupAppend adds to FILE the frames it lacks. FILE's tail is found in
// O(1) from its last end record, checked against the database's history, and
// repaired first if an interrupted backup left it torn.
func (e *env) backupAppend(j *backupJob, file string) error {
	f, err := os.OpenFile(file, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	j.out, j.file, j.path = f, f, file
	if err := syncParent(file); err != nil {
		return err
	}
	var tail stream.Tail // of an empty file: nothing to keep
	if fi.Size() > 0 {
		if tail, err = stream.ReadTail(f, fi.Size(), file); err != nil {
			return fmt.Errorf("cannot append to %s: %w", file, err)
		}
	}
	if tail.Keep == 0 { // empty, or the start of a first header
		if err := e.repairTail(f, file, tail); err != nil {
			return err
		}
		if err := j.begin(); err != nil {
			return err
		}
		return e.backupRun(j)
	}
	if err := j.checkTail(file, tail); err != nil {
		return err
	}
	if err := e.repairTail(f, file, tail); err != nil {
		return err
	}
	if _, err := f.Seek(tail.Keep, io.SeekStart); err != nil {
		return err
	}
	j.start = tail.Last + 1
	if tail.Complete {
		if j.start > j.end {
			e.notef("hot-backup %s: %s is up to date at LSN %d; nothing to append", j.db.Name(), file, tail.Last)
			return nil
		}
		if err := j.begin(); err != nil {
			return err
		}
	} else {
		j.w = stream.ResumeWriter(j.sink(), tail.Header, tail.Last, tail.LastHash, tail.Keep-tail.SegStart)
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
// frame, and makes the cut durable.
func (e *env) repairTail(f *os.File, file string, t stream.Tail) error {
	if t.Torn == 0 {
		return nil
	}
	if err := f.Truncate(t.Keep); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if t.Keep == 0 {
		fmt.Fprintf(e.stderr, "hotpipe: repaired %s: removed the %d bytes of a header left by an interrupted backup\n", file, t.Torn)
		return nil
	}
	fmt.Fprintf(e.stderr, "hotpipe: repaired %s: truncated %d bytes left by an interrupted backup at offset %d (after LSN %d)\n",
		file, t.Torn, t.Keep, t.Last)
	return nil
}
