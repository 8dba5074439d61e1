package replica

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hotpipe/hotpipe/engine"
	"github.com/hotpipe/hotpipe/stream"
	"github.com/hotpipe/hotpipe/txframe"
)

// t0 is when the sources tests make commit LSN 1; LSN k commits k-1
// minutes later, so a target time names an LSN.
var t0 = time.Date(2026, 11, 20, 14, 0, 0, 0, time.UTC)

// commitAt is when a source commits lsn.
func commitAt(lsn uint64) time.Time { return t0.Add(time.Duration(lsn-1) * time.Minute) }

// sources are the databases the tests restore from, in a directory of
// their own: foo; div, of foo's origin with another history (other
// values); alt, of another origin.
type sources struct {
	dir           string
	foo, div, alt *engine.DB
}

// newSources makes foo, div and alt with n transactions each.
func newSources(t *testing.T, n int) *sources {
	t.Helper()
	s := &sources{dir: t.TempDir()}
	s.foo = newSource(t, s.dir, "foo", txframe.Origin{}, n)
	m, err := s.foo.Meta()
	if err != nil {
		t.Fatal(err)
	}
	s.div = newSource(t, s.dir, "div", m.Origin, n)
	s.alt = newSource(t, s.dir, "alt", txframe.Origin{}, n)
	return s
}

// newSource creates database name of origin o (zero: a fresh one) with n
// transactions, LSN k committed at commitAt(k), and returns it open for
// write until the test ends.
func newSource(t *testing.T, dir, name string, o txframe.Origin, n int) *engine.DB {
	t.Helper()
	if _, err := engine.Create(dir, name, engine.CreateOptions{Origin: o}); err != nil {
		t.Fatal(err)
	}
	var next atomic.Uint64
	db, err := engine.Open(dir, name, engine.Options{Now: func() time.Time { return commitAt(next.Load()) }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	for lsn := uint64(1); lsn <= uint64(n); lsn++ {
		next.Store(lsn)
		e := txframe.Entry{Op: txframe.OpPut, Key: fmt.Appendf(nil, "k%d", lsn), Value: fmt.Appendf(nil, "%s %d", name, lsn)}
		if _, err := db.Commit([]txframe.Entry{e}); err != nil {
			t.Fatal(err)
		}
	}
	return db
}

// segment returns a stream segment of src's frames from..to, inclusive.
func segment(t *testing.T, src *engine.DB, from, to uint64) []byte {
	t.Helper()
	m, err := src.Meta()
	if err != nil {
		t.Fatal(err)
	}
	base, err := src.HashAt(from - 1)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	w, err := stream.NewWriter(&buf, stream.Header{Origin: m.Origin, Name: src.Name(), Created: t0, Base: from - 1, BaseHash: base})
	if err != nil {
		t.Fatal(err)
	}
	fr, err := src.Frames(from, to)
	if err != nil {
		t.Fatal(err)
	}
	defer fr.Close()
	for {
		b, err := fr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := w.WriteFrames(b); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// readerOf reads the segments given, in order, as one stream.
func readerOf(segments ...[]byte) *stream.Reader {
	return stream.NewReader([]stream.Input{{Name: "test", R: bytes.NewReader(bytes.Join(segments, nil))}}, stream.Options{})
}

// restore restores the segments given into dir/name.
func restore(dir, name string, opts Options, segments ...[]byte) (Result, error) {
	return Restore(context.Background(), dir, name, readerOf(segments...), opts)
}

// mustRestore is restore that must succeed.
func mustRestore(t *testing.T, dir, name string, opts Options, segments ...[]byte) Result {
	t.Helper()
	res, err := restore(dir, name, opts, segments...)
	if err != nil {
		t.Fatalf("restore %s: %v", name, err)
	}
	return res
}

// stateOf returns how dir/name is on disk, read-only; nil when it does not
// exist.
func stateOf(t *testing.T, dir, name string) *State {
	t.Helper()
	db, err := engine.Open(dir, name, engine.Options{ReadOnly: true})
	if errors.Is(err, engine.ErrNotFound) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	m, err := db.Meta()
	if err != nil {
		t.Fatal(err)
	}
	lsn, h, err := db.State()
	if err != nil {
		t.Fatal(err)
	}
	return &State{LSN: lsn, Hash: h, Replica: m.Replica, Restoring: m.Restoring}
}

// hashAt is src's h(lsn).
func hashAt(t *testing.T, src *engine.DB, lsn uint64) txframe.Hash {
	t.Helper()
	h, err := src.HashAt(lsn)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// requireCopy requires dir/name to be at LSN lsn with src's h there, with
// replica mode and the restoring mark as given.
func requireCopy(t *testing.T, dir, name string, src *engine.DB, lsn uint64, replica, restoring bool) {
	t.Helper()
	want := State{LSN: lsn, Hash: hashAt(t, src, lsn), Replica: replica, Restoring: restoring}
	if got := stateOf(t, dir, name); got == nil || *got != want {
		t.Fatalf("%s is %+v; want %+v", name, got, want)
	}
}

// flipFrame returns seg with one byte flipped inside the frame of lsn, a
// segment made by segment(src, from, ...).
func flipFrame(t *testing.T, seg []byte, from, lsn uint64) []byte {
	t.Helper()
	out := bytes.Clone(seg)
	p, n := stream.HeaderSize, from
	for f := range txframe.Frames(out[p:]) {
		if n == lsn {
			out[p+len(f)/2] ^= 0xff
			return out
		}
		p, n = p+len(f), n+1
	}
	t.Fatalf("no frame of LSN %d in the segment", lsn)
	return nil
}

// after is how a test expects the database: a copy of src up to lsn.
type after struct {
	absent             bool
	src                *engine.DB
	lsn                uint64
	replica, restoring bool
}

// requireAfter checks the database, and the state Result says it was left
// in, against want.
func requireAfter(t *testing.T, dir, name string, res Result, want after) {
	t.Helper()
	if want.absent {
		if st := stateOf(t, dir, name); st != nil || res.State != nil {
			t.Fatalf("%s is %+v (Result: %+v); want it absent", name, st, res.State)
		}
		return
	}
	requireCopy(t, dir, name, want.src, want.lsn, want.replica, want.restoring)
	if st := stateOf(t, dir, name); res.State == nil || *res.State != *st {
		t.Fatalf("Result.State = %+v; the database is %+v", res.State, st)
	}
	if want.lsn > 0 {
		requireOrigin(t, dir, name, want.src)
	}
}

// requireOrigin requires dir/name to have src's origin.
func requireOrigin(t *testing.T, dir, name string, src *engine.DB) {
	t.Helper()
	db, err := engine.Open(dir, name, engine.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	m, err := db.Meta()
	if err != nil {
		t.Fatal(err)
	}
	if want, err := src.Meta(); err != nil || m.Origin != want.Origin {
		t.Fatalf("%s has origin %s; want %s's (%v)", name, m.Origin, src.Name(), err)
	}
}

// mustCreate creates an empty dir/bar.
func mustCreate(t *testing.T, dir string, co engine.CreateOptions) {
	t.Helper()
	if _, err := engine.Create(dir, "bar", co); err != nil {
		t.Fatal(err)
	}
}

// setReplica switches dir/bar's replica mode.
func setReplica(t *testing.T, dir string, on bool) {
	t.Helper()
	db, err := engine.Open(dir, "bar", engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := errors.Join(db.SetReplica(on), db.Close()); err != nil {
		t.Fatal(err)
	}
}
