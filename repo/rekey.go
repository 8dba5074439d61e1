package repo

import (
	"context"
	"errors"
	"fmt"
	"io"

	"filippo.io/age"

	"github.com/hotpipe/hotpipe/stream"
)

// RekeyOptions tune Rekey.
type RekeyOptions struct {
	// Identities open the objects: one must unwrap an object's file key
	// for it to be re-encrypted.
	Identities []age.Identity
	// Recipients are whom the objects are re-encrypted to, at least one.
	Recipients []age.Recipient
	// DryRun lists the encrypted objects and changes nothing.
	DryRun bool
	// Rekeyed, if set, is called after each object re-encrypted.
	Rekeyed func(Rekeyed)
}

// Rekeyed is an object re-encrypted for new recipients.
type Rekeyed struct {
	From []Entry // the object, and copies an interrupted Rekey left; deleted once Into verified
	Into Entry   // the copy for the new recipients, of the next generation
	// Made: Into was there already, from a Rekey that stopped before it
	// deleted From, and the identities given read it.
	Made bool
}

// RekeyResult says what Rekey did and left.
type RekeyResult struct {
	Rekeyed []Rekeyed
	// Unopened are encrypted objects none of the identities opens: written
	// to other recipients (the new ones already, say), left as they are.
	Unopened []Entry
	// Plain counts objects not encrypted, left in clear: Rekey changes
	// keys, it does not encrypt.
	Plain int
}

// ErrNothingOpened means a repository's encrypted objects were all left
// alone by Rekey: none of the identities given opens any of them.
var ErrNothingOpened = fmt.Errorf("none of its encrypted objects opens with the identities given: %w", stream.ErrNoIdentity)

// Rekey re-encrypts the encrypted objects of the repository (db's only,
// when db is not empty) to new recipients without decrypting their
// frames: each one's file key is unwrapped with an identity and wrapped
// for the recipients in a new header (stream.Rekey), the payload copied as
// it is, into a new object of the next generation (Name.Gen). The copy is
// read back whole and authenticated with the file key before the old
// object is deleted, so the frames are held at every moment. An
// interrupted Rekey is finished by the next one, given the old or the new
// identities.
func (r *Repository) Rekey(ctx context.Context, db string, opts RekeyOptions) (RekeyResult, error) {
	var res RekeyResult
	if len(opts.Recipients) == 0 {
		return res, fmt.Errorf("%s: %w: re-keying needs at least one new recipient", r, stream.ErrRecipient)
	}
	c, err := r.Catalog(ctx, db)
	if err != nil {
		return res, err
	}
	encrypted := 0
	for _, h := range c.Histories {
		for _, e := range h.Objects {
			if !e.Encrypted {
				res.Plain++
				continue
			}
			encrypted++
			rk, err := r.rekeyOne(ctx, e, twinsOf(h, e), opts)
			switch {
			case errors.Is(err, stream.ErrNoIdentity):
				res.Unopened = append(res.Unopened, e)
				continue
			case err != nil:
				return res, err
			}
			res.Rekeyed = append(res.Rekeyed, rk)
			if opts.Rekeyed != nil {
				opts.Rekeyed(rk)
			}
		}
	}
	if encrypted > 0 && len(res.Unopened) == encrypted && !opts.DryRun {
		return res, fmt.Errorf("%s: %w", r, ErrNothingOpened)
	}
	return res, nil
}

// twinsOf returns the superseded twins of e in h: copies an interrupted
// Rekey left.
func twinsOf(h *History, e Entry) []Entry {
	var ts []Entry
	for _, s := range h.Superseded {
		if s.twinKey() == e.twinKey() {
			ts = append(ts, s)
		}
	}
	return ts
}

// rekeyOne re-encrypts e, whose older copies are olds. After an
// interrupted Rekey, e is already the new copy: when the identities read
// it, the olds are deleted; else one of them is re-encrypted again, into
// a copy that supersedes e too.
func (r *Repository) rekeyOne(ctx context.Context, e Entry, olds []Entry, opts RekeyOptions) (Rekeyed, error) {
	next := e.Name
	next.Gen++
	rk := Rekeyed{From: append(olds, e), Into: Entry{Name: next, Key: next.String()}}
	if opts.DryRun {
		return rk, nil
	}
	if len(olds) > 0 {
		if _, err := r.check(ctx, &e, opts.Identities); err == nil {
			rk.From, rk.Into, rk.Made = olds, e, true
			return rk, r.deleteAll(ctx, olds)
		}
	}
	var err error
	for _, from := range rk.From {
		if err = r.copyRekeyed(ctx, from, &rk.Into, opts); !errors.Is(err, stream.ErrNoIdentity) {
			break
		}
	}
	if err != nil {
		return rk, err
	}
	return rk, r.deleteAll(ctx, rk.From)
}

// copyRekeyed writes the object into, from's frames re-encrypted for
// opts.Recipients, and reads it back whole to authenticate it.
func (r *Repository) copyRekeyed(ctx context.Context, from Entry, into *Entry, opts RekeyOptions) error {
	src, err := r.store.Open(ctx, from.Key)
	if err != nil {
		return err
	}
	defer src.Close()
	pr, pw := io.Pipe()
	var res stream.RekeyResult
	done := make(chan error, 1)
	go func() {
		var err error
		res, err = stream.Rekey(ctx, pw, stream.Cancelable(ctx, src), stream.RekeyOptions{Identities: opts.Identities, Recipients: opts.Recipients})
		pw.CloseWithError(err)
		done <- err
	}()
	err = r.store.Create(ctx, into.Key, pr, -1)
	pr.CloseWithError(errStopped(err))
	if rerr := <-done; rerr != nil && !errors.Is(rerr, io.ErrClosedPipe) {
		err = rerr // what stopped the copy, not how the store took it
	}
	if err != nil {
		return fmt.Errorf("%s: %s: re-encrypting %s: %w", r, into.Key, from.Key, err)
	}
	if err := r.verifyRekeyed(ctx, into, res); err != nil {
		if derr := r.store.Delete(ctx, into.Key); derr != nil {
			err = errors.Join(err, fmt.Errorf("and it could not be deleted: %w", derr))
		}
		return fmt.Errorf("%s: %s, re-encrypted from %s, does not verify; %s is kept: %w", r, into.Key, from.Key, from.Key, err)
	}
	return nil
}

// verifyRekeyed reads into back whole and authenticates it with the file
// key res holds.
func (r *Repository) verifyRekeyed(ctx context.Context, into *Entry, res stream.RekeyResult) error {
	o, err := r.store.Open(ctx, into.Key)
	if err != nil {
		return err
	}
	defer o.Close()
	into.Size = o.Size()
	return res.Verify(ctx, stream.Cancelable(ctx, o))
}

func (r *Repository) deleteAll(ctx context.Context, es []Entry) error {
	for _, e := range es {
		if err := r.store.Delete(ctx, e.Key); err != nil {
			return err
		}
	}
	return nil
}
