package engine_test

import (
	"os"
	"testing"

	"github.com/hotpipe/hotpipe/engine"
	"github.com/hotpipe/hotpipe/txframe"
)

func TestStatusSaysStateAndLockHolder(t *testing.T) {
	dir := t.TempDir()
	m, err := engine.Create(dir, "foo", engine.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ro, err := engine.Open(dir, "foo", engine.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	st, err := ro.Status()
	if err != nil || st.Meta.Origin != m.Origin || st.LastLSN != 0 || !st.LastCommit.IsZero() || st.Locked {
		t.Fatalf("an empty database, no writer: %+v, %v", st, err)
	}

	w, err := engine.Open(dir, "foo", engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	for range 3 {
		if _, err := w.Commit([]txframe.Entry{{Op: txframe.OpPut, Key: []byte("k"), Value: []byte("v")}}); err != nil {
			t.Fatal(err)
		}
	}
	_, h, _ := w.State()
	st, err = ro.Status()
	switch {
	case err != nil:
		t.Fatal(err)
	case st.LastLSN != 3 || st.StateHash != h || st.Bytes == 0 || st.LastCommit.IsZero():
		t.Fatalf("after 3 commits: %+v", st)
	case !st.Locked || st.Holder.PID != os.Getpid():
		t.Fatalf("the writer's lock: locked %v by %+v, want pid %d", st.Locked, st.Holder, os.Getpid())
	}
}
