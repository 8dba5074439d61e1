package main

import (
	"bytes"
	"context"
	"testing"
	"time"
)

func TestParseRate(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want float64
		bad  bool
	}{
		{in: "1000000", want: 1e6},
		{in: "800k", want: 800 << 10},
		{in: "50M", want: 50 << 20},
		{in: "1.5G", want: 1.5 * (1 << 30)},
		{in: "100MB/s", want: 100 << 20},
		{in: "0", want: 0},
		{in: "", bad: true},
		{in: "fast", bad: true},
		{in: "-5M", bad: true},
		{in: "NaN", bad: true},
		{in: "1e300", bad: true},
		{in: "12T", bad: true},
	} {
		got, err := parseRate(tt.in)
		if tt.bad != (err != nil) || got != tt.want {
			t.Errorf("parseRate(%q) = %v, %v; want %v (error: %v)", tt.in, got, err, tt.want, tt.bad)
		}
	}
}

// TestThrottleNeverRunsAhead writes 256 KiB at 1 MiB/s: it cannot take less
// than a quarter of a second (a lower bound only: a slow machine is slower).
func TestThrottleNeverRunsAhead(t *testing.T) {
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

// TestThrottleStopsOnSignal: a paced write returns as soon as the backup is
// interrupted, instead of sleeping out its schedule.
func TestThrottleStopsOnSignal(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	w := &throttled{w: &bytes.Buffer{}, ctx: ctx, rate: 1} // one byte a second
	time.AfterFunc(50*time.Millisecond, cancel)
	done := make(chan struct{})
	go func() { w.Write(make([]byte, 3600)); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("a write paced to an hour did not return after the context was cancelled")
	}
}
