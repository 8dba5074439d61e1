package engine

import (
	"fmt"
	"io"
	"path/filepath"

	"github.com/hotpipe/hotpipe/txframe"
)

// Check reads the whole durable prefix and verifies every frame: bounds,
// CRC, body, contiguous LSNs, non-decreasing commit times and the chained
// hash from h(0). It returns the number of frames checked, or a
// *CorruptionError at the first damaged frame. It never writes.
func (db *DB) Check() (uint64, error) {
	r, err := db.Frames(1, 0)
	if err != nil {
		return 0, err
	}
	defer r.Close()
	var (
		prev   txframe.Hash
		last   int64
		frames uint64
	)
	for {
		block, err := r.Next()
		if err == io.EOF {
			return frames, nil
		}
		if err != nil {
			return frames, err
		}
		seg, off := r.Position()
		for p := 0; p < len(block); {
			h, _ := txframe.Peek(block[p:]) // Next checked bounds and CRC
			f := block[p : p+h.Len]
			err := txframe.ForEachEntry(f, func(txframe.Entry, int) error { return nil })
			if err == nil && h.Time < last {
				err = fmt.Errorf("commit time %d precedes %d", h.Time, last)
			}
			if err == nil {
				err = txframe.VerifyChain(prev, f)
			}
			if err != nil {
				return frames, &CorruptionError{Path: filepath.Join(db.dir, segName(seg)), Offset: off + int64(p), LSN: h.LSN, Err: err}
			}
			prev, last = h.Hash, h.Time
			frames++
			p += h.Len
		}
	}
}
