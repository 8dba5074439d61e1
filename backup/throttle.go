package backup

import (
	"context"
	"io"
	"time"
)

// throttled paces writes to at most rate bytes per second: after each
// write it sleeps until the bytes sent so far are due, or until ctx is
// done (the backup then stops at its next frame boundary). Idle time earns
// no credit, so a following backup that wakes after an hour does not burst.
type throttled struct {
	w    io.Writer
	ctx  context.Context
	rate float64 // bytes per second
	due  time.Time
}

func (t *throttled) Write(p []byte) (int, error) {
	n, err := t.w.Write(p)
	if err != nil {
		return n, err
	}
	now := time.Now()
	if t.due.Before(now) {
		t.due = now
	}
	t.due = t.due.Add(time.Duration(float64(n) / t.rate * float64(time.Second)))
	if d := t.due.Sub(now); d > 0 {
		timer := time.NewTimer(d)
		defer timer.Stop()
		select {
		case <-timer.C:
		case <-t.ctx.Done():
		}
	}
	return n, nil
}
