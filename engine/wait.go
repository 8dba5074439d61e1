package engine

import (
	"context"
	"path/filepath"
	"time"
)

// pollInterval is how often WaitDurable looks at the durable watermark
// when nothing tells it of a change (no watch on DURABLE). A look is one
// 256-byte pread, so 5 ms keeps a follower within a few milliseconds of
// the writer at a negligible cost in CPU.
const pollInterval = 5 * time.Millisecond

func durablePath(dir string) string { return filepath.Join(dir, durableFile) }

// WaitDurable returns the durable LSN once it is past after, or when ctx is
// done or max has elapsed, whichever comes first. It is how a hot backup
// follows a writer in another process without a lock: it wakes when the
// writer publishes a new watermark (watching DURABLE where the system
// allows, else looking every pollInterval).
func (db *DB) WaitDurable(ctx context.Context, after uint64, max time.Duration) (uint64, error) {
	deadline := time.NewTimer(max)
	defer deadline.Stop()
	every := pollInterval
	if db.opts.pollEvery > 0 {
		every = db.opts.pollEvery
	}
	var tick *time.Ticker
	defer func() {
		if tick != nil {
			tick.Stop()
		}
	}()
	last := false
	for {
		changed, poll := db.wake.changed(db) // before the look: no change is missed
		lsn, _, err := db.State()
		if err != nil || lsn > after || last {
			return lsn, err
		}
		var ticks <-chan time.Time
		if poll {
			if tick == nil {
				tick = time.NewTicker(every)
			}
			ticks = tick.C
		}
		if db.opts.beforeWait != nil {
			db.opts.beforeWait()
		}
		select {
		case <-ctx.Done():
			return lsn, nil
		case <-deadline.C:
			last = true // one more look
		case <-changed:
		case <-ticks:
			db.wake.polls.Add(1)
		}
	}
}
