package repo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"

	"filippo.io/age"

	"github.com/hotpipe/hotpipe/stream"
	"github.com/hotpipe/hotpipe/txframe"
)

// Problem is one thing wrong in a repository: a damaged object, one whose
// content is not what its name says, two objects that disagree about a
// history, or LSNs no object holds.
type Problem struct {
	Key    string // the object; "" for a gap
	Offset int64  // in the object, where known
	LSN    uint64 // the LSN concerned, where known
	Err    error  // wraps a sentinel: stream's and txframe's for damage, txframe.ErrHistory or ErrGap
}

func (p Problem) Error() string {
	switch {
	case p.Key == "":
		return p.Err.Error()
	case p.LSN != 0:
		return fmt.Sprintf("%s: offset %d (LSN %d): %v", p.Key, p.Offset, p.LSN, p.Err)
	}
	return fmt.Sprintf("%s: offset %d: %v", p.Key, p.Offset, p.Err)
}

func (p Problem) Unwrap() error { return p.Err }

// VerifyReport is what Verify found.
type VerifyReport struct {
	Histories int
	Objects   int   // objects read whole
	Bytes     int64 // their bytes
	Frames    uint64
	Problems  []Problem
}

// OK reports whether the repository verified.
func (v *VerifyReport) OK() bool { return len(v.Problems) == 0 }

// Err is nil when the repository verified, else the first damage found
// (an integrity error), or else the first history problem or gap.
func (v *VerifyReport) Err() error {
	if v.OK() {
		return nil
	}
	first := v.Problems[0]
	for _, p := range v.Problems {
		if !errors.Is(p.Err, txframe.ErrHistory) && !errors.Is(p.Err, txframe.ErrGap) {
			first = p
			break
		}
	}
	return fmt.Errorf("repo verify found %d problem(s); the first: %w", len(v.Problems), first)
}

// VerifyOptions tune Verify.
type VerifyOptions struct {
	// OnProblem, if set, is called with each problem as it is found.
	OnProblem func(Problem)
	// Progress, if set, is called after each object with the bytes and
	// objects read so far.
	Progress func(objects int, bytes int64)
	// Identities decrypt age-encrypted objects (stream.Options.Identities).
	Identities []age.Identity
}

// ErrNameMismatch means an object's content is not what its name says.
var ErrNameMismatch = errors.New("object content does not match its name")

// Verify reads every object of the repository (db's only, when db is not
// empty) once, whole, and checks it: its format, every CRC, its hash chain
// from its base, that it holds exactly what its name says (database,
// origin, LSNs, commit times) and ends in its end record. Across objects,
// it checks that every two objects that state the hash at one LSN (where
// one starts or ends) agree, and names the LSNs no object holds. It goes
// on after a problem, so that one run reports them all.
func (r *Repository) Verify(ctx context.Context, db string, opts VerifyOptions) (*VerifyReport, error) {
	c, err := r.Catalog(ctx, db)
	if err != nil {
		return nil, err
	}
	rep := &VerifyReport{Histories: len(c.Histories)}
	found := func(p Problem) {
		rep.Problems = append(rep.Problems, p)
		if opts.OnProblem != nil {
			opts.OnProblem(p)
		}
	}
	for _, h := range c.Histories {
		v := &historyCheck{r: r, h: h, found: found, claims: map[uint64][]claim{}, ids: opts.Identities}
		for _, e := range h.Objects {
			v.bounds = append(v.bounds, e.First-1, e.Last)
		}
		slices.Sort(v.bounds)
		for _, e := range h.Objects {
			if err := ctx.Err(); err != nil {
				return rep, stream.Stopped(ctx)
			}
			frames, err := v.object(ctx, e)
			if err != nil {
				return rep, err
			}
			rep.Objects++
			rep.Bytes += e.Size
			rep.Frames += frames
			if opts.Progress != nil {
				opts.Progress(rep.Objects, rep.Bytes)
			}
		}
		v.agree()
		for _, g := range h.Gaps() {
			found(Problem{LSN: g.First, Err: fmt.Errorf("%s: %w", h.name(), &txframe.GapError{From: g.First, To: g.Last})})
		}
	}
	return rep, nil
}

// historyCheck verifies the objects of one history.
type historyCheck struct {
	r      *Repository
	h      *History
	found  func(Problem)
	bounds []uint64 // LSNs where some object starts (after) or ends, sorted
	claims map[uint64][]claim
	ids    []age.Identity
}

// claim is an object's word on h(LSN).
type claim struct {
	key  string
	hash txframe.Hash
}

