package repo

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/hotpipe/hotpipe/internal/s3test"
	"github.com/hotpipe/hotpipe/stream"
	"github.com/hotpipe/hotpipe/txframe"
)

// keyPair is an age identity and its recipient.
func keyPair(t *testing.T) (age.Identity, []age.Recipient) {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	return id, []age.Recipient{id.Recipient()}
}

// archiveEncrypted archives what db holds, encrypted to to, and stops.
func archiveEncrypted(t *testing.T, r *Repository, d *testDB, to []age.Recipient) {
	t.Helper()
	stop := make(chan struct{})
	close(stop)
	if err := r.Archive(context.Background(), d.db, ArchiveOptions{Stop: stop, Recipients: to}); err != nil {
		t.Fatal(err)
	}
}

// readObject returns the bytes of the object key.
func readObject(t *testing.T, r *Repository, key string) []byte {
	t.Helper()
	o, err := r.Store().Open(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	b, err := io.ReadAll(o)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The archive writes age files named .hp.age, each with its note, and
// resumes after a restart holding only the public key.
func TestEncryptedArchiveResumesWithoutAnIdentity(t *testing.T) {
	eachBackend(t, func(t *testing.T, r *Repository) {
		ctx := context.Background()
		id, to := keyPair(t)
		d := newTestDB(t, "foo")
		for range 3 {
			d.commit(t, 5)
			archiveEncrypted(t, r, d, to)
		}
		c, _ := r.Catalog(ctx, "foo")
		h := c.History("foo", d.origin(t))
		if got := ranges(h.Objects); got != "1-5 6-10 11-15" {
			t.Fatalf("objects %s", got)
		}
		for _, e := range h.Objects {
			b := readObject(t, r, e.Key)
			tag, err := stream.ReadEndTag(bytes.NewReader(b))
			want, _ := d.db.HashAt(e.Last)
			if !e.Encrypted || !strings.HasSuffix(e.Key, ".hp.age") || !stream.IsAge(b) || err != nil || tag.LSN != e.Last || !tag.Matches(want) {
				t.Errorf("%s: encrypted %v, age %v, note %+v %v", e.Key, e.Encrypted, stream.IsAge(b), tag, err)
			}
			plain, err := stream.Open(bytes.NewReader(b), stream.Options{Identities: []age.Identity{id}})
			if err != nil {
				t.Fatal(err)
			}
			if p, _ := io.ReadAll(plain); len(p) < 100 || bytes.Contains(b, p[:32]) || bytes.Contains(b, p[len(p)-32:]) {
				t.Errorf("%s shows its stream's header or end in clear", e.Key)
			}
		}
		if rep, err := r.Verify(ctx, "foo", VerifyOptions{Identities: []age.Identity{id}}); err != nil || !rep.OK() || rep.Frames != 15 {
			t.Fatalf("Verify with the identity: %+v, %v", rep, err)
		}
		rep, _ := r.Verify(ctx, "foo", VerifyOptions{})
		if len(rep.Problems) != 3 || !errors.Is(rep.Problems[0].Err, stream.ErrNoIdentity) {
			t.Fatalf("Verify without an identity: %v", rep.Problems)
		}
		want, _ := d.db.HashAt(15)
		if _, lsn, hash := restored(t, r, RestoreOptions{Source: "foo", Identities: []age.Identity{id}}); lsn != 15 || hash != want {
			t.Errorf("restored to %d %s, want 15 %s", lsn, hash, want)
		}
		_, err := r.Restore(ctx, t.TempDir(), "copy", RestoreOptions{Source: "foo"})
		if !errors.Is(err, stream.ErrNoIdentity) {
			t.Errorf("Restore without an identity: %v", err)
		}
	})
}

// A copy of the database that went its own way is refused by the note.
func TestEncryptedArchiveRefusesAnotherHistory(t *testing.T) {
	eachBackend(t, func(t *testing.T, r *Repository) {
		ctx := context.Background()
		id, to := keyPair(t)
		d := newTestDB(t, "foo")
		d.commit(t, 10)
		archiveEncrypted(t, r, d, to)
		other := t.TempDir()
		if _, err := r.Restore(ctx, other, "foo", RestoreOptions{Identities: []age.Identity{id}, Options: replicaTarget(5)}); err != nil {
			t.Fatal(err)
		}
		db := openWritable(t, other, "foo")
		for range 10 {
			commitOne(t, db)
		}
		stop := make(chan struct{})
		close(stop)
		err := r.Archive(ctx, db, ArchiveOptions{Stop: stop, Recipients: to})
		if !errors.Is(err, txframe.ErrHistory) || !strings.Contains(err.Error(), "hotpipe-end note") {
			t.Fatalf("Archive of a diverged copy: %v, want ErrHistory naming the note", err)
		}
	})
}

// An encrypted object stored although the answer to its PUT was lost is
// adopted by its note.
func TestEncryptedArchiveAdoptsAnObjectWhoseAnswerWasLost(t *testing.T) {
	srv := s3test.Start(t)
	r, proxy := faultyS3(t, srv, 1)
	id, to := keyPair(t)
	d := newTestDB(t, "foo")
	d.commit(t, 5)
	proxy.Inject(s3test.Fault{Match: isObjectPut, Times: 1, LoseAnswer: true})
	stop := make(chan struct{})
	close(stop)
	var retried int
	err := r.Archive(context.Background(), d.db, ArchiveOptions{Stop: stop, Recipients: to, RetryWait: time.Millisecond,
		Retrying: func(Retry) { retried++ }})
	if err != nil || retried == 0 {
		t.Fatalf("Archive: %v after %d retries; want it to adopt the object", err, retried)
	}
	rep, err := r.Verify(context.Background(), "foo", VerifyOptions{Identities: []age.Identity{id}})
	if err != nil || !rep.OK() || rep.Objects != 1 {
		t.Fatalf("Verify: %+v, %v", rep, err)
	}
}

// Levelled backups encrypt too, and a restore reads a chain of plain and
// encrypted objects.
func TestEncryptedBackupRestoresBesidePlainObjects(t *testing.T) {
	eachBackend(t, func(t *testing.T, r *Repository) {
		ctx := context.Background()
		id, to := keyPair(t)
		d := newTestDB(t, "foo")
		d.commit(t, 10)
		full, err := r.Backup(ctx, d.db, BackupOptions{Recipients: to})
		if err != nil || !full.Entry.Encrypted || !strings.HasSuffix(full.Entry.Key, ".b0.19700101T000001.000000000Z-19700101T000010.000000000Z.hp.age") {
			t.Fatalf("level 0: %+v, %v", full, err)
		}
		again, err := r.Backup(ctx, d.db, BackupOptions{Recipients: to})
		if err != nil || !again.UpToDate {
			t.Fatalf("the same backup again: %+v, %v", again, err)
		}
		d.commit(t, 5)
		if _, err := r.Backup(ctx, d.db, BackupOptions{Level: 1}); err != nil {
			t.Fatal(err)
		}
		want, _ := d.db.HashAt(15)
		if _, lsn, hash := restored(t, r, RestoreOptions{Source: "foo", Identities: []age.Identity{id}}); lsn != 15 || hash != want {
			t.Errorf("restored to %d %s, want 15 %s", lsn, hash, want)
		}
	})
}

func TestCompactEncrypted(t *testing.T) {
	eachBackend(t, func(t *testing.T, r *Repository) {
		ctx := context.Background()
		id, to := keyPair(t)
		ids := []age.Identity{id}
		d := newTestDB(t, "foo")
		d.commit(t, 5)
		archiveOnce(t, r, d.db) // a plain object first: merged with the encrypted ones, it is encrypted too
		for range 3 {
			d.commit(t, 5)
			archiveEncrypted(t, r, d, to)
		}
		before := keys(t, r)

		_, err := r.Compact(ctx, "foo", CompactOptions{Recipients: to})
		if !errors.Is(err, stream.ErrNoIdentity) {
			t.Fatalf("Compact without an identity: %v", err)
		}
		_, err = r.Compact(ctx, "foo", CompactOptions{Identities: ids})
		if !errors.Is(err, ErrDecryptedCopy) {
			t.Fatalf("Compact without recipients: %v", err)
		}
		if after := keys(t, r); after != before {
			t.Fatalf("refused compacts changed the repository:\n%s\n%s", before, after)
		}

		ms, err := r.Compact(ctx, "foo", CompactOptions{Identities: ids, Recipients: to})
		if err != nil || len(ms) != 1 || len(ms[0].From) != 4 || !ms[0].Into.Encrypted {
			t.Fatalf("Compact: %+v, %v", ms, err)
		}
		c, _ := r.Catalog(ctx, "foo")
		if h := c.Histories[0]; ranges(h.Objects) != "1-20" || !h.Objects[0].Encrypted {
			t.Fatalf("after Compact: %s", ranges(h.Objects))
		}
		if rep, err := r.Verify(ctx, "foo", VerifyOptions{Identities: ids}); err != nil || !rep.OK() {
			t.Fatalf("Verify after Compact: %v %v", rep.Problems, err)
		}
		// The archive resumes after the merged object by its note.
		d.commit(t, 3)
		archiveEncrypted(t, r, d, to)
		want, _ := d.db.HashAt(23)
		if _, lsn, hash := restored(t, r, RestoreOptions{Source: "foo", Identities: ids}); lsn != 23 || hash != want {
			t.Errorf("restored to %d %s, want 23 %s", lsn, hash, want)
		}
	})
}

func TestCompactFinishesAnInterruptedEncryptedMerge(t *testing.T) {
	eachBackend(t, func(t *testing.T, r *Repository) {
		ctx := context.Background()
		id, to := keyPair(t)
		d := newTestDB(t, "foo")
		for range 3 {
			d.commit(t, 5)
			archiveEncrypted(t, r, d, to)
		}
		c, _ := r.Catalog(ctx, "foo")
		run := c.Histories[0].archiveRuns(1 << 30)[0]
		opts := CompactOptions{Identities: []age.Identity{id}, Recipients: to}
		m := Merge{From: run, Into: merged(run, true)}
		if _, err := r.write(ctx, &m, opts); err != nil { // crashed before the deletes
			t.Fatal(err)
		}
		ms, err := r.Compact(ctx, "foo", opts)
		if err != nil || len(ms) != 1 || !ms[0].Made {
			t.Fatalf("Compact: %+v, %v", ms, err)
		}
		c, _ = r.Catalog(ctx, "foo")
		if got := ranges(c.Histories[0].Objects); got != "1-15" {
			t.Errorf("after Compact: %s", got)
		}
	})
}

// An encrypted object whose note is not of its frames' hash is a problem
// for verify, and stops an archive resuming after it.
func TestANoteThatLiesIsFound(t *testing.T) {
	eachBackend(t, func(t *testing.T, r *Repository) {
		ctx := context.Background()
		id, to := keyPair(t)
		d := newTestDB(t, "foo")
		d.commit(t, 5)
		archiveOnce(t, r, d.db)
		c, _ := r.Catalog(ctx, "foo")
		e := c.Histories[0].Objects[0]
		// The same frames, encrypted with a note of another hash.
		var enc bytes.Buffer
		w, err := age.Encrypt(&enc, withEndTag(to, stream.NewEndTag(5, txframe.Hash{1}))...)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(readObject(t, r, e.Key))
		w.Close()
		liar := e.Name
		liar.Encrypted = true
		if err := r.Store().Delete(ctx, e.Key); err != nil {
			t.Fatal(err)
		}
		if err := r.Store().Create(ctx, liar.String(), &enc, -1); err != nil {
			t.Fatal(err)
		}
		rep, _ := r.Verify(ctx, "foo", VerifyOptions{Identities: []age.Identity{id}})
		if len(rep.Problems) != 1 || rep.Problems[0].LSN != 5 || !errors.Is(rep.Problems[0].Err, txframe.ErrHistory) {
			t.Fatalf("Verify: %v", rep.Problems)
		}
		stop := make(chan struct{})
		close(stop)
		if err := r.Archive(ctx, d.db, ArchiveOptions{Stop: stop, Recipients: to}); !errors.Is(err, txframe.ErrHistory) {
			t.Fatalf("Archive resuming after the object: %v", err)
		}
	})
}

// keys lists every object's name, one a line.
func keys(t *testing.T, r *Repository) string {
	t.Helper()
	var b strings.Builder
	for info, err := range r.Store().List(context.Background(), "", "") {
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString(info.Name + "\n")
	}
	return b.String()
}

// gen returns o encrypted, re-encrypted g times.
func gen(o Entry, g int) Entry {
	o.Encrypted, o.Gen = true, g
	o.Key = o.Name.String()
	return o
}

// Of twins that repo rekey left (a crash before it deleted the old one),
// the catalog plans with the newest only and sets the others aside.
func TestCatalogSetsAsideSupersededTwins(t *testing.T) {
	a := obj(1, 10, 10, Archive)
	b := obj(11, 20, 10, Archive)
	h := history(gen(a, 0), gen(a, 2), gen(a, 10), gen(b, 0), obj(11, 20, 10, Archive), gen(obj(1, 20, 15, Backup), 1))
	var kept, aside []string
	for _, e := range h.Objects {
		kept = append(kept, e.Key[strings.LastIndex(e.Key, "Z")+1:])
	}
	for _, e := range h.Superseded {
		aside = append(aside, e.Key[strings.LastIndex(e.Key, "Z")+1:])
	}
	if got := strings.Join(kept, " "); got != ".k10.hp.age .k1.hp.age .hp .hp.age" {
		t.Errorf("objects: %s", got)
	}
	if got := strings.Join(aside, " "); got != ".hp.age .k2.hp.age" {
		t.Errorf("superseded: %s", got)
	}
}
