package verify

import (
	"context"
	"fmt"
	"io"
	"time"

	"filippo.io/age"

	"github.com/hotpipe/hotpipe/stream"
	"github.com/hotpipe/hotpipe/txframe"
)

// Options tune a verification. The zero value reports findings only in the
// returned report.
type Options struct {
	// OnFinding, when set, is called with each finding as it is found, in
	// order, on the verifying goroutine: a caller prints findings as they
	// come (bbolt's Tx.Check streams them the same way). Report.Findings
	// holds the same findings, in the same order.
	OnFinding func(Finding)
	// Progress, when set, is called on the verifying goroutine with how
	// far the check has got: by Stream after each record or block of
	// frames, by Database after about every MiB of segment data and once
	// more at the end.
	Progress func(Progress)
	// XZDictMax bounds the dictionary an xz input may make the decoder
	// allocate; 0 means stream.DefaultXZDictMax.
	XZDictMax int
	// Identities decrypt age-encrypted inputs (stream.Options.Identities).
	Identities []age.Identity
	// Quick checks the structure, every CRC32C, LSN contiguity, commit
	// times, the end records and the stored hashes where two records state
	// one (a segment's base against the stream so far, an end record
	// against its last frame), without recomputing the SHA-256 of any
	// body (stream.Options.Quick). It catches torn, cut and damaged
	// streams, not a body rewritten with a recomputed CRC: only a full
	// verify proves content. Database ignores it.
	Quick bool
}

// Progress is how far Stream or Database has got and, when it is known at
// the start, how far it will go. A display shows a percentage and an ETA
// from Bytes of TotalBytes when TotalBytes is not 0, else from LSN of End
// when End is not 0, else counts alone.
type Progress struct {
	Source string // the input, or the database's segment file, being read
	// Offset is, for Stream, the offset in Source of the record or block
	// just checked; for Database, how far into Source the check has got.
	Offset int64
	LSN    uint64 // the last LSN checked so far; 0 before the first frame
	Frames uint64 // frames checked so far, all inputs or segments
	// Bytes is what has been checked so far: for Stream the stream bytes
	// of all inputs, for Database the segment data, damaged frames
	// included, so that it ends at TotalBytes.
	Bytes int64
	// End is the last LSN the check will reach: for Database the durable
	// LSN at the start; 0 when not known (Stream) or the database is
	// empty.
	End uint64
	// TotalBytes is what Bytes will reach: for Database the bytes of
	// durable segment data at the start, from the file sizes; 0 when not
	// known (Stream: its inputs may be pipes, or compressed).
	TotalBytes int64
}

// Report is what Stream found: every finding, and a summary of the frames
// that verified.
type Report struct {
	// Inputs has one line per input name, in the order the inputs were
	// first read. Two inputs of one name (a file given twice) share one.
	Inputs []InputReport
	// Findings are every problem found, in stream order.
	Findings []Finding
	// First and Last are the LSNs of the first and last frames that
	// verified and were new to the stream; 0 when there were none.
	First, Last uint64
	Frames      uint64 // frames that verified and were new to the stream
	Segments    int    // segment headers read
	Bytes       int64  // bytes of headers, new frames and end records read
	// FirstTime and LastTime are the commit times of the frames of First
	// and Last; zero when there were none.
	FirstTime, LastTime time.Time
	// FinalHash is h(Last), the state hash a database restored from the
	// stream would have; zero when there were no frames. After a Quick
	// check it is the hash the last frame stores, not one recomputed.
	FinalHash txframe.Hash
	// Quick says the check was Options.Quick: bodies were not re-hashed.
	Quick bool

	bySource map[string]int // index into Inputs
}

// InputReport sums up one input.
type InputReport struct {
	Source      string // input name
	First, Last uint64 // LSNs of its first and last new frames; 0 when none
	Frames      uint64 // its new frames that verified
	Segments    int    // its segment headers
	Findings    int    // problems found in it
}

// OK reports whether the stream verified: no finding at all.
func (r *Report) OK() bool { return len(r.Findings) == 0 }

