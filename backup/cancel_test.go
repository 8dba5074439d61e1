package backup

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"

	"github.com/hotpipe/hotpipe/engine"
)

// errStop is the cause the tests cancel backups with.
var errStop = errors.New("stopped by the test")

// notifyingWriter tells of its first write on first, once.
type notifyingWriter struct {
	bytes.Buffer
	first chan struct{}
}

func (w *notifyingWriter) Write(p []byte) (int, error) {
	if w.first != nil {
		close(w.first)
		w.first = nil
	}
	return w.Buffer.Write(p)
}

// TestBackupCancellation stops backups through their context at every
// stage: before they start, between blocks (cancelled from the Progress
// callback), while paced by MaxRate, and while following with nothing to
// send (cancelled from the Heartbeat). A plain backup returns an error
// that is the context's cause and context.Canceled, its output cut at a
// frame boundary with no end record; a following one writes the end record
// and returns nil.
func TestBackupCancellation(t *testing.T) {
	t.Parallel()
	db := newDB(t, "foo", 100, 200, engine.MinSegmentSize)
	tests := []struct {
		name     string
		followed bool // only while following
		// arrange makes the backup be cancelled at its stage.
		arrange func(ctx context.Context, cancel func(), opts *Options, out *notifyingWriter)
	}{
		{name: "before start", arrange: func(_ context.Context, cancel func(), _ *Options, _ *notifyingWriter) { cancel() }},
		{name: "mid-copy", arrange: func(_ context.Context, cancel func(), opts *Options, _ *notifyingWriter) {
			opts.Progress = func(Progress) { cancel() }
		}},
		{name: "while paced", arrange: func(_ context.Context, cancel func(), opts *Options, out *notifyingWriter) {
			opts.MaxRate = 1 // a byte a second: the header alone takes minutes
			out.first = make(chan struct{})
			first := out.first
			go func() { <-first; cancel() }()
		}},
		{name: "while following idle", followed: true, arrange: func(_ context.Context, cancel func(), opts *Options, _ *notifyingWriter) {
			opts.Heartbeat = func() error { cancel(); return nil }
		}},
	}
	for _, tt := range tests {
		for _, follow := range []bool{false, true} {
			if tt.followed && !follow {
				continue
			}
			name := tt.name
			if follow {
				name += ", following"
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				ctx, cancel := context.WithCancelCause(context.Background())
				defer cancel(nil)
				opts := Options{Follow: follow}
				var out notifyingWriter
				tt.arrange(ctx, func() { cancel(errStop) }, &opts, &out)
				res, err := Backup(ctx, db.reader, &out, opts)
				checkStopped(t, follow, res, err, out.Bytes())
			})
		}
	}
}

// checkStopped requires a backup stopped by its context to have ended as
// its mode says it must.
func checkStopped(t *testing.T, follow bool, res Result, err error, out []byte) {
	t.Helper()
	got := readStream(out)
	if follow {
		if err != nil || !res.Ended || got.err != nil || got.ends != 1 || got.last != res.Last || res.Frames != res.Last {
			t.Fatalf("Backup = %v, Result %+v, output %+v; want nil, ended, through LSN %d", err, res, got, res.Last)
		}
		return
	}
	if !errors.Is(err, errStop) || !errors.Is(err, context.Canceled) || res.Ended {
		t.Fatalf("Backup = %v, Result %+v; want the cause, context.Canceled, and no end record", err, res)
	}
	if len(out) > 0 {
		checkTruncatedAt(t, got, res.Last)
	}
	if res.Last == res.End {
		t.Fatalf("Result %+v: the stopped backup reached its end", res)
	}
}

// TestFollowCopiesNewCommits follows a database while a writer commits
// more, in rounds: each round's frames reach the output (seen through the
// Progress callback) before the next is committed; the backup, stopped,
// holds every frame once.
func TestFollowCopiesNewCommits(t *testing.T) {
	t.Parallel()
	db := newDB(t, "foo", 30, 100, engine.MinSegmentSize)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	reached := make(chan uint64, 100)
	r, w := io.Pipe()
	done := make(chan error, 1)
	var res Result
	go func() {
		var err error
		res, err = Backup(ctx, db.reader, w, Options{Follow: true, Progress: func(p Progress) { reached <- p.Last }})
		w.CloseWithError(err)
		done <- err
	}()
	outc := make(chan []byte, 1)
	go func() { b, _ := io.ReadAll(r); outc <- b }()
	waitFor(t, reached, 30)
	for round := range 5 {
		db.commit(t, 10+round, 100)
		last, _, err := db.writer.State()
		if err != nil {
			t.Fatal(err)
		}
		waitFor(t, reached, last)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	got := readStream(<-outc)
	if got.err != nil || got.ends != 1 || got.first != 1 || got.last != 30+10+11+12+13+14 || res.Last != got.last || !res.Ended {
		t.Fatalf("output %+v, Result %+v; want LSN 1..90 and an end record", got, res)
	}
}

// waitFor waits until the backup reports LSN lsn copied.
func waitFor(t *testing.T, reached <-chan uint64, lsn uint64) {
	t.Helper()
	for last := range reached {
		if last >= lsn {
			return
		}
	}
}

// TestFollowHeartbeatEndsTheBackup: a heartbeat's error ends a following
// backup with that error and no end record.
func TestFollowHeartbeatEndsTheBackup(t *testing.T) {
	t.Parallel()
	db := newDB(t, "foo", 10, 100, 0)
	var out bytes.Buffer
	res, err := Backup(context.Background(), db.reader, &out, Options{Follow: true, Heartbeat: func() error { return ErrConsumerGone }})
	if !errors.Is(err, ErrConsumerGone) || res.Ended || res.Last != 10 {
		t.Fatalf("Backup = %v, Result %+v; want ErrConsumerGone after LSN 10, no end record", err, res)
	}
	checkTruncatedAt(t, readStream(out.Bytes()), 10)
}
