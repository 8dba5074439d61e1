package repo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"filippo.io/age"

	"github.com/hotpipe/hotpipe/backup"
	"github.com/hotpipe/hotpipe/engine"
	"github.com/hotpipe/hotpipe/txframe"
)

// BackupOptions choose what Backup writes.
type BackupOptions struct {
	// Level is the backup's level, 0..MaxLevel: level 0 copies LSN 1 to the
	// last durable LSN, level k the frames after the last backup of a
	// lower level.
	Level int
	// Expires, when not zero, is when the backup may be deleted: expire
	// deletes it then, unless a kept restore point still needs it. It is
	// kept to the second.
	Expires time.Time
	// MaxRate and Progress are as in backup.Options.
	MaxRate  float64
	Progress func(backup.Progress)
	// Recipients, when set, encrypt the object with age to each of them
	// (see Name.Encrypted).
	Recipients []age.Recipient
}

// BackupResult says what Backup wrote.
type BackupResult struct {
	Entry    Entry // the object written, or found made already
	UpToDate bool  // nothing written: nothing new since the last backup of a lower level, or the same backup exists
	Frames   uint64
	Bytes    int64 // of frames
}

// ErrLevel means a backup level outside 0..MaxLevel.
var ErrLevel = errors.New("backup level must be 0 to 9")

// Backup writes a backup of db of the given level into the repository,
// as one object: the frames from where the last backup of a lower level
// ended (LSN 1 for level 0) to the last durable LSN when it starts. It
// runs beside db's writers, as hot-backup does.
func (r *Repository) Backup(ctx context.Context, db *engine.DB, opts BackupOptions) (BackupResult, error) {
	if opts.Level < 0 || opts.Level > MaxLevel {
		return BackupResult{}, fmt.Errorf("%w: %d", ErrLevel, opts.Level)
	}
	meta, err := db.Meta()
	if err != nil {
		return BackupResult{}, err
	}
	end, _, err := db.State()
	if err != nil {
		return BackupResult{}, err
	}
	c, err := r.Catalog(ctx, db.Name())
	if err != nil {
		return BackupResult{}, err
	}
	h := c.History(db.Name(), meta.Origin)
	first := h.levelStart(opts.Level)
	if first > end {
		return BackupResult{UpToDate: true}, nil
	}
	n, err := nameFor(db, meta.Origin, first, end)
	if err != nil {
		return BackupResult{}, err
	}
	// The expiry is kept to the second, as the name keeps it.
	n.Kind, n.Level, n.Expires = Backup, opts.Level, opts.Expires.Truncate(time.Second)
	n.Encrypted = len(opts.Recipients) > 0
	if e, ok := h.entry(n.String()); ok { // the same frames, level and expiry: made already
		return BackupResult{Entry: e, UpToDate: true}, nil
	}
	e, res, err := r.put(ctx, db, n, backup.Options{MaxRate: opts.MaxRate, Progress: opts.Progress, Recipients: opts.Recipients})
	if errors.Is(err, ErrExist) { // made meanwhile by another run: a name says all it holds
		return BackupResult{Entry: Entry{Name: n, Key: n.String()}, UpToDate: true}, nil
	}
	return BackupResult{Entry: e, Frames: res.Frames, Bytes: res.Bytes}, err
}

// entry returns the history's object of that name.
func (h *History) entry(key string) (Entry, bool) {
	if h == nil {
		return Entry{}, false
	}
	for _, e := range h.Objects {
		if e.Key == key {
			return e, true
		}
	}
	return Entry{}, false
}

// levelStart is the first LSN of a backup of level: 1 past the last LSN
// of the backups of lower levels, 1 when there is none.
func (h *History) levelStart(level int) uint64 {
	var last uint64
	if h == nil {
		return 1
	}
	for _, e := range h.Objects {
		if e.Kind == Backup && e.Level < level {
			last = max(last, e.Last)
		}
	}
	return last + 1
}

// commitTime reads the commit time of db's frame lsn.
func commitTime(db *engine.DB, lsn uint64) (time.Time, error) {
	fr, err := db.Frames(lsn, lsn)
	if err != nil {
		return time.Time{}, err
	}
	defer fr.Close()
	block, err := fr.Next()
	if err != nil {
		return time.Time{}, err
	}
	for f := range txframe.Frames(block) {
		n, ns := txframe.Fields(f)
		if n == lsn {
			return time.Unix(0, ns).UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%s: frame %d not found where the index puts it", db.Name(), lsn)
}
