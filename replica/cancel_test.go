package replica

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/hotpipe/hotpipe/engine"
	"github.com/hotpipe/hotpipe/stream"
)

// errStopped is a cancellation cause of a caller's own, as hotpipe's
// SIGINT handler gives one: it is context.Canceled to errors.Is.
var errStopped = fmt.Errorf("stopped by the test: %w", context.Canceled)

// TestCancelBeforeTheFirstHeader: nothing is read, nothing is created.
func TestCancelBeforeTheFirstHeader(t *testing.T) {
	s := newSources(t, 10)
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	res, err := Restore(ctx, dir, "bar", readerOf(segment(t, s.foo, 1, 10)), Options{})
	if !errors.Is(err, context.Canceled) || res.Started {
		t.Fatalf("Restore = %+v, %v; want context.Canceled before it started", res, err)
	}
	requireAfter(t, dir, "bar", res, after{absent: true})
}

// TestCancelAfterPrepare cancels once the first header has passed the
// checks, before any frame is read: no frame is applied, and replica mode
// is as §6 leaves a restore that failed there.
func TestCancelAfterPrepare(t *testing.T) {
	s := newSources(t, 40)
	tests := []struct {
		name  string
		setup func(*testing.T, string)
		opts  Options
		after after
	}{
		{name: "absent: nothing created", after: after{absent: true}},
		{name: "empty: adopted, stays a restoring replica", setup: func(t *testing.T, dir string) { mustCreate(t, dir, engine.CreateOptions{}) },
			after: after{src: s.foo, replica: true, restoring: true}},
		{name: "force-replica: never switched on", setup: func(t *testing.T, dir string) {
			mustRestore(t, dir, "bar", Options{}, segment(t, s.foo, 1, 20))
		}, opts: Options{Append: true, ForceReplica: true}, after: after{src: s.foo, lsn: 20}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if tt.setup != nil {
				tt.setup(t, dir)
			}
			ctx, cancel := context.WithCancelCause(t.Context())
			opts := tt.opts
			opts.prepared = func() { cancel(errStopped) }
			res, err := Restore(ctx, dir, "bar", readerOf(segment(t, s.foo, 1, 40)), opts)
			if !errors.Is(err, errStopped) || !errors.Is(err, context.Canceled) || !res.Started || res.First != 0 || res.SwitchedOff {
				t.Fatalf("Restore = %+v, %v; want the cancellation's cause, nothing applied", res, err)
			}
			requireAfter(t, dir, "bar", res, tt.after)
		})
	}
}

// TestCancelMidApply cancels from Progress, after the first block: what
// was handed to the database is durable, nothing after it is applied, a
// full restore stays a restoring replica and a forced one is switched
// back off.
func TestCancelMidApply(t *testing.T) {
	s := newSources(t, 60)
	blocks := [][]byte{segment(t, s.foo, 1, 30), segment(t, s.foo, 31, 40), segment(t, s.foo, 41, 60)}
	tests := []struct {
		name     string
		setup    func(*testing.T, string)
		opts     Options
		switched bool
		after    after
	}{
		{name: "full restore: stays a restoring replica", after: after{src: s.foo, lsn: 30, replica: true, restoring: true}},
		{name: "force-replica: switched back off", setup: func(t *testing.T, dir string) {
			mustRestore(t, dir, "bar", Options{}, segment(t, s.foo, 1, 20))
		}, opts: Options{Append: true, ForceReplica: true}, switched: true, after: after{src: s.foo, lsn: 30}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if tt.setup != nil {
				tt.setup(t, dir)
			}
			ctx, cancel := context.WithCancel(t.Context())
			opts := tt.opts
			opts.Progress = func(Progress) { cancel() }
			res, err := Restore(ctx, dir, "bar", readerOf(blocks...), opts)
			if !errors.Is(err, context.Canceled) || res.Last != 30 || res.SwitchedOff != tt.switched {
				t.Fatalf("Restore = %+v, %v; want context.Canceled after LSN 30", res, err)
			}
			requireAfter(t, dir, "bar", res, tt.after)
		})
	}
}

// TestCancelAStalledInput: the input, a pipe, goes quiet after some frames
// and no end record; cancelling gives up the blocked read.
func TestCancelAStalledInput(t *testing.T) {
	s := newSources(t, 40)
	tests := []struct {
		name     string
		setup    func(*testing.T, string)
		opts     Options
		from     uint64
		switched bool
		after    after
	}{
		{name: "full restore: stays a restoring replica", from: 1, after: after{src: s.foo, lsn: 40, replica: true, restoring: true}},
		{name: "force-replica: switched back off", setup: func(t *testing.T, dir string) {
			mustRestore(t, dir, "bar", Options{}, segment(t, s.foo, 1, 20))
		}, opts: Options{Append: true, ForceReplica: true}, from: 10, switched: true, after: after{src: s.foo, lsn: 40}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if tt.setup != nil {
				tt.setup(t, dir)
			}
			seg := segment(t, s.foo, tt.from, 40)
			sent := seg[:len(seg)-stream.EndSize] // no end record: more may come
			pr, pw := io.Pipe()
			t.Cleanup(func() { pw.Close() }) // ends the read left blocked
			go pw.Write(sent)
			in := &watched{r: pr, total: len(sent), stalled: make(chan struct{})}
			ctx, cancel := context.WithCancel(t.Context())
			type outcome struct {
				res Result
				err error
			}
			done := make(chan outcome, 1)
			go func() {
				r := stream.NewReader([]stream.Input{{Name: "pipe", R: stream.Cancelable(ctx, in)}}, stream.Options{})
				res, err := Restore(ctx, dir, "bar", r, tt.opts)
				done <- outcome{res, err}
			}()
			<-in.stalled // every byte sent was read, and a read waits for more
			cancel()
			out := <-done
			if !errors.Is(out.err, context.Canceled) || out.res.SwitchedOff != tt.switched {
				t.Fatalf("Restore = %+v, %v; want context.Canceled", out.res, out.err)
			}
			requireAfter(t, dir, "bar", out.res, tt.after)
		})
	}
}

// watched reads r and closes stalled at the first read that starts once
// total bytes were read: the input has nothing more for now. Only the
// goroutine of stream.Cancelable reads it.
type watched struct {
	r       io.Reader
	n       int
	total   int
	stalled chan struct{}
	told    bool
}

func (w *watched) Read(p []byte) (int, error) {
	if w.n == w.total && !w.told {
		close(w.stalled)
		w.told = true
	}
	n, err := w.r.Read(p)
	w.n += n
	return n, err
}
