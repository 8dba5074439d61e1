package main

import (
	"context"
	"errors"
	"testing"

	"github.com/hotpipe/hotpipe/engine"
	"github.com/hotpipe/hotpipe/loadgen"
	"github.com/hotpipe/hotpipe/replica"
)

func TestCopyDBMakesAnIdenticalReplicaThatIsSwitchedOff(t *testing.T) {
	dir := t.TempDir()
	if _, err := engine.Create(dir, "foo", engine.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	db, err := engine.Open(dir, "foo", engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := loadgen.Run(context.Background(), db, loadgen.Workload{Entries: 2, ValueSize: 50}, loadgen.Options{Txs: 500, Workers: 8}); err != nil {
		t.Fatal(err)
	}
	lsn, h, _ := db.State()
	st, err := copyDB(context.Background(), dir, "foo", "bar")
	if err != nil || st.LSN != lsn || st.Hash != h || st.Replica {
		t.Fatalf("copyDB = %+v, %v; want LSN %d, h %s, replica off", st, err, lsn, h)
	}
	// A second copy into bar, which has data now, is refused as hot-restore refuses it.
	if _, err := copyDB(context.Background(), dir, "foo", "bar"); !errors.Is(err, replica.ErrHasData) {
		t.Fatalf("copying onto a database with data: %v", err)
	}
}
