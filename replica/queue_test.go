package replica

import (
	"errors"
	"sync/atomic"
	"testing"

	"github.com/hotpipe/hotpipe/txframe"
)

// queueingTarget queues blocks (as engine.DB.QueueVerified does) and fails
// the call after the first, as a write that failed behind the first
// would be reported; it refuses to be staged the other way.
type queueingTarget struct {
	queued, staged atomic.Int32
	err            error
}

func (q *queueingTarget) QueueVerified(txframe.Hash, ...[]byte) (uint64, error) {
	if q.queued.Add(1) > 1 {
		return 0, q.err
	}
	return 0, nil
}

func (q *queueingTarget) StageVerified(txframe.Hash, ...[]byte) (uint64, error) {
	q.staged.Add(1)
	return 0, nil
}

func (q *queueingTarget) Sync() (uint64, error) { return 0, nil }

// TestApplierQueuesWhereTheDatabaseCan: a database that writes behind is
// handed batches with QueueVerified, and the failure it reports for an
// earlier batch ends the restore with that error.
func TestApplierQueuesWhereTheDatabaseCan(t *testing.T) {
	target := &queueingTarget{err: errors.New("input/output error")}
	a := startApplier(target, nil)
	var err error
	for i := 0; i < 100 && err == nil; i++ {
		err = a.add(txframe.Hash{}, make([]byte, applyBatch))
	}
	if err = errors.Join(err, a.close()); !errors.Is(err, target.err) {
		t.Fatalf("err = %v, want the write-behind's error", err)
	}
	if n := target.staged.Load(); n != 0 {
		t.Fatalf("StageVerified called %d times; want none", n)
	}
}
