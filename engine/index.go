package engine

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"

	"github.com/hotpipe/hotpipe/txframe"
)

// index maps each live key to where its latest value lies on disk. It is
// built on the first Get or Scan and caught up with the durable prefix on
// each later one, so writers and backups never pay for it.
type index struct {
	mu   sync.Mutex
	upto uint64
	next Position // where the frame after upto starts
	keys map[string]valueRef
}

type valueRef struct {
	seg uint64
	off int64
	n   uint32
}

// catchUp indexes the frames committed since the last call.
func (db *DB) catchUp() error {
	mark, err := db.durable()
	if err != nil {
		return err
	}
	if db.idx.keys == nil {
		db.idx.keys = make(map[string]valueRef)
	}
	if db.idx.upto >= mark.lsn {
		return nil
	}
	r, err := db.framesIn(mark, db.idx.upto+1, mark.lsn, db.idx.next)
	if err != nil {
		return err
	}
	defer r.Close()
	for {
		block, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		seg, off := r.Position()
		if err := db.idx.addBlock(block, seg, off); err != nil {
			return err
		}
	}
	db.idx.upto, db.idx.next = mark.lsn, r.Stop()
	return nil
}

func (x *index) addBlock(block []byte, seg uint64, off int64) error {
	p := 0
	for f := range txframe.Frames(block) {
		frameOff := off + int64(p)
		err := txframe.ForEachEntry(f, func(e txframe.Entry, valueOff int) error {
			if e.Op == txframe.OpDelete {
				delete(x.keys, string(e.Key))
				return nil
			}
			x.keys[string(e.Key)] = valueRef{seg: seg, off: frameOff + int64(valueOff), n: uint32(len(e.Value))}
			return nil
		})
		if err != nil {
			return err
		}
		p += len(f)
	}
	if p < len(block) {
		_, err := txframe.FrameLen(block[p:])
		return fmt.Errorf("%w: the block holds a partial frame at byte %d: %w", txframe.ErrIncomplete, p, err)
	}
	return nil
}

// Get returns the latest value of key as of the durable prefix, or
// ErrKeyNotFound.
func (db *DB) Get(key []byte) ([]byte, error) {
	db.idx.mu.Lock()
	defer db.idx.mu.Unlock()
	if err := db.catchUp(); err != nil {
		return nil, err
	}
	ref, ok := db.idx.keys[string(key)]
	if !ok {
		return nil, fmt.Errorf("%s: %q: %w", db.name, key, ErrKeyNotFound)
	}
	return db.readValue(ref)
}

// Scan calls fn for each live key starting with prefix, in key order, with
// its latest value as of the durable prefix. fn's slices are its own.
func (db *DB) Scan(prefix []byte, fn func(key, value []byte) error) error {
	db.idx.mu.Lock()
	if err := db.catchUp(); err != nil {
		db.idx.mu.Unlock()
		return err
	}
	type kv struct {
		key string
		ref valueRef
	}
	var hits []kv
	p := string(prefix)
	for k, ref := range db.idx.keys {
		if strings.HasPrefix(k, p) {
			hits = append(hits, kv{k, ref})
		}
	}
	db.idx.mu.Unlock()
	sort.Slice(hits, func(i, j int) bool { return hits[i].key < hits[j].key })
	for _, h := range hits {
		v, err := db.readValue(h.ref)
		if err != nil {
			return err
		}
		if err := fn([]byte(h.key), v); err != nil {
			return err
		}
	}
	return nil
}

func (db *DB) readValue(ref valueRef) ([]byte, error) {
	f, err := db.files.get(ref.seg)
	if err != nil {
		return nil, err
	}
	v := make([]byte, ref.n)
	if _, err := f.ReadAt(v, ref.off); err != nil {
		return nil, &CorruptionError{Path: f.Name(), Offset: ref.off, Err: fmt.Errorf("read value: %w", err)}
	}
	return v, nil
}