// Err returns nil when the stream verified, else an error that says how
// many problems were found and names the first. It unwraps to the first
// Finding, and so to its sentinel.
func (r *Report) Err() error {
	if r.OK() {
		return nil
	}
	first := r.Findings[0]
	return &problems{msg: fmt.Sprintf("verify found %d problem(s); the first: %v", len(r.Findings), first), first: first}
}

// Stream checks inputs, read in order, as one stream, and reports every
// finding: the format, the CRCs of every record and frame, the hash chain
// from each segment's base, contiguity across segments and inputs, and the
// end records. After a problem it goes on from the next segment header, so
// the joins after a damaged region are still checked and a hole the damage
// leaves is reported as a gap. It never modifies its inputs. Compressed
// inputs (xz, gzip, bzip2, zstd) are decompressed.
//
// The error is for what stopped the check itself: the cause of ctx's
// cancellation (stream.Stopped: its cause and context.Canceled), checked between records.
// An input that can stall (a pipe) should be wrapped in stream.Cancelable
// so that a blocked read gives up too. The report is returned in every
// case and says how far the check got; problems in the stream are its
// findings, not the error (see Report.Err).
func Stream(ctx context.Context, inputs []stream.Input, opts Options) (*Report, error) {
	rep := &Report{Quick: opts.Quick}
	rd := stream.NewReader(inputs, stream.Options{KeepGoing: true, ReadAhead: true, MapFiles: true, Quick: opts.Quick,
		XZDictMax: opts.XZDictMax, Identities: opts.Identities})
	defer rd.Close()
	for {
		if err := stream.Stopped(ctx); err != nil {
			return rep, err
		}
		ev, err := rd.Next()
		if err == io.EOF {
			return rep, nil
		}
		if err != nil && ctx.Err() != nil { // a cancelled read, not a finding
			return rep, stream.Stopped(ctx)
		}
		if err != nil {
			rep.found(streamFinding(err), opts.OnFinding)
			rd.Resync()
			continue
		}
		rep.add(ev)
		if opts.Progress != nil {
			opts.Progress(Progress{Source: ev.Source, Offset: ev.Offset, LSN: rep.Last, Frames: rep.Frames, Bytes: rep.Bytes})
		}
	}
}

// input returns the line of the report for source, starting it the first
// time source is seen, by a finding or an event.
func (r *Report) input(source string) *InputReport {
	if i, ok := r.bySource[source]; ok {
		return &r.Inputs[i]
	}
	if r.bySource == nil {
		r.bySource = make(map[string]int)
	}
	r.bySource[source] = len(r.Inputs)
	r.Inputs = append(r.Inputs, InputReport{Source: source})
	return &r.Inputs[len(r.Inputs)-1]
}

// add counts what event ev brought.
func (r *Report) add(ev *stream.Event) {
	in := r.input(ev.Source)
	switch ev.Kind {
	case stream.KindHeader:
		in.Segments++
		r.Segments++
		r.Bytes += stream.HeaderSize
	case stream.KindEnd:
		r.Bytes += stream.EndSize
	case stream.KindFrames:
		n := ev.Last - ev.First + 1
		if in.Frames == 0 {
			in.First = ev.First
		}
		if r.Frames == 0 { // ev.Frames may alias a mapped file: its fields only
			r.First, r.FirstTime = ev.First, time.Unix(0, ev.FirstTime).UTC()
		}
		in.Last, in.Frames = ev.Last, in.Frames+n
		r.Last, r.Frames = ev.Last, r.Frames+n
		r.Bytes += int64(len(ev.Frames))
		r.LastTime, r.FinalHash = time.Unix(0, ev.LastTime).UTC(), ev.LastHash
	}
}

// found records finding f and hands it to onFinding.
func (r *Report) found(f Finding, onFinding func(Finding)) {
	r.Findings = append(r.Findings, f)
	r.input(f.Source).Findings++
	if onFinding != nil {
		onFinding(f)
	}
}
