// Command followlag measures how far behind its source a hot-backup --follow
// stream runs. It reads the stream on stdin and, for every frame committed
// after it started, records the time from the frame's commit to its arrival;
// when the stream ends it prints the count, median, p90, p99 and worst.
//
// The commit time is stamped when the writer encodes the frame, before its
// fsync, so each figure is an upper bound on the time from durable to output.
//
//	hotpipe load foo --txs 100000000 --rate 5000 &
//	timeout -s INT 60 hotpipe hot-backup foo --follow --start-lsn N | go run ./bench/followlag
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"time"

	"github.com/hotpipe/hotpipe/stream"
	"github.com/hotpipe/hotpipe/txframe"
)

func main() {
	lags, err := measure(os.Stdin, time.Now())
	if err != nil {
		fmt.Fprintln(os.Stderr, "followlag:", err)
		os.Exit(1)
	}
	if len(lags) == 0 {
		fmt.Fprintln(os.Stderr, "followlag: no frame committed after the start arrived")
		os.Exit(1)
	}
	sort.Slice(lags, func(i, j int) bool { return lags[i] < lags[j] })
	at := func(q float64) time.Duration { return lags[int(q*float64(len(lags)-1))] }
	fmt.Fprintf(os.Stdout, "frames %d  median %s  p90 %s  p99 %s  worst %s\n",
		len(lags), at(0.5).Round(time.Microsecond), at(0.9).Round(time.Microsecond),
		at(0.99).Round(time.Microsecond), lags[len(lags)-1].Round(time.Microsecond))
}

// measure reads a stream and returns arrival minus commit time for each
// frame committed after start.
func measure(in io.Reader, start time.Time) ([]time.Duration, error) {
	r := stream.NewReader([]stream.Input{{Name: "stdin", R: in}}, stream.Options{})
	var lags []time.Duration
	for {
		ev, err := r.Next()
		if errors.Is(err, io.EOF) {
			return lags, nil
		}
		if err != nil {
			return lags, err
		}
		if ev.Kind != stream.KindFrames {
			continue
		}
		now := time.Now()
		for f := range txframe.Frames(ev.Frames) {
			if _, at := txframe.Fields(f); at >= start.UnixNano() {
				lags = append(lags, now.Sub(time.Unix(0, at)))
			}
		}
	}
}
