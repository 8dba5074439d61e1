package backup

import (
	"bytes"
	"context"
	"errors"
	"math"
	"syscall"
	"testing"
	"time"

	"github.com/hotpipe/hotpipe/engine"
)

// TestBackupCopiesTheRange backs up ranges of a database of many small
// segments into a buffer: the output is one segment holding exactly the
// range, and the Result says so.
func TestBackupCopiesTheRange(t *testing.T) {
	t.Parallel()
	db := newDB(t, "foo", 200, 100, engine.MinSegmentSize)
	tests := []struct {
		name        string
		start, end  uint64
		first, last uint64
	}{
		{name: "everything", first: 1, last: 200},
		{name: "start 0 is the first LSN", start: 0, end: 10, first: 1, last: 10},
		{name: "from the middle", start: 57, first: 57, last: 200},
		{name: "a middle range across segments", start: 30, end: 170, first: 30, last: 170},
		{name: "one frame", start: 200, end: 200, first: 200, last: 200},
		{name: "an empty range after the end", start: 201, first: 201, last: 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			var reports int
			res, err := Backup(context.Background(), db.reader, &out, Options{Start: tt.start, End: tt.end,
				Progress: func(Progress) { reports++ }})
			if err != nil {
				t.Fatal(err)
			}
			frames := tt.last + 1 - tt.first
			if res.First != tt.first || res.Last != tt.last || res.Frames != frames || !res.Ended || (frames > 0) != (reports > 0) {
				t.Fatalf("Result %+v after %d progress reports; want LSN %d..%d, ended", res, reports, tt.first, tt.last)
			}
			got := readStream(out.Bytes())
			if got.err != nil || got.ends != 1 || got.frames != frames || frames > 0 && (got.first != tt.first || got.last != tt.last) {
				t.Fatalf("output reads as %+v; want LSN %d..%d and one end record", got, tt.first, tt.last)
			}
		})
	}
}

// TestBackupRefusesBadOptions: options that contradict each other or the
// database are refused before anything is written.
func TestBackupRefusesBadOptions(t *testing.T) {
	t.Parallel()
	db := newDB(t, "foo", 10, 10, 0)
	tests := []struct {
		name   string
		opts   Options
		target error
	}{
		{name: "End past the last durable LSN", opts: Options{End: 11}, target: engine.ErrLSNRange},
		{name: "Start past End+1", opts: Options{Start: 6, End: 4}, target: engine.ErrLSNRange},
		{name: "Start past the end", opts: Options{Start: 12}, target: engine.ErrLSNRange},
		{name: "Follow with an End", opts: Options{Follow: true, End: 5}, target: ErrOptions},
		{name: "a negative rate", opts: Options{MaxRate: -1}, target: ErrOptions},
		{name: "a rate that is not a number", opts: Options{MaxRate: math.NaN()}, target: ErrOptions},
		{name: "a rate below a byte per second", opts: Options{MaxRate: 0.5}, target: ErrOptions},
		{name: "a negative SyncEvery", opts: Options{Follow: true, SyncEvery: -time.Second}, target: ErrOptions},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			_, err := Backup(context.Background(), db.reader, &out, tt.opts)
			if !errors.Is(err, tt.target) || out.Len() != 0 {
				t.Fatalf("Backup = %v after writing %d bytes; want %v and nothing written", err, out.Len(), tt.target)
			}
			var rangeErr *RangeError
			if tt.target == engine.ErrLSNRange && (!errors.As(err, &rangeErr) || rangeErr.DB != "foo" || rangeErr.Last != 10) {
				t.Fatalf("Backup = %v; want a *RangeError naming foo and its last LSN 10", err)
			}
		})
	}
}

// failingWriter fails its failAt-th Write (counting from 1) with err,
// after writing part of it (none, or half, as a filling disk does), and
// counts the writes it is asked for.
type failingWriter struct {
	bytes.Buffer
	failAt, writes int
	half           bool
	err            error
}

func (w *failingWriter) Write(p []byte) (int, error) {
	w.writes++
	if w.writes != w.failAt {
		return w.Buffer.Write(p)
	}
	n := 0
	if w.half {
		n, _ = w.Buffer.Write(p[:len(p)/2])
	}
	return n, w.err
}

// TestBackupIntoAFailingWriter fails each write of a backup in turn (the
// header, each block, the end record): the error wraps the cause, nothing
// is written after the failed write (so no end record follows it), and
// the Result says how far the backup got, which is what the output holds.
func TestBackupIntoAFailingWriter(t *testing.T) {
	t.Parallel()
	db := newDB(t, "foo", 120, 200, engine.MinSegmentSize)
	var clean failingWriter
	if _, err := Backup(context.Background(), db.reader, &clean, Options{}); err != nil {
		t.Fatal(err)
	}
	if clean.writes < 5 {
		t.Fatalf("a clean backup took %d writes; the test wants several blocks", clean.writes)
	}
	causes := []struct {
		name string
		err  error
		half bool
	}{
		{name: "ENOSPC after half", err: syscall.ENOSPC, half: true},
		{name: "EIO", err: syscall.EIO},
		{name: "EPIPE", err: syscall.EPIPE},
	}
	for _, c := range causes {
		for failAt := 1; failAt <= clean.writes; failAt++ {
			w := &failingWriter{failAt: failAt, half: c.half, err: c.err}
			res, err := Backup(context.Background(), db.reader, w, Options{})
			if !errors.Is(err, c.err) || c.err == syscall.EPIPE && !errors.Is(err, ErrConsumerGone) {
				t.Fatalf("%s at write %d: Backup = %v, want it to wrap %v", c.name, failAt, err, c.err)
			}
			if w.writes != failAt || res.Ended {
				t.Fatalf("%s at write %d: %d writes, Result %+v; want none after the failed one, no end record", c.name, failAt, w.writes, res)
			}
			got := readStream(w.Bytes())
			if res.Frames != res.Last || got.ends != 0 || got.err == nil || got.last < res.Last || !c.half && got.last != res.Last {
				t.Fatalf("%s at write %d: Result %+v, and the output reads as %+v", c.name, failAt, res, got)
			}
		}
	}
}
