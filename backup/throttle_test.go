package backup

import (
	"bytes"
	"context"
	"testing"
	"time"
)

// TestThrottleNeverRunsAhead writes 256 KiB at 1 MiB/s: it cannot take
// less than a quarter of a second (a lower bound only: a slow machine is
// slower).
func TestThrottleNeverRunsAhead(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	w := &throttled{w: &out, ctx: context.Background(), rate: 1 << 20}
	start := time.Now()
	for range 16 {
		if _, err := w.Write(make([]byte, 16<<10)); err != nil {
			t.Fatal(err)
		}
	}
	if d := time.Since(start); d < 240*time.Millisecond || out.Len() != 256<<10 {
		t.Fatalf("256 KiB at 1 MiB/s took %v (%d bytes)", d, out.Len())
	}
}

// TestThrottleStopsWhenCancelled: a paced write returns as soon as its
// context is cancelled (here once the bytes reached the writer below),
// instead of sleeping out its schedule.
func TestThrottleStopsWhenCancelled(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	below := &notifyingWriter{first: make(chan struct{})}
	written := below.first
	w := &throttled{w: below, ctx: ctx, rate: 1} // one byte a second
	done := make(chan struct{})
	go func() { w.Write(make([]byte, 3600)); close(done) }()
	<-written
	cancel()
	<-done // a write paced to an hour; the test's timeout catches one that sleeps it out
}
