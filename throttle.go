package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// throttled paces writes to at most rate bytes per second: after each write
// it sleeps until the bytes sent so far are due. Idle time earns no credit,
// so a --follow stream that wakes after an hour does not burst.
type throttled struct {
	w    io.Writer
	ctx  context.Context
	rate float64 // bytes per second
	due  time.Time
}

func (t *throttled) Write(p []byte) (int, error) {
	n, err := t.w.Write(p)
	now := time.Now()
	if t.due.Before(now) {
		t.due = now
	}
	t.due = t.due.Add(time.Duration(float64(n) / t.rate * float64(time.Second)))
	pace(t.ctx, t.due)
	return n, err
}

// parseRate reads a byte rate such as 50M, 1.5G, 800k or 1000000: decimal
// bytes per second with an optional k, M or G suffix (powers of 1024).
func parseRate(s string) (float64, error) {
	mult := 1.0
	num := strings.TrimSuffix(strings.TrimSuffix(s, "/s"), "B")
	if k := len(num) - 1; k >= 0 {
		switch num[k] {
		case 'k', 'K':
			mult, num = 1<<10, num[:k]
		case 'm', 'M':
			mult, num = 1<<20, num[:k]
		case 'g', 'G':
			mult, num = 1<<30, num[:k]
		}
	}
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || v < 0 || v*mult > 1<<50 || v != v {
		return 0, fmt.Errorf("%q is not a rate: use bytes per second, like 50M, 1.5G or 800k", s)
	}
	return v * mult, nil
}

// pace sleeps until at, or until ctx is cancelled: load --rate and
// --max-rate both keep to a schedule with it.
func pace(ctx context.Context, at time.Time) {
	d := time.Until(at)
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
