package engine

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/hotpipe/hotpipe/txframe"
)

// Options tune how a database is opened.
type Options struct {
	// ReadOnly opens without the writer lock: the handle reads the durable
	// prefix while another process may be writing.
	ReadOnly bool
	// SegmentSize is where the writer starts a new segment file; 0 means
	// the size the database was created with.
	SegmentSize int64
	// Now supplies commit times; nil means time.Now. Times never decrease
	// within a database whatever Now returns.
	Now func() time.Time
	// Notify receives notices meant for the operator, such as a torn tail
	// truncated during recovery. nil discards them.
	Notify func(msg string)

	// wrapSegment, set by tests, wraps each segment the writer appends to
	// (to inject faults).
	wrapSegment func(segmentFile) segmentFile
	// behindWait, set by tests, is called when QueueVerified waits for
	// the write of the frames queued before it.
	behindWait func()
	// durableWait, set by tests, is called when a caller waits for a
	// write or fsync in flight before it looks at its own frames again.
	durableWait func()
	// syncMark, set by tests, replaces the fsync of DURABLE.
	syncMark func(*os.File) error
	// watch, set by tests, replaces watchFile (a watch that fails makes
	// WaitDurable poll); pollEvery, if set, replaces pollInterval.
	watch     func(path string, event, ended func()) (watchCloser, error)
	pollEvery time.Duration
	// beforeWait, set by tests, runs each time WaitDurable is about to
	// wait, after it looked at the watermark.
	beforeWait func()
}

// CreateOptions choose a new database's identity.
type CreateOptions struct {
	Origin    Origin // zero means a fresh random origin
	Replica   bool   // start in replica mode
	Restoring bool   // created by a full restore (implies Replica)
	// SegmentSize is where writers start a new segment file (0 means
	// DefaultSegmentSize), between MinSegmentSize and MaxSegmentSize.
	SegmentSize int64
}

// Bounds of a database's segment size: a segment holds its seal and at
// least one frame, and the largest is what a reader may have to list.
const (
	MinSegmentSize = 4 << 10
	MaxSegmentSize = 1 << 30
)

// ErrSegmentSize means a segment size outside MinSegmentSize..MaxSegmentSize.
var ErrSegmentSize = fmt.Errorf("segment size must be between %d KiB and %d MiB", MinSegmentSize>>10, MaxSegmentSize>>20)

// DB is an open database: a writer (holding the lock) or a read-only handle.
type DB struct {
	name  string
	dir   string
	opts  Options
	lock  *writerLock
	w     *writer // nil when read-only
	files fileCache
	idx   index
	wake  durableWake // wakes WaitDurable
}

