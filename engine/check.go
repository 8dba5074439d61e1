package engine

import (
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
		prev   watermark // of the frame checked last
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
			n, _ := txframe.FrameLen(block[p:]) // Next checked bounds and CRC
			f := block[p : p+n]
			lsn, t := txframe.Fields(f)
			h := txframe.Header{LSN: lsn, Time: t, Len: n, Hash: txframe.StoredHash(f)}
			if err := follows(prev, f, h, true); err != nil {
				return frames, &CorruptionError{Path: filepath.Join(db.dir, segName(seg)), Offset: off + int64(p), LSN: h.LSN, Err: err}
			}
			prev = watermark{lsn: h.LSN, time: h.Time, hash: h.Hash}
			frames++
			p += n
		}
	}
}
