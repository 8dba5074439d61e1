//go:build linux

package backup

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/hotpipe/hotpipe/stream"
)

// TestFollowNoticesItsReaderGone: a following backup into a pipe whose
// reader has taken everything sent and gone away ends, while idle, with
// ErrConsumerGone and no end record: the default heartbeat polls the pipe.
func TestFollowNoticesItsReaderGone(t *testing.T) {
	t.Parallel()
	db := newDB(t, "foo", 10, 100, 0)
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pw.Close()
	type outcome struct {
		res Result
		err error
	}
	// A backup that never noticed would end, with no error, at this deadline.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	done := make(chan outcome, 1)
	go func() {
		res, err := Backup(ctx, db.reader, pw, Options{Follow: true})
		done <- outcome{res, err}
	}()
	r := stream.NewReader([]stream.Input{{Name: "pipe", R: pr}}, stream.Options{})
	for last := uint64(0); last < 10; {
		ev, err := r.Next()
		if err != nil {
			t.Fatal(err)
		}
		if ev.Kind == stream.KindFrames {
			last = ev.Last
		}
	}
	if err := pr.Close(); err != nil {
		t.Fatal(err)
	}
	got := <-done
	if !errors.Is(got.err, ErrConsumerGone) || got.res.Ended || got.res.Last != 10 {
		t.Fatalf("Backup = %v, Result %+v; want ErrConsumerGone after LSN 10, no end record", got.err, got.res)
	}
}
