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

// acquireLock takes the exclusive writer lock of the database in dir and
// records this process in it. The lock is released when the file is closed,
// including when the process dies.
func acquireLock(dir, name string) (*os.File, error) {
	path := filepath.Join(dir, lockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, fileMode)
	if err != nil {
		return nil, err
	}
	for i := 0; ; i++ {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if !errors.Is(err, syscall.EWOULDBLOCK) || i == lockRetries {
			break
		}
		time.Sleep(lockRetryDelay)
	}
	if errors.Is(err, syscall.EWOULDBLOCK) {
		holder := readHolder(f)
		f.Close()
		return nil, &LockedError{DB: name, Holder: holder}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if err := recordHolder(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return f, nil
}

func recordHolder(f *os.File) error {
	host, _ := os.Hostname()
	b, _ := json.Marshal(Holder{PID: os.Getpid(), Host: host, Started: time.Now().UTC()})
	if err := f.Truncate(0); err != nil {
		return err
	}
	_, err := f.WriteAt(append(b, '\n'), 0)
	return err
}

func readHolder(f *os.File) Holder {
	var h Holder
	b := make([]byte, 4096)
	n, _ := f.ReadAt(b, 0)
	_ = json.Unmarshal(b[:n], &h) // a holder that has not written yet is "unknown"
	return h
}

// releaseLock clears the holder record and drops the lock.
func releaseLock(f *os.File) error {
	_ = f.Truncate(0)
	return f.Close()
}

// LockHolder reports whether a writer holds the lock of the database in
// dataDir, and who. It probes with a shared lock held for an instant.
func LockHolder(dataDir, name string) (Holder, bool, error) {
	dir, err := dbPath(dataDir, name)
	if err != nil {
		return Holder{}, false, err
	}
	f, err := os.OpenFile(filepath.Join(dir, lockFile), os.O_RDONLY, 0)
	if os.IsNotExist(err) {
		return Holder{}, false, nil
	}
	if err != nil {
		return Holder{}, false, err
	}
	defer f.Close()
	err = syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return readHolder(f), true, nil
	}
	if err != nil {
		return Holder{}, false, err
	}
	return Holder{}, false, syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
}
