package engine

import (
	"path/filepath"
	"time"

	"github.com/hotpipe/hotpipe/txframe"
)

// Status is a database's state as `db status` reports it: what an operator
// or a monitoring system asks first.
type Status struct {
	Meta       Meta
	LastLSN    uint64
	StateHash  txframe.Hash // h(LastLSN)
	Bytes      int64        // of frames, through LastLSN
	LastCommit time.Time    // zero when there are no frames
	Locked     bool         // a writer holds the lock
	Holder     Holder       // who, when Locked
}

// Status reads db's state and who holds its writer lock. It works on a
// read-only handle while another process writes.
func (db *DB) Status() (Status, error) {
	var st Status
	var err error
	if st.Meta, err = db.Meta(); err != nil {
		return st, err
	}
	if st.LastLSN, st.StateHash, err = db.State(); err != nil {
		return st, err
	}
	if st.Bytes, err = db.Size(); err != nil {
		return st, err
	}
	if st.LastLSN > 0 {
		if st.LastCommit, err = db.LastTime(); err != nil {
			return st, err
		}
	}
	st.Holder, st.Locked, err = LockHolder(filepath.Dir(db.Dir()), db.Name())
	return st, err
}
