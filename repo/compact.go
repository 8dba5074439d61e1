package repo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/hotpipe/hotpipe/stream"
	"github.com/hotpipe/hotpipe/txframe"
)

// CompactOptions tune Compact.
type CompactOptions struct {
	// TargetSize is the most bytes of objects merged into one; 0 means
	// 256 MiB.
	TargetSize int64
	// DryRun decides the merges and writes nothing.
	DryRun bool
	// Merged, if set, is called after each merge.
	Merged func(Merge)
}

// Merge is archive objects merged into one.
type Merge struct {
	Into Entry   // the new object
	From []Entry // the objects it replaces, deleted once it verified
	// Made: Into was there already, from a Compact that stopped before it
	// deleted From.
	Made bool
}

// merges returns the merges to do in h: those an interrupted Compact left
// (an archive object that exactly tiles others), then new ones.
func (h *History) merges(target int64) []Merge {
	var ms []Merge
	inside := map[string]bool{}
	for _, big := range h.Objects {
		if big.Kind != Archive {
			continue
		}
		var tile []Entry
		next := big.First
		for _, e := range h.Objects {
			if e.Kind == Archive && e.Key != big.Key && e.First == next && e.Last <= big.Last {
				tile, next = append(tile, e), e.Last+1
			}
		}
		if len(tile) > 1 && next == big.Last+1 {
			ms = append(ms, Merge{Into: big, From: tile, Made: true})
			for _, e := range tile {
				inside[e.Key] = true
			}
			inside[big.Key] = true
		}
	}
	var rest History
	for _, e := range h.Objects {
		if !inside[e.Key] {
			rest.Objects = append(rest.Objects, e)
		}
	}
	for _, run := range rest.archiveRuns(target) {
		ms = append(ms, Merge{From: run, Into: merged(run)})
	}
	return ms
}

// Compact merges runs of small archive objects (each starting right after
// the one before) into objects of up to TargetSize, so that a restore from
// a long archive reads few objects. A merged object is written whole
// (create-only), then read back and verified (every frame, and the hash
// at its end the last small object's) before the small ones are deleted:
// at every moment the repository holds the frames at least once. A merge
// a crash interrupted is finished by the next Compact, which finds the
// merged object already there, verifies it and deletes the small ones.
func (r *Repository) Compact(ctx context.Context, db string, opts CompactOptions) ([]Merge, error) {
	if opts.TargetSize <= 0 {
		opts.TargetSize = 256 << 20
	}
	c, err := r.Catalog(ctx, db)
	if err != nil {
		return nil, err
	}
	var out []Merge
	for _, h := range c.Histories {
		for _, m := range h.merges(opts.TargetSize) {
			if !opts.DryRun {
				if err := r.merge(ctx, &m); err != nil {
					return out, err
				}
			}
			out = append(out, m)
			if opts.Merged != nil {
				opts.Merged(m)
			}
		}
	}
	return out, nil
}

// archiveRuns returns runs of two or more archive objects, each starting
// right after the one before, of up to target bytes together. An archive
// object that overlaps the run (a copy) ends it.
func (h *History) archiveRuns(target int64) [][]Entry {
	var runs [][]Entry
	var run []Entry
	var size int64
	flush := func() {
		if len(run) > 1 {
			runs = append(runs, run)
		}
		run, size = nil, 0
	}
	for _, e := range h.Objects {
		if e.Kind != Archive {
			continue
		}
		if n := len(run); n > 0 && (e.First != run[n-1].Last+1 || size+e.Size > target) {
			flush()
		}
		if e.Size > target {
			continue
		}
		run = append(run, e)
		size += e.Size
	}
	flush()
	return runs
}

// merged names the object a run becomes.
func merged(run []Entry) Entry {
	n := run[0].Name
	last := run[len(run)-1]
	n.Last, n.LastTime, n.Expires = last.Last, last.LastTime, time.Time{}
	return Entry{Name: n, Key: n.String()}
}

