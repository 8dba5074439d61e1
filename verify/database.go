package verify

import (
	"context"
	"fmt"

	"github.com/hotpipe/hotpipe/engine"
	"github.com/hotpipe/hotpipe/stream"
	"github.com/hotpipe/hotpipe/txframe"
)

// DBReport is what Database found: every finding, and a summary of the
// durable history it read.
type DBReport struct {
	DB       string       // the database's name
	Findings []Finding    // every damaged frame, seal or watermark, in log order
	Last     uint64       // the last durable LSN
	Hash     txframe.Hash // h(Last) as the last frame read stores it
	Frames   uint64       // frames that passed every check
	Segments int          // segment files read
	Bytes    int64        // bytes of the frames that passed
}

// OK reports whether the database verified: no finding at all.
func (r *DBReport) OK() bool { return len(r.Findings) == 0 }

// Err returns nil when the database verified, else an error that is
// engine.ErrCorrupt to errors.Is, says how many problems were found, and
// unwraps to the first Finding.
func (r *DBReport) Err() error {
	if r.OK() {
		return nil
	}
	return &problems{
		msg: fmt.Sprintf("%s: %v: db check found %d problem(s)", r.DB, engine.ErrCorrupt, len(r.Findings)),
		is:  engine.ErrCorrupt, first: r.Findings[0],
	}
}

// Database verifies every byte of db's durable history (engine's
// CheckAll): every frame's bounds, CRC, entries, contiguous LSNs, commit
// times and the chained hash from LSN 1, and every finished segment's
// seal. It reports every damaged frame as a Finding naming the segment
// file, the offset and the LSN, each engine.ErrCorrupt and its cause to
// errors.Is (txframe.ErrChecksum, say). It never writes: opened read-only
// (engine.Options{ReadOnly: true}), db may have a writer in another
// process, and the durable prefix at the start is what is checked.
//
// Options.Progress, when set, is called after about every MiB checked and
// once more at the end, with the durable LSN and the bytes of segment data
// the check will reach (Progress.End and TotalBytes) known from the start.
//
// The error is for what stopped the check itself (reading a file failed,
// or the cause of ctx's cancellation, checked about every MiB); the report
// is returned in every case and says how far the check got.
func Database(ctx context.Context, db *engine.DB, opts Options) (*DBReport, error) {
	rep := &DBReport{DB: db.Name()}
	copts := engine.CheckOptions{Found: func(p *engine.CorruptionError) {
		f := dbFinding(p)
		rep.Findings = append(rep.Findings, f)
		if opts.OnFinding != nil {
			opts.OnFinding(f)
		}
	}}
	if opts.Progress != nil {
		copts.Progress = func(p engine.CheckProgress) {
			opts.Progress(Progress{Source: p.Path, Offset: p.Offset, LSN: p.LSN, Frames: p.Frames, Bytes: p.Bytes, End: p.End, TotalBytes: p.TotalBytes})
		}
	}
	sum, err := db.CheckAll(ctx, copts)
	rep.Last, rep.Hash, rep.Frames, rep.Segments, rep.Bytes = sum.Last, sum.Hash, sum.Frames, sum.Segments, sum.Bytes
	if err := stream.Stopped(ctx); err != nil {
		return rep, err
	}
	return rep, err
}
