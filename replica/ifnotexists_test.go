package replica

import (
	"context"
	"io"
	"testing"

	"github.com/hotpipe/hotpipe/engine"
	"github.com/hotpipe/hotpipe/stream"
)

// unread is an input that fails the test if a restore reads it.
type unread struct{ t *testing.T }

func (u unread) Read([]byte) (int, error) {
	u.t.Error("the input was read")
	return 0, io.EOF
}

// TestIfNotExistsLeavesADatabaseWithDataAlone: a boot script's restore is
// idempotent. A database with data is left as it is and the input is not
// read; an absent or empty one is restored; one an interrupted full restore
// left is resumed to the end.
func TestIfNotExistsLeavesADatabaseWithDataAlone(t *testing.T) {
	s := newSources(t, 40)
	full := segment(t, s.foo, 1, 40)
	opts := Options{IfNotExists: true}

	t.Run("absent: restored", func(t *testing.T) {
		dir := t.TempDir()
		if res := mustRestore(t, dir, "bar", opts, full); res.Skipped || !res.Full {
			t.Fatalf("Result %+v; want a full restore", res)
		}
		requireCopy(t, dir, "bar", s.foo, 40, false, false)
	})
	t.Run("empty: restored", func(t *testing.T) {
		dir := t.TempDir()
		mustCreate(t, dir, engine.CreateOptions{})
		mustRestore(t, dir, "bar", opts, full)
		requireCopy(t, dir, "bar", s.foo, 40, false, false)
	})
	t.Run("with data: untouched, input unread", func(t *testing.T) {
		dir := t.TempDir()
		mustRestore(t, dir, "bar", Options{}, segment(t, s.div, 1, 20))
		before := stateOf(t, dir, "bar")
		r := stream.NewReader([]stream.Input{{Name: "unread", R: unread{t}}}, stream.Options{})
		res, err := Restore(context.Background(), dir, "bar", r, opts)
		if err != nil || !res.Skipped || res.State == nil || *res.State != *before {
			t.Fatalf("Restore = %+v, %v; want Skipped with the state %+v", res, err, before)
		}
		requireCopy(t, dir, "bar", s.div, 20, false, false)
	})
	t.Run("an interrupted full restore: resumed", func(t *testing.T) {
		dir := t.TempDir()
		if _, err := restore(dir, "bar", Options{}, flipFrame(t, full, 1, 30)); err == nil {
			t.Fatal("the damaged restore succeeded")
		}
		requireCopy(t, dir, "bar", s.foo, 29, true, true)
		if res := mustRestore(t, dir, "bar", opts, full); res.Skipped || res.First != 30 {
			t.Fatalf("Result %+v; want LSN 30 on applied", res)
		}
		requireCopy(t, dir, "bar", s.foo, 40, false, false)
	})
}
