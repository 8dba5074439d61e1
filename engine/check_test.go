package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/hotpipe/hotpipe/txframe"
)

// checkDB makes database "db" of n one-put frames with values of value
// bytes, in segments of segSize, applied a MiB at a time, and opens it
// read-only as db check does. It returns the handle and the length of each
// frame (lens[lsn-1]).
func checkDB(t *testing.T, segSize int64, n, value int) (*DB, []int) {
	t.Helper()
	db, dir := newDB(t, Options{}, CreateOptions{Replica: true, SegmentSize: segSize})
	var h txframe.Hash
	var block []byte
	lens := make([]int, 0, n)
	v := make([]byte, value)
	for lsn := uint64(1); lsn <= uint64(n); lsn++ {
		var err error
		was := len(block)
		block, h, err = txframe.Append(block, h, lsn, int64(lsn), []txframe.Entry{{Op: txframe.OpPut, Key: fmt.Append(nil, "k", lsn), Value: v}})
		if err != nil {
			t.Fatal(err)
		}
		lens = append(lens, len(block)-was)
		if len(block) >= 1<<20 || lsn == uint64(n) {
			if _, err := db.Apply(block); err != nil {
				t.Fatal(err)
			}
			block = block[:0]
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	ro, err := Open(dir, "db", Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ro.Close() })
	return ro, lens
}

// frameOffset returns the segment holding the frame of lsn and the frame's
// offset in it.
func frameOffset(t *testing.T, db *DB, lens []int, lsn uint64) (uint64, int) {
	t.Helper()
	segs, err := listSegments(db.dir)
	if err != nil {
		t.Fatal(err)
	}
	seg, off := segs[segmentFor(segs, lsn)], 0
	for l := seg; l < lsn; l++ {
		off += lens[l-1]
	}
	return seg, off
}

func sum(lens []int) (n int64) {
	for _, l := range lens {
		n += int64(l)
	}
	return n
}

// checkProgressCalls checks what a check reported as it went against what
// it will reach: nothing goes back, nothing passes the totals given at the
// start, and no more than a step and a frame passes between two calls, nor
// before the first. It returns the last call.
func checkProgressCalls(t *testing.T, calls []CheckProgress, end uint64, total int64, maxFrame int) CheckProgress {
	t.Helper()
	if len(calls) == 0 {
		t.Fatal("Progress was never called")
	}
	var last CheckProgress
	for i, p := range calls {
		switch {
		case p.End != end || p.TotalBytes != total:
			t.Errorf("call %d: %+v; want End %d, TotalBytes %d", i, p, end, total)
		case p.Bytes < last.Bytes || p.LSN < last.LSN || p.Frames < last.Frames || p.Path < last.Path:
			t.Errorf("call %d went back: %+v after %+v", i, p, last)
		case p.Bytes > total || p.LSN > end || p.Frames > p.LSN || p.Offset > p.Bytes:
			t.Errorf("call %d: %+v passes the totals", i, p)
		case p.Bytes-last.Bytes > checkStep+int64(maxFrame):
			t.Errorf("call %d: %d bytes checked since the last call; want a call every %d", i, p.Bytes-last.Bytes, checkStep)
		}
		last = p
	}
	if calls := int64(len(calls)); calls > total/checkStep+1 {
		t.Errorf("%d calls for %d bytes: want one a step, not one a frame", calls, total)
	}
	return last
}

// A check reports its progress every step and once at the end, in every
// shape of database: counts that only grow, and the end it will reach
// (the durable LSN and the bytes of segment data) known from the start.
func TestCheckProgress(t *testing.T) {
	tests := []struct {
		name         string
		segSize      int64
		n, value     int
		minSegs      int
		minCallsSegs int // calls made within one segment at least (before the end's)
	}{
		{name: "empty", segSize: 1 << 20},
		{name: "under a step in small segments", segSize: MinSegmentSize, n: 300, value: 100, minSegs: 10},
		{name: "steps across MiB segments", segSize: 1 << 20, n: 600, value: 10 << 10, minSegs: 5},
		{name: "steps within one segment", segSize: 64 << 20, n: 500, value: 10 << 10, minSegs: 1, minCallsSegs: 4},
		{name: "frames larger than a step", segSize: 8 << 20, n: 5, value: 3 << 19, minSegs: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db, lens := checkDB(t, tt.segSize, tt.n, tt.value)
			var calls []CheckProgress
			rep, err := db.CheckAll(t.Context(), CheckOptions{
				Found:    func(p *CorruptionError) { t.Errorf("finding in a clean database: %v", p) },
				Progress: func(p CheckProgress) { calls = append(calls, p) },
			})
			if err != nil || rep.Frames != uint64(tt.n) || rep.Segments < tt.minSegs {
				t.Fatalf("CheckAll: %+v, %v; want %d frames in %d segments or more", rep, err, tt.n, tt.minSegs)
			}
			total := sum(lens)
			last := checkProgressCalls(t, calls, uint64(tt.n), total, slicesMax(lens))
			segs, _ := listSegments(db.dir)
			lastSeg := filepath.Join(db.dir, segName(segs[len(segs)-1]))
			if last.LSN != uint64(tt.n) || last.Frames != uint64(tt.n) || last.Bytes != total || last.Path != lastSeg {
				t.Errorf("last call %+v; want LSN %d, %d bytes, in %s", last, tt.n, total, lastSeg)
			}
			if fi, err := os.Stat(lastSeg); err != nil || last.Offset != fi.Size() {
				t.Errorf("last call at offset %d of %s (%v); want its end", last.Offset, lastSeg, err)
			}
			if in := inSegment(calls[:len(calls)-1], calls[0].Path); in < tt.minCallsSegs {
				t.Errorf("%d calls within %s; want %d or more", in, calls[0].Path, tt.minCallsSegs)
			}
		})
	}
}

