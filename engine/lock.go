package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// lockFile records who holds a database's writer lock. It is only a label:
// the lock itself is an flock on the database directory, which cannot be
// unlinked or replaced while it holds files, so deleting or replacing LOCK
// never lets a second writer in.
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

// acquireLock takes the exclusive writer lock of the database in dir (an
// flock on the directory itself) and records this process in LOCK. The lock
// is released when the returned handle is closed, including when the
// process dies.
func acquireLock(dir, name string) (*os.File, error) {
	d, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	for i := 0; ; i++ {
		err = syscall.Flock(int(d.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if !errors.Is(err, syscall.EWOULDBLOCK) || i == lockRetries {
			break
		}
		time.Sleep(lockRetryDelay)
	}
	if errors.Is(err, syscall.EWOULDBLOCK) {
		d.Close()
		return nil, &LockedError{DB: name, Holder: readHolder(dir)}
	}
	if err != nil {
		d.Close()
		return nil, fmt.Errorf("lock %s: %w", dir, err)
	}
	if err := recordHolder(dir); err != nil {
		d.Close()
		return nil, fmt.Errorf("lock %s: %w", dir, err)
	}
	return d, nil
}

// recordHolder replaces LOCK with this process's description. The lock is
// already held, so no other writer races it.
func recordHolder(dir string) error {
	host, _ := os.Hostname()
	b, _ := json.Marshal(Holder{PID: os.Getpid(), Host: host, Started: time.Now().UTC()})
	return os.WriteFile(filepath.Join(dir, lockFile), append(b, '\n'), fileMode)
}

func readHolder(dir string) Holder {
	var h Holder
	f, err := os.Open(filepath.Join(dir, lockFile))
	if err != nil {
		return h
	}
	defer f.Close()
	b := make([]byte, 4096)
	n, _ := f.ReadAt(b, 0)
	_ = json.Unmarshal(b[:n], &h) // a holder that has not written yet is "unknown"
	return h
}

// releaseLock clears the holder record and drops the lock.
func releaseLock(d *os.File) error {
	_ = os.Truncate(filepath.Join(d.Name(), lockFile), 0)
	return d.Close()
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
	err = syscall.Flock(int(d.Fd()), syscall.LOCK_SH|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return readHolder(dir), true, nil
	}
	if err != nil {
		return Holder{}, false, err
	}
	return Holder{}, false, syscall.Flock(int(d.Fd()), syscall.LOCK_UN)
}
