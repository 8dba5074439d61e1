package engine

import (
	"context"
	"time"
)

// pollInterval is how often WaitDurable looks at the durable watermark. A
// look is one 256-byte pread, so 5 ms keeps a follower within a few
// milliseconds of the writer at a negligible cost in CPU.
const pollInterval = 5 * time.Millisecond

// WaitDurable returns the durable LSN once it is past after, or when ctx is
// done or max has elapsed, whichever comes first. It is how a hot backup
// follows a writer in another process without a lock.
func (db *DB) WaitDurable(ctx context.Context, after uint64, max time.Duration) (uint64, error) {
	deadline := time.Now().Add(max)
	t := time.NewTicker(pollInterval)
	defer t.Stop()
	for {
		lsn, _, err := db.State()
		if err != nil || lsn > after || !time.Now().Before(deadline) {
			return lsn, err
		}
		select {
		case <-ctx.Done():
			return lsn, nil
		case <-t.C:
		}
	}
}
