package repo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"filippo.io/age"

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
	// Recipients, when set, encrypt the merged objects with age to each
	// of them. Identities decrypt the encrypted objects merged. Merging an
	// encrypted object needs both: its frames are never stored in clear.
	Recipients []age.Recipient
	Identities []age.Identity
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
// (an archive object that exactly tiles others), then new ones, encrypted
// when encrypt is set.
func (h *History) merges(target int64, encrypt bool) []Merge {
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
		ms = append(ms, Merge{From: run, Into: merged(run, encrypt)})
	}
	return ms
}

// keysFor checks that opts hold the keys the merges ms of h need: an
// identity to read an encrypted object, recipients to keep its frames
// encrypted.
func (r *Repository) keysFor(h *History, ms []Merge, opts CompactOptions) error {
	encrypted := 0
	for _, m := range ms {
		for _, e := range m.From {
			if e.Encrypted {
				encrypted++
			}
		}
		if m.Made && m.Into.Encrypted {
			encrypted++
		}
	}
	switch {
	case encrypted == 0:
		return nil
	case len(opts.Identities) == 0:
		return fmt.Errorf("%s: %s: %d of the objects to merge are encrypted, and %w", r, h.name(), encrypted, stream.ErrNoIdentity)
	case len(opts.Recipients) == 0:
		return fmt.Errorf("%s: %s: %d of the objects to merge are encrypted, and %w", r, h.name(), encrypted, ErrDecryptedCopy)
	}
	return nil
}

// ErrDecryptedCopy means an operation would store encrypted frames in
// clear: give it recipients to encrypt them to.
var ErrDecryptedCopy = errors.New("no recipients were given to keep their frames encrypted in the merged objects")

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
		ms := h.merges(opts.TargetSize, len(opts.Recipients) > 0)
		if err := r.keysFor(h, ms, opts); err != nil && !opts.DryRun {
			return out, err
		}
		for _, m := range ms {
			if !opts.DryRun {
				if err := r.merge(ctx, &m, opts); err != nil {
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
func merged(run []Entry, encrypt bool) Entry {
	n := run[0].Name
	last := run[len(run)-1]
	n.Last, n.LastTime, n.Expires = last.Last, last.LastTime, time.Time{}
	n.Encrypted, n.Gen = encrypt, 0
	return Entry{Name: n, Key: n.String()}
}

// merge writes m.Into from m.From, verifies it, and deletes m.From.
func (r *Repository) merge(ctx context.Context, m *Merge, opts CompactOptions) error {
	var wrote txframe.Tip
	err := ErrExist
	if !m.Made {
		wrote, err = r.write(ctx, m, opts)
	}
	made := errors.Is(err, ErrExist) // an interrupted Compact wrote it: check it, then finish
	if err != nil && !made {
		return err
	}
	got, err := r.check(ctx, &m.Into, opts.Identities)
	if err != nil {
		return err
	}
	if made {
		end, err := r.end(ctx, m.From[len(m.From)-1])
		if err != nil {
			return err
		}
		err = end.same(got.Hash, r.String()+": "+m.Into.Key)
	} else {
		err = txframe.SameHash(got.LSN, got.Hash, wrote.Hash, r.String()+": "+m.Into.Key, "the merged objects")
	}
	if err != nil {
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
// new object m.Into, decrypted with opts.Identities and encrypted to
// opts.Recipients where they are, and returns where it ends.
func (r *Repository) write(ctx context.Context, m *Merge, opts CompactOptions) (txframe.Tip, error) {
	var tag stream.EndTag
	if m.Into.Encrypted { // the note is the last small object's: the same LSN and hash
		end, err := r.end(ctx, m.From[len(m.From)-1])
		if err != nil {
			return txframe.Tip{}, err
		}
		tag = end.tag
	}
	inputs := make([]stream.Input, len(m.From))
	for i, e := range m.From {
		inputs[i] = stream.Input{Name: r.String() + "/" + e.Key, R: &lazyObject{ctx: ctx, store: r.store, key: e.Key}}
	}
	defer func() {
		for _, in := range inputs {
			in.R.(*lazyObject).close()
		}
	}()
	rd := stream.NewReader(inputs, stream.Options{Identities: opts.Identities})
	pr, pw := io.Pipe()
	done := make(chan txframe.Tip, 1)
	go func() {
		tip, err := copyMerged(rd, pw, opts.Recipients, tag)
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

// copyMerged writes the frames rd yields into w as one segment, encrypted
// with the note tag when there are recipients. The note must be of the
// hash the frames end with.
func copyMerged(rd *stream.Reader, w io.Writer, recipients []age.Recipient, tag stream.EndTag) (txframe.Tip, error) {
	if len(recipients) == 0 {
		return copySegment(rd, w)
	}
	enc, err := age.Encrypt(w, withEndTag(recipients, tag)...)
	if err != nil {
		return txframe.Tip{}, err
	}
	tip, err := copySegment(rd, enc)
	if err != nil {
		return tip, err
	}
	if tip.LSN != tag.LSN || !tag.Matches(tip.Hash) {
		return tip, fmt.Errorf("%w at LSN %d: the frames end with h = %s, not the hash of the last object's hotpipe-end note", txframe.ErrHistory, tip.LSN, tip.Hash)
	}
	return tip, enc.Close()
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

// check reads the object e back whole, verifying it (decrypted with ids),
// and returns where it ends; an encrypted one's note must say the same.
func (r *Repository) check(ctx context.Context, e *Entry, ids []age.Identity) (txframe.Tip, error) {
	o, err := r.store.Open(ctx, e.Key)
	if err != nil {
		return txframe.Tip{}, err
	}
	defer o.Close()
	e.Size = o.Size()
	key := r.String() + "/" + e.Key
	rd := stream.NewReader([]stream.Input{{Name: key, R: stream.Cancelable(ctx, o)}}, stream.Options{Identities: ids})
	ended := false
	for {
		ev, err := rd.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return txframe.Tip{}, err
		}
		ended = ended || ev.Kind == stream.KindEnd
	}
	last, hash := rd.Last()
	if !ended || last != e.Last {
		return txframe.Tip{}, fmt.Errorf("%s: %s: %w: it ends at LSN %d", r, e.Key, ErrNameMismatch, last)
	}
	if e.Encrypted {
		tag, err := stream.ReadEndTag(io.NewSectionReader(o, 0, o.Size()))
		if err != nil {
			return txframe.Tip{}, fmt.Errorf("%s: %w", key, err)
		}
		if tag.LSN != last || !tag.Matches(hash) {
			return txframe.Tip{}, fmt.Errorf("%s: %w at LSN %d: its hotpipe-end note is not of the h = %s its frames end with", key, txframe.ErrHistory, last, hash)
		}
	}
	return txframe.Tip{LSN: last, Hash: hash}, nil
}
