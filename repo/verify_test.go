package repo

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"

	"github.com/hotpipe/hotpipe/stream"
	"github.com/hotpipe/hotpipe/txframe"
)

// archived makes a repository of foo's LSNs 1..30 in three backups
// (levels 0, 1, 2) and the archive's objects, and returns its catalog.
func archived(t *testing.T, r *Repository) (*testDB, *History) {
	t.Helper()
	ctx := context.Background()
	d := newTestDB(t, "foo")
	for level := range 3 {
		d.commit(t, 10)
		if _, err := r.Backup(ctx, d.db, BackupOptions{Level: level}); err != nil {
			t.Fatal(err)
		}
	}
	c, err := r.Catalog(ctx, "foo")
	if err != nil {
		t.Fatal(err)
	}
	return d, c.History("foo", d.origin(t))
}

// replace puts other bytes under an object's name: what bit rot or a
// tampering hand leaves.
func replace(t *testing.T, r *Repository, key string, edit func([]byte) []byte) {
	t.Helper()
	ctx := context.Background()
	o, err := r.Store().Open(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(o)
	o.Close()
	if err != nil {
		t.Fatal(err)
	}
	b = edit(b)
	if err := r.Store().Delete(ctx, key); err != nil {
		t.Fatal(err)
	}
	if err := r.Store().Create(ctx, key, bytes.NewReader(b), int64(len(b))); err != nil {
		t.Fatal(err)
	}
}

func TestVerifyPassesAGoodRepository(t *testing.T) {
	eachBackend(t, func(t *testing.T, r *Repository) {
		_, h := archived(t, r)
		rep, err := r.Verify(context.Background(), "", VerifyOptions{})
		if err != nil || !rep.OK() || rep.Objects != len(h.Objects) || rep.Frames != 30 {
			t.Fatalf("Verify: %+v, %v", rep, err)
		}
	})
}

func TestVerifyNamesEachProblem(t *testing.T) {
	eachBackend(t, func(t *testing.T, r *Repository) {
		ctx := context.Background()
		_, h := archived(t, r)
		l0, l1, l2 := h.Objects[0], h.Objects[1], h.Objects[2]
		// A flipped byte in the middle of level 1.
		replace(t, r, l1.Key, func(b []byte) []byte { b[len(b)/2] ^= 1; return b })
		rep, _ := r.Verify(ctx, "foo", VerifyOptions{})
		if len(rep.Problems) != 1 || rep.Problems[0].Key != l1.Key || !isDamage(rep.Problems[0].Err) {
			t.Fatalf("a flipped byte: %v", rep.Problems)
		}
		if err := rep.Err(); !errors.As(err, new(Problem)) {
			t.Errorf("Err() = %v", err)
		}
		// Level 1 gone: LSNs 11..20 are named as missing.
		if err := r.Store().Delete(ctx, l1.Key); err != nil {
			t.Fatal(err)
		}
		rep, _ = r.Verify(ctx, "foo", VerifyOptions{})
		var gap *txframe.GapError
		if len(rep.Problems) != 1 || !errors.As(rep.Problems[0].Err, &gap) || gap.From != 11 || gap.To != 20 {
			t.Fatalf("a missing object: %v", rep.Problems)
		}
		// Level 2's bytes under another range's name: not what its name says.
		o, _ := r.Store().Open(ctx, l2.Key)
		b, _ := io.ReadAll(o)
		o.Close()
		wrong := l0.Name
		wrong.First, wrong.Last, wrong.Level = 11, 20, 1
		if err := r.Store().Create(ctx, wrong.String(), bytes.NewReader(b), int64(len(b))); err != nil {
			t.Fatal(err)
		}
		rep, _ = r.Verify(ctx, "foo", VerifyOptions{})
		if len(rep.Problems) == 0 || rep.Problems[0].Key != wrong.String() || !errors.Is(rep.Problems[0].Err, ErrNameMismatch) {
			t.Fatalf("an object misnamed: %v", rep.Problems)
		}
	})
}

func isDamage(err error) bool {
	return errors.Is(err, stream.ErrChecksum) || errors.Is(err, txframe.ErrChecksum) || errors.Is(err, txframe.ErrChain) ||
		errors.Is(err, txframe.ErrMalformed) || errors.Is(err, stream.ErrFormat)
}

func TestVerifyFindsObjectsThatDisagree(t *testing.T) {
	eachBackend(t, func(t *testing.T, r *Repository) {
		ctx := context.Background()
		// A copy restored to LSN 5 that went its own way backs up its
		// LSNs 11..20 as a level 1 of the same history.
		diverged := backedUpAndDiverged(t, r, 15)
		if _, err := r.Backup(ctx, diverged, BackupOptions{Level: 1}); err != nil {
			t.Fatal(err)
		}
		rep, err := r.Verify(ctx, "foo", VerifyOptions{})
		if err != nil || len(rep.Problems) != 1 || rep.Problems[0].LSN != 10 || !errors.Is(rep.Problems[0].Err, txframe.ErrHistory) {
			t.Fatalf("Verify: %v, %v; want the two objects' hashes at LSN 10 named", rep.Problems, err)
		}
	})
}