// merge writes m.Into from m.From, verifies it, and deletes m.From.
func (r *Repository) merge(ctx context.Context, m *Merge) error {
	var want txframe.Tip
	err := ErrExist
	if !m.Made {
		want, err = r.write(ctx, m)
	}
	if errors.Is(err, ErrExist) { // an interrupted Compact wrote it: check it, then finish
		last := m.From[len(m.From)-1]
		want = txframe.Tip{LSN: last.Last}
		want.Hash, err = r.endHash(ctx, last)
	}
	if err != nil {
		return err
	}
	if err := r.check(ctx, &m.Into, want); err != nil {
		return err
	}
	for _, e := range m.From {
		if err := r.store.Delete(ctx, e.Key); err != nil {
			return err
		}
	}
	return nil
}

// write copies the frames of m.From, verified as they are read, into the
// new object m.Into, and returns the hash at its end.
func (r *Repository) write(ctx context.Context, m *Merge) (txframe.Tip, error) {
	inputs := make([]stream.Input, len(m.From))
	for i, e := range m.From {
		inputs[i] = stream.Input{Name: r.String() + "/" + e.Key, R: &lazyObject{ctx: ctx, store: r.store, key: e.Key}}
	}
	defer func() {
		for _, in := range inputs {
			in.R.(*lazyObject).close()
		}
	}()
	rd := stream.NewReader(inputs, stream.Options{})
	pr, pw := io.Pipe()
	done := make(chan txframe.Tip, 1)
	go func() {
		tip, err := copySegment(rd, pw)
		pw.CloseWithError(err)
		done <- tip
	}()
	err := r.store.Create(ctx, m.Into.Key, pr, -1)
	pr.CloseWithError(errStopped(err))
	tip := <-done
	if err != nil {
		return tip, fmt.Errorf("%s: %s: %w", r, m.Into.Key, err)
	}
	return tip, nil
}

// copySegment writes the frames rd yields as one segment into w.
func copySegment(rd *stream.Reader, w io.Writer) (txframe.Tip, error) {
	var sw *stream.Writer
	for {
		ev, err := rd.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return txframe.Tip{}, err
		}
		switch {
		case ev.Kind == stream.KindHeader && sw == nil:
			h := ev.Header
			h.Created = time.Now().UTC()
			if sw, err = stream.NewWriter(w, h); err != nil {
				return txframe.Tip{}, err
			}
		case ev.Kind == stream.KindFrames:
			if err := sw.WriteFrames(ev.Frames); err != nil {
				return txframe.Tip{}, err
			}
		}
	}
	if sw == nil {
		return txframe.Tip{}, fmt.Errorf("%w: nothing to merge", stream.ErrEmpty)
	}
	last, hash := rd.Last()
	return txframe.Tip{LSN: last, Hash: hash, Time: sw.LastTime()}, sw.Close()
}

// check reads the object e back whole, verifying it, and compares where it
// ends with want (when known).
func (r *Repository) check(ctx context.Context, e *Entry, want txframe.Tip) error {
	o, err := r.store.Open(ctx, e.Key)
	if err != nil {
		return err
	}
	defer o.Close()
	e.Size = o.Size()
	rd := stream.NewReader([]stream.Input{{Name: r.String() + "/" + e.Key, R: stream.Cancelable(ctx, o)}}, stream.Options{})
	ended := false
	for {
		ev, err := rd.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		ended = ended || ev.Kind == stream.KindEnd
	}
	last, hash := rd.Last()
	switch {
	case !ended || last != e.Last:
		return fmt.Errorf("%s: %s: %w: it ends at LSN %d", r, e.Key, ErrNameMismatch, last)
	case want.LSN != 0 && hash != want.Hash:
		return fmt.Errorf("%s: %s: %w: h(%d) is %s, the merged objects' is %s", r, e.Key, txframe.ErrHistory, last, hash, want.Hash)
	}
	return nil
}

// endHash reads h(e.Last) from e's end record: one small read at its end.
func (r *Repository) endHash(ctx context.Context, e Entry) (txframe.Hash, error) {
	o, err := r.store.Open(ctx, e.Key)
	if err != nil {
		return txframe.Hash{}, err
	}
	defer o.Close()
	tail, err := stream.ReadTail(o, o.Size(), e.Key)
	if err != nil {
		return txframe.Hash{}, err
	}
	if !tail.Complete || tail.Last != e.Last {
		return txframe.Hash{}, fmt.Errorf("%s: %s: %w: it ends at LSN %d, its name says %d", r, e.Key, stream.ErrEndMismatch, tail.Last, e.Last)
	}
	return tail.LastHash, nil
}
