package verify_test

import (
	"context"
	"errors"
	"io"
	"path/filepath"
	"testing"

	"github.com/hotpipe/hotpipe/stream"
	"github.com/hotpipe/hotpipe/verify"
)

// A cancelled verification returns the cause of the cancellation
// (context.Canceled to errors.Is), with a report of how far it got, at
// every stage: before it starts, between records (cancelled by a callback)
// and inside a read that would never return.
func TestStreamCancelled(t *testing.T) {
	h := newHistory(t, 20, 'a')
	clean := func() []stream.Input {
		return named(h.segment(t, 0, 5), h.segment(t, 5, 10), h.segment(t, 10, 20))
	}
	fl := h.frameLen()
	damaged := named(flip(h.segment(t, 0, 5), h.at(0, 0, 2)+fl/2), flip(h.segment(t, 5, 10), h.at(0, 5, 7)+fl/2))
	tests := []struct {
		name     string
		inputs   []stream.Input
		cancelAt func(cancel func()) verify.Options
		segments int // read before the cancellation took
		findings int
	}{
		{name: "before the start", inputs: clean(),
			cancelAt: func(cancel func()) verify.Options { cancel(); return verify.Options{} }},
		{name: "from Progress", inputs: clean(), segments: 1,
			cancelAt: func(cancel func()) verify.Options {
				return verify.Options{Progress: func(verify.Progress) { cancel() }}
			}},
		{name: "from OnFinding", inputs: damaged, segments: 1, findings: 1,
			cancelAt: func(cancel func()) verify.Options {
				return verify.Options{OnFinding: func(verify.Finding) { cancel() }}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			rep, err := verify.Stream(ctx, tt.inputs, tt.cancelAt(cancel))
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("Stream: %v; want context.Canceled", err)
			}
			if rep == nil || rep.Segments != tt.segments || len(rep.Findings) != tt.findings {
				t.Fatalf("report %+v; want %d segments and %d findings read before the cancellation", rep, tt.segments, tt.findings)
			}
		})
	}
}

// The error is the context's cause, so a caller can tell its own reason
// for stopping (an operator's signal, say) from others.
func TestStreamCancelledWithCause(t *testing.T) {
	h := newHistory(t, 5, 'a')
	ctx, cancel := context.WithCancelCause(context.Background())
	cause := errors.New("operator said stop")
	cancel(cause)
	if _, err := verify.Stream(ctx, named(h.segment(t, 0, 5)), verify.Options{}); !errors.Is(err, cause) || !errors.Is(err, context.Canceled) {
		t.Fatalf("Stream: %v; want %v", err, cause)
	}
}

// stallSignal reads r and closes stalled when a read asks for more than
// the want bytes the writer of r will ever give: that read blocks.
type stallSignal struct {
	r       io.Reader
	n, want int64
	stalled chan struct{}
}

func (s *stallSignal) Read(p []byte) (int, error) {
	if s.n >= s.want {
		close(s.stalled)
	}
	m, err := s.r.Read(p)
	s.n += int64(m)
	return m, err
}

// A pipe whose writer goes quiet mid-segment, wrapped in stream.Cancelable
// as the CLI wraps its inputs, gives up its blocked read when the context
// is cancelled: Stream returns context.Canceled with what it had read.
func TestStreamCancelledStalledPipe(t *testing.T) {
	h := newHistory(t, 10, 'a')
	part := h.open(t, 0, 10)[:h.at(0, 0, 8)] // a header and LSNs 1..7, then nothing
	pr, pw := io.Pipe()
	defer pw.Close() // ends the read left blocked under Cancelable
	go func() {
		pw.Write(part) // returns once read, or when the test closes the pipe
	}()
	sig := &stallSignal{r: pr, want: int64(len(part)), stalled: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type result struct {
		rep *verify.Report
		err error
	}
	done := make(chan result, 1)
	go func() {
		rep, err := verify.Stream(ctx, []stream.Input{{Name: "pipe", R: stream.Cancelable(ctx, sig)}}, verify.Options{})
		done <- result{rep, err}
	}()
	<-sig.stalled // every byte written is read, and the next read blocks
	cancel()
	res := <-done
	if !errors.Is(res.err, context.Canceled) {
		t.Fatalf("Stream: %v; want context.Canceled", res.err)
	}
	if res.rep.Segments != 1 || len(res.rep.Findings) != 0 || res.rep.Last > 7 {
		t.Errorf("report %+v; want the one header and no more than LSN 7, no findings", res.rep)
	}
}

// A check of a database is cancelled within a segment, from a callback,
// and returns the cause of the cancellation with a report of how far it
// got; Progress is not called after it.
func TestDatabaseCancelledMidway(t *testing.T) {
	cause := errors.New("operator said stop")
	tests := []struct {
		name     string
		damage   uint64 // LSN of a frame to damage; 0 for none
		cancelAt func(cancel context.CancelCauseFunc) verify.Options
		findings int
		progress int // calls to Progress
	}{
		{name: "from Progress", progress: 1,
			cancelAt: func(cancel context.CancelCauseFunc) verify.Options {
				return verify.Options{Progress: func(verify.Progress) { cancel(cause) }}
			}},
		{name: "from OnFinding", damage: 2, findings: 1,
			cancelAt: func(cancel context.CancelCauseFunc) verify.Options {
				return verify.Options{OnFinding: func(verify.Finding) { cancel(cause) }}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := newDBOf(t, 64<<20, bigTxs, bigValue) // one segment of 4 MiB
			if tt.damage != 0 {
				damage(t, filepath.Join(dir, "db"), tt.damage)
			}
			db := openRO(t, dir)
			ctx, cancel := context.WithCancelCause(context.Background())
			defer cancel(nil)
			opts := tt.cancelAt(cancel)
			calls, progress := 0, opts.Progress
			opts.Progress = func(p verify.Progress) {
				calls++
				if progress != nil {
					progress(p)
				}
			}
			rep, err := verify.Database(ctx, db, opts)
			if !errors.Is(err, cause) || !errors.Is(err, context.Canceled) {
				t.Fatalf("Database: %v; want %v and context.Canceled", err, cause)
			}
			if rep == nil || len(rep.Findings) != tt.findings || calls != tt.progress || rep.Frames >= bigTxs*3/4 { // a MiB or two of 4: not the whole segment
				t.Fatalf("report %+v after %d progress calls; want %d findings, %d calls, stopped early in the segment", rep, calls, tt.findings, tt.progress)
			}
		})
	}
}
