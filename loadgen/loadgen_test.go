package loadgen_test

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"sync"
	"testing"

	"github.com/hotpipe/hotpipe/engine"
	"github.com/hotpipe/hotpipe/loadgen"
	"github.com/hotpipe/hotpipe/txframe"
)

func openDB(t *testing.T) *engine.DB {
	t.Helper()
	dir := t.TempDir()
	if _, err := engine.Create(dir, "load", engine.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	db, err := engine.Open(dir, "load", engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestTxIsAFunctionOfSeedAndIndex(t *testing.T) {
	w := loadgen.Workload{Seed: 7, Entries: 3, ValueSize: 20}
	a, b := w.Tx(41), w.Tx(41)
	if len(a) != 3 || !slices.EqualFunc(a, b, sameEntry) {
		t.Fatalf("Tx(41) twice: %v and %v", a, b)
	}
	if string(a[0].Key) != "key00000123" || string(a[2].Key) != "key00000125" {
		t.Fatalf("keys %q..%q, want key00000123..key00000125", a[0].Key, a[2].Key)
	}
	if other := (loadgen.Workload{Seed: 8, Entries: 3, ValueSize: 20}).Tx(41); slices.EqualFunc(a, other, sameEntry) {
		t.Fatal("another seed gave the same values")
	}
	for _, e := range a {
		if len(e.Value) != 20 || bytes.IndexFunc(e.Value, func(r rune) bool { return r < 'a' || r > 'z' }) >= 0 {
			t.Fatalf("value %q is not 20 lowercase letters", e.Value)
		}
	}
}

func sameEntry(a, b txframe.Entry) bool {
	return a.Op == b.Op && bytes.Equal(a.Key, b.Key) && bytes.Equal(a.Value, b.Value)
}

func TestCheckNamesTheOptionItRefuses(t *testing.T) {
	ok := loadgen.Options{Txs: 10, Workers: 1}
	tests := []struct {
		name   string
		w      loadgen.Workload
		o      loadgen.Options
		option string // "" for accepted
	}{
		{name: "defaults", w: loadgen.Workload{Entries: 1, ValueSize: 100}, o: ok},
		{name: "negative txs", w: loadgen.Workload{Entries: 1}, o: loadgen.Options{Txs: -1, Workers: 1}, option: "Txs"},
		{name: "no workers", w: loadgen.Workload{Entries: 1}, o: loadgen.Options{Txs: 1}, option: "Workers"},
		{name: "too many workers", w: loadgen.Workload{Entries: 1}, o: loadgen.Options{Workers: loadgen.MaxWorkers + 1}, option: "Workers"},
		{name: "negative rate", w: loadgen.Workload{Entries: 1}, o: loadgen.Options{Workers: 1, Rate: -1}, option: "Rate"},
		{name: "no entries", w: loadgen.Workload{}, o: ok, option: "Entries"},
		{name: "value too large", w: loadgen.Workload{Entries: 1, ValueSize: txframe.MaxValueLen + 1}, o: ok, option: "ValueSize"},
		{name: "transaction too large", w: loadgen.Workload{Entries: 8, ValueSize: txframe.MaxValueLen}, o: ok, option: "Entries"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.w.Check(tt.o)
			var oe *loadgen.OptionError
			switch {
			case tt.option == "" && err != nil:
				t.Fatalf("Check refused: %v", err)
			case tt.option != "" && (!errors.Is(err, loadgen.ErrOptions) || !errors.As(err, &oe) || oe.Option != tt.option):
				t.Fatalf("Check = %v, want an OptionError for %s", err, tt.option)
			}
		})
	}
}

func TestRunCommitsEveryTransactionAndAcknowledgesEach(t *testing.T) {
	db := openDB(t)
	var mu sync.Mutex
	var acked []uint64
	w := loadgen.Workload{Seed: 1, Entries: 2, ValueSize: 10}
	last, err := loadgen.Run(context.Background(), db, w, loadgen.Options{Txs: 200, Workers: 16,
		Ack: func(lsn uint64) { mu.Lock(); acked = append(acked, lsn); mu.Unlock() }})
	if err != nil || last != 200 {
		t.Fatalf("Run = %d, %v; want 200", last, err)
	}
	slices.Sort(acked)
	if len(acked) != 200 || acked[0] != 1 || acked[199] != 200 {
		t.Fatalf("acknowledged %d LSNs, %v..", len(acked), acked[:min(3, len(acked))])
	}
	if v, err := db.Get([]byte("key00000399")); err != nil || len(v) != 10 {
		t.Fatalf("the last transaction's last key: %q, %v", v, err)
	}
}

func TestRunStopsWhenCancelled(t *testing.T) {
	db := openDB(t)
	ctx, cancel := context.WithCancel(context.Background())
	var stopAt uint64
	last, err := loadgen.Run(ctx, db, loadgen.Workload{Entries: 1}, loadgen.Options{Txs: 1 << 20, Workers: 1,
		Ack: func(lsn uint64) {
			if lsn == 50 {
				stopAt = lsn
				cancel()
			}
		}})
	if !errors.Is(err, context.Canceled) || last < stopAt || last > stopAt+1 {
		t.Fatalf("Run = %d, %v; want context.Canceled right after LSN %d", last, err, stopAt)
	}
	if lsn, _, _ := db.State(); lsn != last {
		t.Fatalf("the database is at LSN %d, Run says %d", lsn, last)
	}
}

func TestRunReturnsTheFirstCommitError(t *testing.T) {
	db := openDB(t)
	if err := db.SetReplica(true); err != nil { // a replica refuses ordinary commits
		t.Fatal(err)
	}
	last, err := loadgen.Run(context.Background(), db, loadgen.Workload{Entries: 1}, loadgen.Options{Txs: 10, Workers: 4})
	if !errors.Is(err, engine.ErrReplica) || last != 0 {
		t.Fatalf("Run = %d, %v; want engine.ErrReplica", last, err)
	}
}

func TestRunRefusesBadOptionsBeforeCommitting(t *testing.T) {
	db := openDB(t)
	if _, err := loadgen.Run(context.Background(), db, loadgen.Workload{}, loadgen.Options{Txs: 1, Workers: 1}); !errors.Is(err, loadgen.ErrOptions) {
		t.Fatalf("Run with no entries = %v", err)
	}
	if lsn, _, _ := db.State(); lsn != 0 {
		t.Fatalf("committed %d transactions", lsn)
	}
}