func slicesMax(lens []int) (m int) {
	for _, l := range lens {
		m = max(m, l)
	}
	return m
}

func inSegment(calls []CheckProgress, path string) (n int) {
	for _, p := range calls {
		if p.Path == path && p.Offset > 0 {
			n++
		}
	}
	return n
}

// Damage does not stop the reports: a check that finds a frame damaged
// inside, and one whose length is lost (the rest of its segment unread),
// reports both, and its progress still ends at the durable LSN and the
// bytes it was to read.
func TestCheckProgressWithDamage(t *testing.T) {
	db, lens := checkDB(t, 1<<20, 400, 10<<10)
	inside, lost := uint64(50), uint64(200)
	seg, off := frameOffset(t, db, lens, inside)
	flipAt(t, db.dir, seg, off+lens[inside-1]/2)
	seg, off = frameOffset(t, db, lens, lost)
	flipAt(t, db.dir, seg, off) // the magic: the length no longer reads
	var found []uint64
	var calls []CheckProgress
	rep, err := db.CheckAll(t.Context(), CheckOptions{
		Found: func(p *CorruptionError) {
			if !errors.Is(p, ErrCorrupt) {
				t.Errorf("finding %v is not ErrCorrupt", p)
			}
			found = append(found, p.LSN)
		},
		Progress: func(p CheckProgress) { calls = append(calls, p) },
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(found) < 2 || found[0] != inside || found[1] != lost || rep.Problems != len(found) {
		t.Fatalf("findings at LSNs %v, report %+v; want %d and %d first", found, rep, inside, lost)
	}
	last := checkProgressCalls(t, calls, 400, sum(lens), slicesMax(lens))
	if last.LSN != 400 || last.Bytes != last.TotalBytes || last.Frames != rep.Frames || rep.Frames >= 399 {
		t.Errorf("last call %+v, report %+v; want LSN 400, every byte, the frames that passed", last, rep)
	}
}

// A cancelled check stops within a step, wherever the cancellation comes
// from, returns the context's error and says how far it got, and reports
// no progress after it.
func TestCheckCancelled(t *testing.T) {
	tests := []struct {
		name     string
		damage   uint64 // LSN of a frame to damage; 0 for none
		cancelAt func(cancel func()) CheckOptions
		progress int // calls to Progress
	}{
		{name: "before the start", cancelAt: func(cancel func()) CheckOptions {
			cancel()
			return CheckOptions{Progress: func(CheckProgress) { t.Error("progress after the cancellation") }}
		}},
		{name: "from Progress", progress: 1, cancelAt: func(cancel func()) CheckOptions {
			return CheckOptions{Progress: func(CheckProgress) { cancel() }}
		}},
		{name: "from Found", damage: 20, cancelAt: func(cancel func()) CheckOptions {
			return CheckOptions{Found: func(*CorruptionError) { cancel() }}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db, lens := checkDB(t, 64<<20, 500, 10<<10) // one segment of 5 MiB
			if tt.damage != 0 {
				seg, off := frameOffset(t, db, lens, tt.damage)
				flipAt(t, db.dir, seg, off+lens[tt.damage-1]/2)
			}
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			opts := tt.cancelAt(cancel)
			calls, progress := 0, opts.Progress
			opts.Progress = func(p CheckProgress) {
				calls++
				if progress != nil {
					progress(p)
				}
			}
			rep, err := db.CheckAll(ctx, opts)
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("CheckAll: %v; want context.Canceled", err)
			}
			if calls != tt.progress || rep.Bytes > 2*checkStep+int64(lens[0]) {
				t.Errorf("%d progress calls, report %+v; want %d, and no more than two steps checked", calls, rep, tt.progress)
			}
		})
	}
}
