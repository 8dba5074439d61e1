package repo

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/hotpipe/hotpipe/stream"
)

// rotated is a repository of foo encrypted to old: three archive objects
// and a level 0 backup, then a plain level 1 backup.
func rotated(t *testing.T, r *Repository, old []age.Recipient) *testDB {
	t.Helper()
	d := newTestDB(t, "foo")
	for range 3 {
		d.commit(t, 5)
		archiveEncrypted(t, r, d, old)
	}
	if _, err := r.Backup(context.Background(), d.db, BackupOptions{Recipients: old}); err != nil {
		t.Fatal(err)
	}
	d.commit(t, 5)
	if _, err := r.Backup(context.Background(), d.db, BackupOptions{Level: 1}); err != nil {
		t.Fatal(err)
	}
	return d
}

// generations lists each object of foo's history by its generation: "p"
// for a plain one, "0", "1"... for encrypted ones; superseded ones after
// a "|".
func generations(t *testing.T, r *Repository) string {
	t.Helper()
	c, err := r.Catalog(context.Background(), "foo")
	if err != nil || len(c.Histories) != 1 {
		t.Fatalf("catalog: %v, %v", c, err)
	}
	gen := func(es []Entry) string {
		var b strings.Builder
		for _, e := range es {
			if !e.Encrypted {
				b.WriteByte('p')
			} else {
				b.WriteByte(byte('0' + e.Gen))
			}
		}
		return b.String()
	}
	h := c.Histories[0]
	return gen(h.Objects) + "|" + gen(h.Superseded)
}

func TestRekeyRotatesTheKeys(t *testing.T) {
	eachBackend(t, func(t *testing.T, r *Repository) {
		ctx := context.Background()
		a, toA := keyPair(t)
		b, toB := keyPair(t)
		d := rotated(t, r, toA)
		before := generations(t, r)
		if before != "0000p|" {
			t.Fatalf("before: %s", before)
		}

		dry, err := r.Rekey(ctx, "foo", RekeyOptions{Identities: []age.Identity{a}, Recipients: toB, DryRun: true})
		if err != nil || len(dry.Rekeyed) != 4 || generations(t, r) != before {
			t.Fatalf("dry run: %+v, %v; now %s", dry, err, generations(t, r))
		}
		var seen int
		res, err := r.Rekey(ctx, "foo", RekeyOptions{Identities: []age.Identity{a}, Recipients: toB, Rekeyed: func(Rekeyed) { seen++ }})
		if err != nil || len(res.Rekeyed) != 4 || seen != 4 || res.Plain != 1 || len(res.Unopened) != 0 {
			t.Fatalf("Rekey: %+v, %v", res, err)
		}
		if got := generations(t, r); got != "1111p|" {
			t.Fatalf("after: %s", got)
		}
		want, _ := d.db.HashAt(20)
		if _, lsn, hash := restored(t, r, RestoreOptions{Source: "foo", Identities: []age.Identity{b}}); lsn != 20 || hash != want {
			t.Errorf("restored with the new key to %d %s, want 20 %s", lsn, hash, want)
		}
		if _, err := r.Restore(ctx, t.TempDir(), "copy", RestoreOptions{Source: "foo", Identities: []age.Identity{a}}); !errors.Is(err, stream.ErrNoIdentity) {
			t.Errorf("restore with the old key: %v", err)
		}
		if rep, err := r.Verify(ctx, "foo", VerifyOptions{Identities: []age.Identity{b}}); err != nil || !rep.OK() {
			t.Errorf("Verify with the new key: %v %v", rep.Problems, err)
		}
		// The notes came along: the archive resumes, holding the new public key only.
		d.commit(t, 2)
		archiveEncrypted(t, r, d, toB)

		// The old key opens nothing now; the new one rotates again.
		if _, err := r.Rekey(ctx, "foo", RekeyOptions{Identities: []age.Identity{a}, Recipients: toA}); !errors.Is(err, ErrNothingOpened) {
			t.Fatalf("Rekey with the old key: %v", err)
		}
		if _, err := r.Rekey(ctx, "foo", RekeyOptions{Identities: []age.Identity{b}, Recipients: toA}); err != nil {
			t.Fatal(err)
		}
		if got := generations(t, r); got != "2222p1|" { // the object archived since is of generation 0
			t.Fatalf("after a second rotation: %s", got)
		}
	})
}

