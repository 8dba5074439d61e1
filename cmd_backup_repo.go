package main

import (
	"time"

	"filippo.io/age"
	"github.com/urfave/cli/v2"

	"github.com/hotpipe/hotpipe/backup"
	"github.com/hotpipe/hotpipe/repo"
)

// repoBackup is hot-backup --repo: a levelled backup into a repository.
func (e *env) repoBackup(c *cli.Context, recipients []age.Recipient) error {
	if err := args(c, 1, 1); err != nil {
		return err
	}
	for _, f := range []string{"output", "append", "start-lsn", "after", "end-lsn", "follow"} {
		if c.IsSet(f) {
			return usagef("hot-backup: --repo writes one object of its own range; it cannot take --%s", f)
		}
	}
	level := c.Int("level")
	if level < 0 || level > repo.MaxLevel {
		return usagef("hot-backup: --level %d: %v", level, repo.ErrLevel)
	}
	opts := repo.BackupOptions{Level: level, Recipients: recipients}
	if v := c.String("expire"); v != "" {
		at, err := expiry(v, time.Now())
		if err != nil {
			return usagef("hot-backup: --expire: %v", err)
		}
		opts.Expires = at
	}
	if r := c.String("max-rate"); r != "" {
		var err error
		if opts.MaxRate, err = parseRate(r); err != nil {
			return usagef("hot-backup: --max-rate: %v", err)
		}
	}
	r, db, err := e.openRepoDB(c)
	if err != nil {
		return err
	}
	defer db.Close()
	prog := e.newProgress("hot-backup", db.Name(), 0, 0)
	opts.Progress = func(p backup.Progress) {
		prog.first, prog.total = p.First, p.End
		prog.add(p.Frames-prog.frames, int(p.Bytes-prog.bytes), p.Last, p.LastTime)
	}
	res, err := r.Backup(c.Context, db, opts)
	if res.Frames > 0 {
		prog.finish()
	}
	if e.asJSON {
		e.report = repoBackupJSONOf(db.Name(), r.String(), res, time.Since(prog.start))
	}
	if err != nil {
		return err
	}
	if res.UpToDate {
		e.notef("hot-backup %s: nothing new for a level %d backup in %s", db.Name(), level, r)
		return nil
	}
	e.notef("hot-backup %s: level %d, LSN %d..%d into %s as %s, %s", db.Name(), level, res.Entry.First, res.Entry.Last,
		r, res.Entry.Key, prog.summary())
	return nil
}

// expiry reads --expire: a span from now, or a time.
func expiry(v string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		if !t.After(now) {
			return t, usagef("%s is not in the future", v)
		}
		return t, nil
	}
	d, err := parseAge(v)
	if err != nil {
		return time.Time{}, err
	}
	return now.Add(d), nil
}

func repoBackupJSONOf(db, url string, res repo.BackupResult, d time.Duration) *backupReport {
	r := &backupReport{DB: db, Repo: url, Frames: res.Frames, Bytes: res.Bytes, Seconds: d.Seconds(),
		BytesPerSecond: perSecond(float64(res.Bytes), d), UpToDate: res.UpToDate}
	if e := res.Entry; e.Key != "" {
		r.Object, r.FirstLSN, r.LastLSN, r.EndLSN, r.Complete = e.Key, e.First, e.Last, e.Last, true
		r.LastCommit, r.Level, r.Expires = jsonTime(e.LastTime), &e.Level, jsonTime(e.Expires)
	}
	return r
}