// Create makes a new, empty database dataDir/name. It builds the directory
// under a hidden temporary name and renames it into place, so a crash never
// leaves a half-made database.
func Create(dataDir, name string, co CreateOptions) (Meta, error) {
	dir, err := dbPath(dataDir, name)
	if err != nil {
		return Meta{}, err
	}
	if s := co.SegmentSize; s != 0 && (s < MinSegmentSize || s > MaxSegmentSize) {
		return Meta{}, fmt.Errorf("%s: %w", name, ErrSegmentSize)
	}
	if _, err := os.Stat(dir); err == nil {
		if err := metaPresent(dir); err != nil {
			return Meta{}, err
		}
		return Meta{}, fmt.Errorf("%s: %w", name, ErrExists)
	}
	if err := os.MkdirAll(dataDir, dirMode); err != nil {
		return Meta{}, err
	}
	tmp, err := os.MkdirTemp(dataDir, "."+name+".creating-*")
	if err != nil {
		return Meta{}, err
	}
	defer os.RemoveAll(tmp) // no-op after a successful rename
	m := Meta{Version: metaVersion, Name: name, Origin: co.Origin, Created: time.Now().UTC(),
		Replica: co.Replica || co.Restoring, Restoring: co.Restoring, SegmentSize: co.SegmentSize}
	if m.Origin.IsZero() {
		m.Origin = NewOrigin()
	}
	if err := populate(tmp, m); err != nil {
		return Meta{}, fmt.Errorf("create %s: %w", name, err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		if errors.Is(err, fs.ErrExist) || errors.Is(err, fs.ErrPermission) {
			if _, serr := os.Stat(dir); serr == nil {
				return Meta{}, errors.Join(metaPresent(dir), fmt.Errorf("%s: %w", name, ErrExists))
			}
		}
		return Meta{}, fmt.Errorf("create %s: %w", name, err)
	}
	return m, syncDir(dataDir)
}

// metaPresent refuses a database directory without its metadata: it is
// damaged, not absent, and nothing may be created over it.
func metaPresent(dir string) error {
	_, err := os.Stat(filepath.Join(dir, metaFile))
	if os.IsNotExist(err) {
		return &CorruptionError{Path: dir, Err: errors.New("damaged: " + metaFile + " is missing")}
	}
	return err
}

func populate(dir string, m Meta) error {
	if err := os.Chmod(dir, dirMode); err != nil {
		return err
	}
	if err := writeMeta(dir, m); err != nil {
		return err
	}
	seg, err := os.OpenFile(filepath.Join(dir, segName(1)), os.O_WRONLY|os.O_CREATE|os.O_EXCL, fileMode)
	if err != nil {
		return err
	}
	if err := seg.Close(); err != nil {
		return err
	}
	if err := createWatermark(dir, watermark{seg: 1}); err != nil {
		return err
	}
	return syncDir(dir)
}

// Open opens dataDir/name. Opening for write takes the writer lock (a
// *LockedError if another process holds it) and recovers from a crash.
func Open(dataDir, name string, opts Options) (*DB, error) {
	dir, err := dbPath(dataDir, name)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(dir); err != nil {
		if os.IsNotExist(err) {
			return nil, fmt.Errorf("%s: %w", name, ErrNotFound)
		}
		return nil, err
	}
	if err := metaPresent(dir); err != nil {
		return nil, err
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	db := &DB{name: name, dir: dir, opts: opts, files: fileCache{dir: dir}}
	if opts.ReadOnly {
		if _, err := db.Meta(); err != nil {
			return nil, err
		}
		return db, nil
	}
	if db.lock, err = acquireLock(dir, name); err != nil {
		return nil, err
	}
	if db.w, err = openWriter(db); err != nil {
		releaseLock(db.lock)
		db.files.close()
		return nil, fmt.Errorf("open %s: %w", name, err)
	}
	return db, nil
}

// Close waits for in-flight commits, closes files and releases the lock.
func (db *DB) Close() error {
	var err error
	if db.w != nil {
		err = db.w.close()
	}
	db.wake.close()
	if cerr := db.files.close(); err == nil {
		err = cerr
	}
	if db.lock != nil {
		if cerr := releaseLock(db.lock); err == nil {
			err = cerr
		}
		db.lock = nil
	}
	return err
}

// Name returns the database's name.
func (db *DB) Name() string { return db.name }

// Dir returns the database's directory.
func (db *DB) Dir() string { return db.dir }

// Meta returns the database's metadata as of now.
func (db *DB) Meta() (Meta, error) {
	if db.w != nil {
		db.w.mu.Lock()
		defer db.w.mu.Unlock()
		return db.w.meta, nil
	}
	m, err := readMeta(db.dir)
	if err != nil {
		return m, fmt.Errorf("%s: %w", db.name, err)
	}
	return m, nil
}

// State returns the last durable LSN and its state hash h(LSN).
func (db *DB) State() (uint64, txframe.Hash, error) {
	t, err := db.durable()
	return t.lsn, t.hash, err
}

// LastTime returns the commit time of the last durable frame (zero when the
// database is empty).
func (db *DB) LastTime() (time.Time, error) {
	t, err := db.durable()
	if err != nil || t.lsn == 0 {
		return time.Time{}, err
	}
	return time.Unix(0, t.time).UTC(), nil
}

// durable returns the durable watermark: the writer's own, or, for a
// read-only handle, the one the writer last published in DURABLE.
func (db *DB) durable() (watermark, error) {
	if db.w != nil {
		db.w.mu.Lock()
		defer db.w.mu.Unlock()
		if db.w.closed {
			return watermark{}, ErrClosed
		}
		return db.w.durable, nil
	}
	if w, ok := db.wake.read(); ok { // a follower's look, through the watched file
		return w, nil
	}
	w, err := readWatermark(db.dir)
	if err != nil {
		return w, fmt.Errorf("%s: %w", db.name, err)
	}
	return w, nil
}

// SetReplica switches replica mode on or off; it needs the writer lock.
// Switching it off also ends a restore in progress.
func (db *DB) SetReplica(on bool) error {
	if db.w == nil {
		return ErrReadOnly
	}
	return db.w.updateMeta(func(m *Meta) error {
		m.Replica = on
		m.Restoring = m.Restoring && on
		return nil
	})
}

// MarkRestoring switches replica mode on for a restore into a database
// with frames and marks it as restoring, so that if the restore dies the
// next one that completes switches replica mode off again.
func (db *DB) MarkRestoring() error {
	if db.w == nil {
		return ErrReadOnly
	}
	return db.w.updateMeta(func(m *Meta) error { m.Replica, m.Restoring = true, true; return nil })
}

// BeginRestore prepares an empty database for a full restore of a history
// of origin o: it takes that origin and becomes a replica marked as
// restoring, in one atomic metadata update. A database with frames keeps
// its origin and is refused.
func (db *DB) BeginRestore(o Origin) error {
	if db.w == nil {
		return ErrReadOnly
	}
	return db.w.updateMeta(func(m *Meta) error {
		if db.w.next.lsn != 0 {
			return fmt.Errorf("%s: %w: a full restore needs an empty database", db.name, ErrHistory)
		}
		m.Origin, m.Replica, m.Restoring = o, true, true
		return nil
	})
}

// Size returns the number of bytes of the durable prefix.
func (db *DB) Size() (int64, error) {
	t, err := db.durable()
	if err != nil {
		return 0, err
	}
	segs, err := listSegments(db.dir)
	if err != nil {
		return 0, err
	}
	var total int64
	for _, s := range segs {
		switch {
		case s < t.seg: // sealed: its frames, not its seal
			fi, err := os.Stat(filepath.Join(db.dir, segName(s)))
			if err != nil {
				return 0, err
			}
			total += max(fi.Size()-sealSize, 0)
		case s == t.seg:
			total += t.end
		}
	}
	return total, nil
}