// A Rekey that stopped after the copy, before deleting the old object, is
// finished by the next: with the new identity, which reads the copy, the
// old one goes; with the old identity alone, the old one is re-encrypted
// into a copy that supersedes both.
func TestRekeyFinishesAnInterruptedRun(t *testing.T) {
	eachBackend(t, func(t *testing.T, r *Repository) {
		ctx := context.Background()
		a, toA := keyPair(t)
		b, toB := keyPair(t)
		rotated(t, r, toA)
		c, _ := r.Catalog(ctx, "foo")
		interrupted := func() {
			for _, e := range c.Histories[0].Objects[:2] { // crashed before the deletes
				next := e
				next.Gen++
				next.Key = next.Name.String()
				if err := r.copyRekeyed(ctx, e, &next, RekeyOptions{Identities: []age.Identity{a}, Recipients: toB}); err != nil {
					t.Fatal(err)
				}
			}
		}
		interrupted()
		if got := generations(t, r); got != "1100p|00" {
			t.Fatalf("interrupted: %s", got)
		}
		res, err := r.Rekey(ctx, "foo", RekeyOptions{Identities: []age.Identity{a, b}, Recipients: toB})
		if err != nil || len(res.Rekeyed) != 4 || !res.Rekeyed[0].Made || res.Rekeyed[2].Made {
			t.Fatalf("Rekey: %+v, %v", res, err)
		}
		if got := generations(t, r); got != "1111p|" {
			t.Fatalf("finished with the new identity: %s", got)
		}

		c, _ = r.Catalog(ctx, "foo")
		_, toC := keyPair(t)
		for _, e := range c.Histories[0].Objects[:2] { // b → c, interrupted
			next := e
			next.Gen++
			next.Key = next.Name.String()
			if err := r.copyRekeyed(ctx, e, &next, RekeyOptions{Identities: []age.Identity{b}, Recipients: toC}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := r.Rekey(ctx, "foo", RekeyOptions{Identities: []age.Identity{b}, Recipients: toA}); err != nil {
			t.Fatal(err)
		}
		if got := generations(t, r); got != "3322p|" {
			t.Fatalf("finished with the old identity: %s", got)
		}
		if rep, err := r.Verify(ctx, "foo", VerifyOptions{Identities: []age.Identity{a}}); err != nil || !rep.OK() {
			t.Errorf("Verify: %v %v", rep.Problems, err)
		}
	})
}

// flipStore damages one byte of every object created whose name has a
// generation: what a store that corrupts the copy does.
type flipStore struct{ Store }

func (f flipStore) Create(ctx context.Context, name string, r io.Reader, size int64) error {
	if !strings.Contains(name, ".k") {
		return f.Store.Create(ctx, name, r, size)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	b[len(b)-20] ^= 1
	return f.Store.Create(ctx, name, bytes.NewReader(b), size)
}

func TestRekeyKeepsTheOldObjectWhenTheCopyIsDamaged(t *testing.T) {
	eachBackend(t, func(t *testing.T, r *Repository) {
		ctx := context.Background()
		a, toA := keyPair(t)
		_, toB := keyPair(t)
		rotated(t, r, toA)
		before := keys(t, r)
		_, err := New(flipStore{r.Store()}).Rekey(ctx, "foo", RekeyOptions{Identities: []age.Identity{a}, Recipients: toB})
		if !errors.Is(err, stream.ErrDecrypt) || !strings.Contains(err.Error(), "does not verify") {
			t.Fatalf("Rekey through a store that damages copies: %v", err)
		}
		if after := keys(t, r); after != before {
			t.Fatalf("the repository changed:\n%s\n%s", before, after)
		}
	})
}

func TestRekeyRefuses(t *testing.T) {
	eachBackend(t, func(t *testing.T, r *Repository) {
		ctx := context.Background()
		a, toA := keyPair(t)
		rotated(t, r, toA)
		before := keys(t, r)
		if _, err := r.Rekey(ctx, "foo", RekeyOptions{Identities: []age.Identity{a}}); !errors.Is(err, stream.ErrRecipient) {
			t.Errorf("no recipients: %v", err)
		}
		if _, err := r.Rekey(ctx, "foo", RekeyOptions{Recipients: toA}); !errors.Is(err, ErrNothingOpened) {
			t.Errorf("no identity: %v", err)
		}
		if after := keys(t, r); after != before {
			t.Fatalf("the repository changed:\n%s\n%s", before, after)
		}
	})
}
