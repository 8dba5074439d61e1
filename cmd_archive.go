package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/hotpipe/hotpipe/repo"
)

func archiveCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "archive",
		Usage:     "archive a database into a repository continuously",
		ArgsUsage: "DB",
		Description: `Follows DB (as a lock-free reader, beside its writer) and writes its new
frames into the repository as objects: as soon as a committed frame has
waited --max-delay (the recovery point objective) or --object-size bytes
are waiting. Started again, it resumes after the last LSN the repository
holds of DB's history, once the hash there is DB's (else exit 4): no gap,
no duplicate.

When the repository fails (unreachable, cut off, answering 5xx), archive
says so on stderr and tries again, waiting 1 s, then 2 s, up to 30 s
between attempts; after --give-up-after of failures in a row it exits 1
with the last error. Frames wait in DB meanwhile: nothing is lost, and
the next object covers them.

--recipient or --recipients-file encrypt each object with age (named
.hp.age): archive needs no private key, even to resume, since each
object's header says in clear where it ends and a tag of the hash there
(docs/FORMAT.md).

SIGINT or SIGTERM writes what is durable as a last object (retrying as
above) and exits 0; a second signal aborts at once (exit 130), leaving no
partial object.
Progress shows the lag behind DB in LSNs and seconds. --metrics-file FILE
keeps a node_exporter textfile (replaced atomically after each object)
with the last archived LSN and commit time, the lag, the time of the last
success and the errors, for alerts.

Examples:
   hotpipe archive foo --repo /backup/hotpipe
   hotpipe archive foo --repo s3://backups/hotpipe --max-delay 5s \
     --metrics-file /var/lib/node_exporter/hotpipe_foo.prom
   hotpipe archive foo --repo s3://backups/hotpipe -R /etc/hotpipe/recipients.txt`,
		Flags: append([]cli.Flag{
			repoFlag(),
			&cli.DurationFlag{Name: "max-delay", Value: time.Second, Usage: "write an object once a committed frame has waited this long (the RPO)"},
			&cli.StringFlag{Name: "object-size", Value: "64MiB", Usage: "write an object once this many bytes of frames wait; no object holds more (a backlog is cut into several)"},
			&cli.DurationFlag{Name: "give-up-after", Value: 5 * time.Minute, Usage: "exit once the repository has failed this long in a row (0: never)"},
			&cli.StringFlag{Name: "metrics-file", Usage: "keep a node_exporter textfile of the archive's state at `FILE`"},
		}, recipientFlags("each object")...),
		Action: e.archive,
	}
}

func (e *env) archive(c *cli.Context) error {
	if err := args(c, 1, 1); err != nil {
		return err
	}
	objSize, err := parseSize(c.String("object-size"))
	if err != nil || objSize < 1<<20 {
		return usagef("archive: --object-size %q: give at least 1MiB", c.String("object-size"))
	}
	if d := c.Duration("max-delay"); d < 10*time.Millisecond || d > 24*time.Hour {
		return usagef("archive: --max-delay %s: give 10ms to 24h", d)
	}
	giveUp := c.Duration("give-up-after")
	if giveUp < 0 {
		return usagef("archive: --give-up-after %s: give 0 (never) or more", giveUp)
	}
	if giveUp == 0 {
		giveUp = -1 // the library's "for ever"
	}
	to, err := recipients(c, "archive")
	if err != nil {
		return err
	}
	r, db, err := e.openRepoDB(c)
	if err != nil {
		return err
	}
	defer db.Close()
	m := &archiveMetrics{path: c.String("metrics-file"), db: db.Name(), repo: r.String()}
	prog := e.newProgress("archive", db.Name(), 0, 0)
	durable := func() uint64 { lsn, _, _ := db.State(); return lsn }
	prog.source = durable
	var start uint64
	started := false
	opts := repo.ArchiveOptions{MaxDelay: c.Duration("max-delay"), ObjectSize: int64(objSize), Stop: e.stop.graceful(),
		Progress: func(p repo.ArchiveProgress) {
			if !started {
				start, started = p.Archived, true
			}
			m.state = p
			prog.add(p.Archived-start-prog.frames, int(p.Bytes-prog.bytes), p.Archived, p.ArchivedTime.UnixNano())
		},
		Written:     func(repo.Entry) { m.success = time.Now(); m.write(e) },
		GiveUpAfter: giveUp,
		Recipients:  to,
		Retrying: func(rt repo.Retry) {
			m.retries, m.failed = m.retries+1, time.Now()
			m.write(e)
			e.warnf("archive %s: attempt %d failed: %v; trying again in %s", db.Name(), rt.Attempt, rt.Err, rt.Wait.Round(time.Millisecond))
		},
	}
	err = r.Archive(c.Context, db, opts)
	prog.finish()
	if err != nil {
		m.errors, m.failed = m.errors+1, time.Now()
		m.write(e)
		return err
	}
	m.write(e)
	e.notef("archive %s: stopped at LSN %d (committed %s); %d object(s), %s this run", db.Name(), m.state.Archived,
		commitTime(m.state.ArchivedTime.UnixNano()), m.state.Objects, size(m.state.Bytes))
	return nil
}

// archiveMetrics is the node_exporter textfile of an archive.
type archiveMetrics struct {
	path, db, repo string
	state          repo.ArchiveProgress
	success        time.Time
	failed         time.Time // of the last error, retried or not
	errors         int
	retries        int
}

// write replaces the textfile with the current state: a temp file in the
// same directory renamed over it, so node_exporter never reads half of
// one. A failure is a warning: the archive goes on.
func (m *archiveMetrics) write(e *env) {
	if m.path == "" {
		return
	}
	if err := writeAtomically(m.path, []byte(m.text())); err != nil {
		e.warnf("archive %s: --metrics-file: %v", m.db, err)
	}
}

func (m *archiveMetrics) text() string {
	labels := fmt.Sprintf(`{db=%q,repo=%q}`, m.db, m.repo)
	var b strings.Builder
	gauge := func(name, help string, v float64) {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s gauge\n%s%s %g\n", name, help, name, name, labels, v)
	}
	gauge("hotpipe_archive_last_lsn", "Last LSN archived into the repository.", float64(m.state.Archived))
	if !m.state.ArchivedTime.IsZero() {
		gauge("hotpipe_archive_last_commit_timestamp_seconds", "Commit time of the last LSN archived: the recovery point.", seconds(m.state.ArchivedTime))
	}
	gauge("hotpipe_archive_lag_lsns", "LSNs durable in the database and not yet archived.", float64(m.state.LagLSNs()))
	gauge("hotpipe_archive_lag_seconds", "How long ago the last frame archived was committed, when frames wait after it.", m.state.Lag.Seconds())
	if !m.success.IsZero() {
		gauge("hotpipe_archive_last_success_timestamp_seconds", "When the archive last wrote an object.", seconds(m.success))
	}
	gauge("hotpipe_archive_errors", "Errors that stopped the archive (it exits on the first).", float64(m.errors))
	gauge("hotpipe_archive_retries", "Failed attempts at the repository that the archive retried, this run.", float64(m.retries))
	if !m.failed.IsZero() {
		gauge("hotpipe_archive_last_error_timestamp_seconds", "When the archive last failed at the repository, retried or not.", seconds(m.failed))
	}
	return b.String()
}

func seconds(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

// writeAtomically replaces path with data: a temp file beside it, synced,
// renamed over it.
func writeAtomically(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(f.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		return errors.Join(err, os.Remove(f.Name()))
	}
	return nil
}