// object reads one object whole and checks it against its name; the
// error is only for what stopped the check (cancellation).
func (v *historyCheck) object(ctx context.Context, e Entry) (uint64, error) {
	o, err := v.r.store.Open(ctx, e.Key)
	if err != nil {
		if ctx.Err() != nil {
			return 0, stream.Stopped(ctx)
		}
		v.found(Problem{Key: e.Key, Err: err})
		return 0, nil
	}
	defer o.Close()
	rd := stream.NewReader([]stream.Input{{Name: e.Key, R: stream.Cancelable(ctx, o)}}, stream.Options{Identities: v.ids})
	var frames uint64
	var firstTime, lastTime int64
	ended := false
	for {
		ev, err := rd.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			if ctx.Err() != nil {
				return frames, stream.Stopped(ctx)
			}
			v.damaged(e, err)
			return frames, nil
		}
		switch ev.Kind {
		case stream.KindHeader:
			if h := ev.Header; h.Name != e.DB || h.Origin != e.Origin || h.Base != e.First-1 {
				v.mismatch(e, ev.Offset, fmt.Sprintf("its header says database %q, origin %s, base LSN %d", h.Name, h.Origin, h.Base))
				return frames, nil
			}
			v.claim(e, e.First-1, ev.Header.BaseHash)
		case stream.KindFrames:
			if frames == 0 {
				_, firstTime = txframe.Fields(ev.Frames)
			}
			frames += ev.Last - ev.First + 1
			lastTime = ev.LastTime
			v.claimInside(e, ev)
		case stream.KindEnd:
			ended = true
		}
	}
	switch {
	case !ended || frames != e.Last-e.First+1:
		v.mismatch(e, 0, fmt.Sprintf("it holds %d frames, its name says %d..%d", frames, e.First, e.Last))
	case firstTime != e.FirstTime.UnixNano() || lastTime != e.LastTime.UnixNano():
		v.mismatch(e, 0, "its commit times are not those of its name")
	case e.Encrypted:
		last, hash := rd.Last()
		v.endTag(e, o, last, hash)
	}
	return frames, nil
}

// endTag checks that the encrypted object e's note is of the hash its
// frames end with.
func (v *historyCheck) endTag(e Entry, o Object, last uint64, hash txframe.Hash) {
	tag, err := stream.ReadEndTag(io.NewSectionReader(o, 0, o.Size()))
	switch {
	case err != nil:
		v.found(Problem{Key: e.Key, Err: err})
	case tag.LSN != last || !tag.Matches(hash):
		v.found(Problem{Key: e.Key, LSN: last, Err: fmt.Errorf("%w: its hotpipe-end note (LSN %d) is not of the h = %s its frames end with", txframe.ErrHistory, tag.LSN, hash)})
	}
}

// claimInside records the hashes a block of frames states at the
// history's boundary LSNs.
func (v *historyCheck) claimInside(e Entry, ev *stream.Event) {
	i, _ := slices.BinarySearch(v.bounds, ev.First)
	if i == len(v.bounds) || v.bounds[i] > ev.Last {
		return
	}
	for f := range txframe.Frames(ev.Frames) {
		lsn, _ := txframe.Fields(f)
		if _, ok := slices.BinarySearch(v.bounds, lsn); ok {
			v.claim(e, lsn, txframe.StoredHash(f))
		}
	}
}

func (v *historyCheck) claim(e Entry, lsn uint64, h txframe.Hash) {
	if lsn > 0 {
		v.claims[lsn] = append(v.claims[lsn], claim{e.Key, h})
	}
}

// agree reports every LSN at which two objects state different hashes.
func (v *historyCheck) agree() {
	lsns := make([]uint64, 0, len(v.claims))
	for lsn := range v.claims {
		lsns = append(lsns, lsn)
	}
	slices.Sort(lsns)
	for _, lsn := range lsns {
		cs := v.claims[lsn]
		for _, c := range cs[1:] {
			if c.hash != cs[0].hash {
				v.found(Problem{Key: c.key, LSN: lsn, Err: fmt.Errorf("%w: h(%d) is %s here and %s in %s",
					txframe.ErrHistory, lsn, c.hash, cs[0].hash, cs[0].key)})
				break
			}
		}
	}
}

func (v *historyCheck) damaged(e Entry, err error) {
	p := Problem{Key: e.Key, Err: err}
	var se *stream.Error
	if errors.As(err, &se) {
		p.Offset, p.LSN, p.Err = se.Offset, se.LSN, se.Err
	}
	v.found(p)
}

func (v *historyCheck) mismatch(e Entry, off int64, what string) {
	v.found(Problem{Key: e.Key, Offset: off, Err: fmt.Errorf("%w: %s", ErrNameMismatch, what)})
}
