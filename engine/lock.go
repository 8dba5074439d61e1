package engine

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// lockFile records who holds a database's writer lock. It is only a label:
// on unix the lock itself is an flock on the database directory, which
// cannot be unlinked or replaced while it holds files, so deleting or
// replacing LOCK never lets a second writer in (windows: see lockWriter).
const lockFile = "LOCK"

// Holder describes the process holding a database's writer lock.
type Holder struct {
	PID     int       `json:"pid"`
	Host    string    `json:"host"`
	Started time.Time `json:"started"`
}

// String describes the holder as "pid N on HOST since TIME".
func (h Holder) String() string {
	if h.PID == 0 {
		return "holder unknown"
	}
	return fmt.Sprintf("pid %d on %s since %s", h.PID, h.Host, h.Started.Format(time.RFC3339))
}

// lockRetries bridge the instant in which a status probe holds a shared lock
// (see LockHolder), so a writer starting then is not refused.
const (
	lockRetries    = 5
	lockRetryDelay = 10 * time.Millisecond
)

// errLockHeld is what a platform's lockWriter returns when another holds
// the lock.
var errLockHeld = errors.New("lock held elsewhere")

// acquireLock takes the exclusive writer lock of the database in dir (see
// lockWriter for what is locked on each platform) and records this process
// in LOCK. The lock is released when the returned lock is closed, including
// when the process dies.
func acquireLock(dir, name string) (*writerLock, error) {
	d, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	var held *os.File
	for i := 0; ; i++ {
		held, err = lockWriter(d)
		if !errors.Is(err, errLockHeld) || i == lockRetries {
			break
		}
		time.Sleep(lockRetryDelay)
	}
	if errors.Is(err, errLockHeld) {
		d.Close()
		return nil, &LockedError{DB: name, Holder: readHolder(dir)}
	}
	if err != nil {
		d.Close()
		return nil, fmt.Errorf("lock %s: %w", dir, err)
	}
	l := &writerLock{dir: d, held: held}
	if err := recordHolder(dir); err != nil {
		l.close()
		return nil, fmt.Errorf("lock %s: %w", dir, err)
	}
	return l, nil
}

// writerLock is a database's writer lock, held.
type writerLock struct {
	dir  *os.File // the database directory, open: sameDir compares its path with it
	held *os.File // what holds the lock: dir itself, or a file in it (lockWriter)
}

// close drops the lock.
func (l *writerLock) close() error {
	if l.held == l.dir {
		return l.dir.Close()
	}
	return errors.Join(l.held.Close(), l.dir.Close())
}

// recordHolder describes this process in LOCK. The lock is already held,
// so no other writer races it.
func recordHolder(dir string) error { return RecordHolder(filepath.Join(dir, lockFile)) }

func readHolder(dir string) Holder { return ReadHolder(filepath.Join(dir, lockFile)) }

// holderRecord is the fixed size of a holder description: written in one
// write at offset 0 over the old one, never truncated first, so that a
// reader sees the old description or the new, never an empty file.
const holderRecord = 256

// RecordHolder describes this process (pid, host, start time) in the file
// at path, as the holder of a lock kept elsewhere: the file only describes.
func RecordHolder(path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE, fileMode)
	if err != nil {
		return err
	}
	_, err = f.WriteAt(EncodeHolder(), 0)
	return errors.Join(err, f.Close())
}

// HolderSize is the size of the description EncodeHolder makes.
const HolderSize = holderRecord

// EncodeHolder describes this process (pid, host, start time) in
// HolderSize bytes, as RecordHolder writes it and ReadHolder reads it.
func EncodeHolder() []byte {
	host, _ := os.Hostname()
	b, _ := json.Marshal(Holder{PID: os.Getpid(), Host: host, Started: time.Now().UTC()})
	if len(b) >= holderRecord {
		b = b[:0] // a host name too long to describe: "holder unknown"
	}
	b = append(b, bytes.Repeat([]byte{' '}, holderRecord-1-len(b))...)
	return append(b, '\n')
}

// holderReads bridge the instant between a holder taking its lock and
// describing itself.
const (
	holderReads     = 20
	holderReadDelay = time.Millisecond
)

// ReadHolder returns the holder described in the file at path, or the zero
// Holder ("holder unknown") when there is none.
func ReadHolder(path string) Holder {
	var h Holder
	for i := 0; i < holderReads; i++ {
		b := make([]byte, holderRecord)
		if f, err := os.Open(path); err == nil {
			n, _ := f.ReadAt(b, 0)
			f.Close()
			if json.Unmarshal(bytes.TrimRight(b[:n], " \n\x00"), &h) == nil && h.PID != 0 {
				return h
			}
		}
		time.Sleep(holderReadDelay)
	}
	return Holder{}
}

// errMoved means the database directory was renamed or replaced under its
// writer: the lock holds the old one, and names now lead elsewhere.
var errMoved = errors.New("the database directory was moved or replaced under its writer")

// sameDir checks that the database's path still names the directory the
// writer locked, before the writer creates or removes files by name.
func (db *DB) sameDir() error {
	if db.lock == nil {
		return nil
	}
	held, err := db.lock.dir.Stat()
	if err != nil {
		return err
	}
	now, err := os.Stat(db.dir)
	if err != nil || !os.SameFile(held, now) {
		return fmt.Errorf("%s: %w", db.dir, errors.Join(errMoved, err))
	}
	return nil
}

// releaseLock clears the holder record and drops the lock.
func releaseLock(l *writerLock) error {
	_ = os.WriteFile(filepath.Join(l.dir.Name(), lockFile), nil, fileMode)
	return l.close()
}

// LockHolder reports whether a writer holds the lock of the database in
// dataDir, and who. It probes with a shared lock held for an instant.
func LockHolder(dataDir, name string) (Holder, bool, error) {
	dir, err := dbPath(dataDir, name)
	if err != nil {
		return Holder{}, false, err
	}
	d, err := os.Open(dir)
	if os.IsNotExist(err) {
		return Holder{}, false, nil
	}
	if err != nil {
		return Holder{}, false, err
	}
	defer d.Close()
	held, err := probeLock(d)
	if held {
		return readHolder(dir), true, nil
	}
	return Holder{}, false, err
}
