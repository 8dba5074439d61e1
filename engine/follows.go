package engine

import (
	"fmt"

	"github.com/hotpipe/hotpipe/txframe"
)

// follows checks that whole frame f, whose header is h, can come after the
// frame at prev: the next LSN, a commit time not earlier, well-formed
// entries and, with rehash, h(n) = SHA-256(prev.hash || SHA-256(body)).
// Recovery, Check and Apply hold frames to this one rule.
func follows(prev watermark, f []byte, h txframe.Header, rehash bool) error {
	switch {
	case h.LSN != prev.lsn+1:
		return fmt.Errorf("%w: expected LSN %d, found %d", ErrGap, prev.lsn+1, h.LSN)
	case h.Time < prev.time:
		return fmt.Errorf("%w: commit time %d precedes %d", txframe.ErrMalformed, h.Time, prev.time)
	}
	if err := txframe.CheckEntries(f); err != nil {
		return err
	}
	if rehash {
		return txframe.VerifyChain(prev.hash, f)
	}
	return nil
}
