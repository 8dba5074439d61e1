package main

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/hotpipe/hotpipe/engine"
	"github.com/hotpipe/hotpipe/repo"
)

// repoFlag is --repo, the backup repository of every command that uses
// one. HOTPIPE_REPO is read by openRepo, not by the flag: hot-backup and
// hot-restore switch to the repository only when --repo (or --level,
// --expire) is on their command line, so an exported HOTPIPE_REPO never
// turns `hot-backup foo | bzip2` into something else.
func repoFlag() cli.Flag {
	return &cli.StringFlag{Name: "repo", DefaultText: "$HOTPIPE_REPO",
		Usage: "the backup repository at `URL`: a directory, or s3://bucket/prefix (endpoint, region and credentials from HOTPIPE_S3_ENDPOINT, AWS_ENDPOINT_URL, AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY)"}
}

// openRepo opens the repository --repo names, else HOTPIPE_REPO.
func (e *env) openRepo(c *cli.Context) (*repo.Repository, error) {
	url := c.String("repo")
	if url == "" {
		url = os.Getenv("HOTPIPE_REPO")
	}
	if url == "" {
		return nil, usagef("%s: --repo URL (or HOTPIPE_REPO) names the repository", commandPath(c))
	}
	s, err := repo.OpenStore(c.Context, url, repo.StoreOptions{}.WithEnv(os.Getenv))
	if err != nil {
		return nil, usagef("%s: --repo: %v", commandPath(c), err)
	}
	return repo.New(s), nil
}

// openRepoDB opens --repo's repository and, as a lock-free reader, the
// database the command names; the caller closes the database.
func (e *env) openRepoDB(c *cli.Context) (*repo.Repository, *engine.DB, error) {
	r, err := e.openRepo(c)
	if err != nil {
		return nil, nil, err
	}
	db, err := e.open(c.Args().First(), true)
	return r, db, err
}

func repoCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:            "repo",
		Usage:           "list and check a backup repository",
		HideHelpCommand: true,
		Description: `A repository (--repo URL: a directory, or s3://bucket/prefix) holds
hotpipe stream objects: the continuous archive (hotpipe archive) and
levelled backups (hot-backup --repo). Each object is an ordinary hotpipe
stream of one LSN range of one database history, and its name says which
(database, origin, LSNs, commit times, kind, expiry): a listing is the
catalog. hot-restore --repo restores from it.`,
		Action:      groupAction(e, "repo"),
		Subcommands: []*cli.Command{repoListCommand(e), repoVerifyCommand(e), repoExpireCommand(e), repoCompactCommand(e), repoRekeyCommand(e)},
	}
}

func repoListCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "list",
		Usage:     "list the histories a repository holds, their LSN and time ranges, gaps and backups",
		ArgsUsage: "[DB]",
		Description: `For each database history (database and origin) in the repository, prints
the LSNs and commit times a restore can reach from LSN 1, the objects and
bytes, the backups by level with their expiry, and any gap: LSNs no object
holds, which no restore can pass. With DB, only that database. Nothing is
read but the listing.

Examples:
   hotpipe repo list --repo /backup/hotpipe
   hotpipe repo list foo --repo s3://backups/hotpipe --json
   hotpipe repo list --metrics-file /var/lib/node_exporter/hotpipe_repo.prom   # from cron

--metrics-file FILE also writes, per history, the restorable LSN and time,
the gaps, the age of the newest backup and archived frame and the lag as a
node_exporter textfile (replaced atomically), for alerts.`,
		Flags: []cli.Flag{repoFlag(), jsonFlag(),
			&cli.StringFlag{Name: "metrics-file", Usage: "also write the repository's freshness as a node_exporter textfile at `FILE`"}},
		Action: e.repoList,
	}
}

func (e *env) repoList(c *cli.Context) error {
	if err := args(c, 0, 1); err != nil {
		return err
	}
	r, err := e.openRepo(c)
	if err != nil {
		return err
	}
	sum, err := r.Summary(c.Context, c.Args().First())
	if err != nil {
		return err
	}
	rep := repoListJSONOf(r, sum)
	e.freshness(rep, time.Now())
	if f := c.String("metrics-file"); f != "" {
		if err := writeAtomically(f, []byte(repoMetrics(rep))); err != nil {
			return fmt.Errorf("repo list: --metrics-file: %w", err)
		}
	}
	if e.asJSON {
		e.report = rep
		return nil
	}
	printRepoList(e, rep)
	return nil
}

// repoListReport is what repo list --json prints.
type repoListReport struct {
	head
	Repo      string        `json:"repo"`
	Histories []historyJSON `json:"histories"`
	Foreign   []string      `json:"foreign"`
}

// historyJSON sums up one history of a repository.
type historyJSON struct {
	DB          string       `json:"db"`
	Origin      string       `json:"origin"`
	FirstLSN    uint64       `json:"first_lsn"`
	LastLSN     uint64       `json:"last_lsn"` // reachable from LSN 1; 0 when LSN 1 is missing
	FirstCommit *time.Time   `json:"first_commit,omitempty"`
	LastCommit  *time.Time   `json:"last_commit,omitempty"`
	ObjectCount int          `json:"object_count"`
	Bytes       int64        `json:"bytes"`
	Encrypted   int          `json:"encrypted_objects"`
	Superseded  int          `json:"superseded_objects"`
	Gaps        []rangeJSON  `json:"gaps"`
	Archive     *archiveJSON `json:"archive,omitempty"`
	Backups     []backupJSON `json:"backups"`
	// Freshness, for monitoring: how old the newest archived frame and the
	// newest backup are (by commit time), and, when the database is in
	// the data directory with this history, how far the repository is
	// behind it.
	ArchiveAgeSeconds *float64 `json:"archive_age_seconds,omitempty"`
	BackupAgeSeconds  *float64 `json:"backup_age_seconds,omitempty"`
	LagLSNs           *uint64  `json:"lag_lsns,omitempty"`
	LagSeconds        *float64 `json:"lag_seconds,omitempty"`
}

type rangeJSON struct {
	FirstLSN uint64 `json:"first_lsn"`
	LastLSN  uint64 `json:"last_lsn"`
}

type archiveJSON struct {
	FirstLSN    uint64     `json:"first_lsn"`
	LastLSN     uint64     `json:"last_lsn"`
	LastCommit  *time.Time `json:"last_commit,omitempty"`
	ObjectCount int        `json:"object_count"`
	Bytes       int64      `json:"bytes"`
	Encrypted   int        `json:"encrypted_objects"`
}

type backupJSON struct {
	Level      int        `json:"level"`
	FirstLSN   uint64     `json:"first_lsn"`
	LastLSN    uint64     `json:"last_lsn"`
	LastCommit *time.Time `json:"last_commit,omitempty"`
	Expires    *time.Time `json:"expires,omitempty"`
	Bytes      int64      `json:"bytes"`
	Object     string     `json:"object"`
	encrypted  bool
}

func repoListJSONOf(r *repo.Repository, sum *repo.Summary) *repoListReport {
	out := &repoListReport{Repo: r.String(), Histories: []historyJSON{}, Foreign: append([]string{}, sum.Foreign...)}
	for _, h := range sum.Histories {
		hj := historyJSON{DB: h.DB, Origin: h.Origin.String(), ObjectCount: h.Objects, Bytes: h.Bytes,
			Encrypted: h.Encrypted, Superseded: h.Superseded, Gaps: []rangeJSON{}, Backups: []backupJSON{}}
		if h.Restorable > 0 {
			hj.FirstLSN, hj.LastLSN = 1, h.Restorable
			hj.FirstCommit, hj.LastCommit = jsonTime(h.FirstTime), jsonTime(h.RestorableTime)
		}
		for _, g := range h.Gaps {
			hj.Gaps = append(hj.Gaps, rangeJSON{g.First, g.Last})
		}
		if a := h.Archive; a != nil {
			hj.Archive = &archiveJSON{FirstLSN: a.First, LastLSN: a.Last, LastCommit: jsonTime(a.LastTime), ObjectCount: a.Objects, Bytes: a.Bytes, Encrypted: a.Encrypted}
		}
		for _, o := range h.Backups {
			hj.Backups = append(hj.Backups, backupJSON{Level: o.Level, FirstLSN: o.First, LastLSN: o.Last,
				LastCommit: jsonTime(o.LastTime), Expires: jsonTime(o.Expires), Bytes: o.Size, Object: o.Key, encrypted: o.Encrypted})
		}
		out.Histories = append(out.Histories, hj)
	}
	return out
}

// freshness fills in each history's ages and, for a database in the data
// directory with that history, its lag.
func (e *env) freshness(rep *repoListReport, now time.Time) {
	age := func(t *time.Time) *float64 {
		if t == nil {
			return nil
		}
		a := max(now.Sub(*t).Seconds(), 0)
		return &a
	}
	for i := range rep.Histories {
		h := &rep.Histories[i]
		if h.Archive != nil {
			h.ArchiveAgeSeconds = age(h.Archive.LastCommit)
		}
		var newest *time.Time
		for _, b := range h.Backups {
			if b.LastCommit != nil && (newest == nil || b.LastCommit.After(*newest)) {
				newest = b.LastCommit
			}
		}
		h.BackupAgeSeconds = age(newest)
		db, err := e.open(h.DB, true)
		if err != nil {
			continue
		}
		m, err1 := db.Meta()
		last, _, err2 := db.State()
		db.Close()
		if err1 != nil || err2 != nil || m.Origin.String() != h.Origin || last < h.LastLSN {
			continue
		}
		lag := last - h.LastLSN
		h.LagLSNs = &lag
		if lag > 0 {
			h.LagSeconds = age(h.LastCommit)
		}
	}
}

// repoMetrics is repo list's report as a node_exporter textfile.
func repoMetrics(rep *repoListReport) string {
	var b strings.Builder
	metric := func(name, help string, get func(h *historyJSON) (float64, bool)) {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s gauge\n", name, help, name)
		for i := range rep.Histories {
			h := &rep.Histories[i]
			if v, ok := get(h); ok {
				fmt.Fprintf(&b, "%s{repo=%q,db=%q,origin=%q} %g\n", name, rep.Repo, h.DB, h.Origin, v)
			}
		}
	}
	opt := func(p *float64) (float64, bool) {
		if p == nil {
			return 0, false
		}
		return *p, true
	}
	metric("hotpipe_repo_restorable_lsn", "Last LSN a restore from the repository reaches.", func(h *historyJSON) (float64, bool) { return float64(h.LastLSN), true })
	metric("hotpipe_repo_restorable_timestamp_seconds", "Commit time of that LSN: the newest point a restore reaches.", func(h *historyJSON) (float64, bool) {
		if h.LastCommit == nil {
			return 0, false
		}
		return seconds(*h.LastCommit), true
	})
	metric("hotpipe_repo_gaps", "LSN ranges no object holds.", func(h *historyJSON) (float64, bool) { return float64(len(h.Gaps)), true })
	metric("hotpipe_repo_backup_age_seconds", "How long ago the newest frame of the newest backup was committed.", func(h *historyJSON) (float64, bool) { return opt(h.BackupAgeSeconds) })
	metric("hotpipe_repo_archive_age_seconds", "How long ago the newest archived frame was committed.", func(h *historyJSON) (float64, bool) { return opt(h.ArchiveAgeSeconds) })
	metric("hotpipe_repo_lag_lsns", "LSNs the database in the data directory holds and the repository does not.", func(h *historyJSON) (float64, bool) {
		if h.LagLSNs == nil {
			return 0, false
		}
		return float64(*h.LagLSNs), true
	})
	return b.String()
}

// printRepoList prints the catalog for a person.
func printRepoList(e *env, rep *repoListReport) {
	w := e.stdout
	if len(rep.Histories) == 0 {
		fmt.Fprintf(w, "%s: no hotpipe objects\n", rep.Repo)
	}
	for _, h := range rep.Histories {
		fmt.Fprintf(w, "%s (origin %s): %d object(s)%s, %s\n", h.DB, h.Origin, h.ObjectCount, encryptedCount(h.Encrypted, h.ObjectCount), size(h.Bytes))
		if h.Superseded > 0 {
			fmt.Fprintf(w, "  re-encrypted: %d older copies wait to be deleted (run repo rekey again)\n", h.Superseded)
		}
		if h.LastLSN > 0 {
			fmt.Fprintf(w, "  restorable: LSN 1..%d, committed %s .. %s\n", h.LastLSN,
				h.FirstCommit.Format(time.RFC3339Nano), h.LastCommit.Format(time.RFC3339Nano))
		} else {
			fmt.Fprintln(w, "  restorable: nothing (LSN 1 is missing)")
		}
		if h.LagLSNs != nil {
			lag := fmt.Sprintf("  behind %s in %s: %d LSN(s)", h.DB, "the data directory", *h.LagLSNs)
			if h.LagSeconds != nil {
				lag += fmt.Sprintf(", the oldest committed %s ago", time.Duration(*h.LagSeconds*1e9).Round(time.Millisecond))
			}
			fmt.Fprintln(w, lag)
		}
		for _, g := range h.Gaps {
			fmt.Fprintf(w, "  gap: LSN %d..%d is missing\n", g.FirstLSN, g.LastLSN)
		}
		if a := h.Archive; a != nil {
			fmt.Fprintf(w, "  archive: LSN %d..%d, %d object(s)%s, %s\n", a.FirstLSN, a.LastLSN, a.ObjectCount, encryptedCount(a.Encrypted, a.ObjectCount), size(a.Bytes))
		}
		for _, b := range h.Backups {
			exp := ""
			if b.Expires != nil {
				exp = ", expires " + b.Expires.Format(time.RFC3339)
			}
			enc := ""
			if b.encrypted {
				enc = ", encrypted"
			}
			fmt.Fprintf(w, "  backup level %d: LSN %d..%d, committed by %s, %s%s%s\n", b.Level, b.FirstLSN, b.LastLSN,
				b.LastCommit.Format(time.RFC3339Nano), size(b.Bytes), enc, exp)
		}
	}
	for _, f := range rep.Foreign {
		fmt.Fprintf(w, "not a hotpipe object, left alone: %s\n", shown(f))
	}
}

// encryptedCount says how many of n objects are encrypted, "" for none.
func encryptedCount(encrypted, n int) string {
	switch encrypted {
	case 0:
		return ""
	case n:
		return ", encrypted"
	}
	return fmt.Sprintf(" (%d encrypted)", encrypted)
}

func repoVerifyCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "verify",
		Usage:     "read every object of a repository once and check it and the chain across objects",
		ArgsUsage: "[DB]",
		Description: `Reads each object once, whole: its format, every CRC, its hash chain from
its base, and that it holds what its name says (database, origin, LSNs,
commit times). Across objects, every two that state the hash at one LSN
must agree, and LSNs no object holds are named. Every problem is printed
with its object, offset and LSN; then a summary. Exit 3 if an object is
damaged, else 4 for a gap or objects that disagree. With DB, only that
database.

Examples:
   hotpipe repo verify --repo /backup/hotpipe
   hotpipe repo verify foo --repo s3://backups/hotpipe --json`,
		Flags:  []cli.Flag{repoFlag(), jsonFlag(), identityFlag()},
		Action: e.repoVerify,
	}
}

// repoVerifyReport is what repo verify --json prints.
type repoVerifyReport struct {
	head
	Repo        string        `json:"repo"`
	ObjectCount int           `json:"object_count"`
	Bytes       int64         `json:"bytes"`
	Frames      uint64        `json:"frames"`
	Problems    []problemJSON `json:"problems"`
}

func (e *env) repoVerify(c *cli.Context) error {
	if err := args(c, 0, 1); err != nil {
		return err
	}
	r, err := e.openRepo(c)
	if err != nil {
		return err
	}
	ids, err := identities(c)
	if err != nil {
		return err
	}
	prog := e.newProgress("repo verify", c.Args().First(), 0, 0)
	opts := repo.VerifyOptions{Identities: ids, Progress: func(objects int, bytes int64) { prog.add(0, int(bytes-prog.bytes), 0, 0) }}
	if !e.asJSON {
		opts.OnProblem = func(p repo.Problem) { fmt.Fprintf(e.stdout, "problem: %s\n", shownText(p.Error())) }
	}
	rep, err := r.Verify(c.Context, c.Args().First(), opts)
	prog.finish()
	if err != nil {
		return err
	}
	if e.asJSON {
		out := &repoVerifyReport{Repo: r.String(), ObjectCount: rep.Objects, Bytes: rep.Bytes, Frames: rep.Frames, Problems: []problemJSON{}}
		for _, p := range rep.Problems {
			out.Problems = append(out.Problems, problemJSON{Object: p.Key, Offset: p.Offset, LSN: p.LSN, Message: oneLine(p.Err.Error())})
		}
		e.report = out
		return rep.Err()
	}
	fmt.Fprintf(e.stdout, "%s: %d object(s), %d frames, %s read once\n", r, rep.Objects, rep.Frames, size(rep.Bytes))
	if !rep.OK() {
		fmt.Fprintf(e.stdout, "repo verify: %d problem(s)\n", len(rep.Problems))
		return rep.Err()
	}
	fmt.Fprintln(e.stdout, "repo verify: ok")
	return nil
}

func repoExpireCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "expire",
		Usage:     "delete expired and redundant objects, saying why each kept one is kept",
		ArgsUsage: "[DB]",
		Description: `The database is append-only and never compacted, so restoring any point
needs every frame from LSN 1: retention removes redundant copies and whole
expired histories, never a frame a kept restore point needs. expire keeps
every object of each history's chain from LSN 1 to the last LSN it can
restore (the objects a restore of the latest point reads) and never leaves
a gap; it deletes backups whose --expire has passed, archive objects whose
frames the chain holds, and, with --keep-within, older histories of a
database (before it was recreated or restored from another) with no commit
within that span. --keep-full N keeps the N newest level 0 backups of each
history whatever their expiry. Objects past a gap are kept. Every object
is printed with what is done with it and why. Temp files and incomplete
multipart uploads that failed writes left are removed after
--cleanup-after (24h).

Examples:
   hotpipe repo expire --repo /backup/hotpipe --dry-run
   hotpipe repo expire foo --repo s3://backups/hotpipe --keep-within 7d --keep-full 2`,
		Flags: []cli.Flag{repoFlag(), jsonFlag(),
			&cli.StringFlag{Name: "keep-within", Usage: "keep every history with a commit within `SPAN` (7d, 1w3d, 36h)", DefaultText: "every history"},
			&cli.IntFlag{Name: "keep-full", Usage: "keep the `N` newest level 0 backups of each history, expired or not"},
			&cli.BoolFlag{Name: "dry-run", Usage: "say what would be deleted, and delete nothing"},
			&cli.DurationFlag{Name: "cleanup-after", Value: 24 * time.Hour, Usage: "also remove temp files and incomplete uploads that failed writes left, started longer ago than this (0: none)"},
		},
		Action: e.repoExpire,
	}
}

// repoExpireReport is what repo expire --json prints.
type repoExpireReport struct {
	head
	Repo      string         `json:"repo"`
	DryRun    bool           `json:"dry_run"`
	Decisions []decisionJSON `json:"decisions"`
}

type decisionJSON struct {
	Object  string `json:"object"`
	Keep    bool   `json:"keep"`
	Deleted bool   `json:"deleted"`
	Reason  string `json:"reason"`
}

func (e *env) repoExpire(c *cli.Context) error {
	if err := args(c, 0, 1); err != nil {
		return err
	}
	opts := repo.ExpireOptions{KeepFull: c.Int("keep-full"), DryRun: c.Bool("dry-run"), CleanupAfter: c.Duration("cleanup-after"),
		CleanedUp: func(n int) {
			if n > 0 {
				e.notef("repo expire: removed %d temp file(s) or incomplete upload(s) that failed writes left", n)
			}
		}}
	if opts.KeepFull < 0 {
		return usagef("repo expire: --keep-full %d: give 0 or more", opts.KeepFull)
	}
	if v := c.String("keep-within"); v != "" {
		d, err := parseAge(v)
		if err != nil {
			return usagef("repo expire: --keep-within: %v", err)
		}
		opts.KeepWithin = d
	}
	r, err := e.openRepo(c)
	if err != nil {
		return err
	}
	rep := &repoExpireReport{Repo: r.String(), DryRun: opts.DryRun, Decisions: []decisionJSON{}}
	e.report = rep
	deleted := 0
	opts.Decided = func(d repo.Decision) {
		rep.Decisions = append(rep.Decisions, decisionJSON{Object: d.Key, Keep: d.Keep, Deleted: d.Deleted, Reason: d.Reason})
		if d.Deleted {
			deleted++
		}
		if e.asJSON {
			return
		}
		verb := "keep  "
		switch {
		case d.Deleted:
			verb = "delete"
		case !d.Keep:
			verb = "would delete"
		}
		fmt.Fprintf(e.stdout, "%s %s: %s\n", verb, d.Key, d.Reason)
	}
	_, err = r.Expire(c.Context, c.Args().First(), opts)
	if err != nil {
		return err
	}
	e.notef("repo expire: %d object(s) looked at, %d deleted", len(rep.Decisions), deleted)
	return nil
}

func repoCompactCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "compact",
		Usage:     "merge small archive objects into large ones",
		ArgsUsage: "[DB]",
		Description: `The archive writes an object every --max-delay: many small objects, which
slow a restore from a long archive. compact merges runs of archive objects
(each starting right after the one before) into objects of up to
--target-size. A merged object is written whole, then read back and
verified (every frame, and its end hash the run's) before the small ones
are deleted, so the frames are always held at least once; a compact that
was interrupted is finished by the next.

Encrypted objects are merged only with --identity, to read them, and
--recipient or --recipients-file, to encrypt the merged object: their
frames are never stored in clear. With recipients, merged objects are
encrypted whatever the small ones were.

Examples:
   hotpipe repo compact --repo /backup/hotpipe
   hotpipe repo compact foo --repo s3://backups/hotpipe --target-size 1GiB --dry-run
   hotpipe repo compact --repo s3://backups/hotpipe --identity key.txt -R recipients.txt`,
		Flags: append([]cli.Flag{repoFlag(), jsonFlag(), identityFlag(),
			&cli.StringFlag{Name: "target-size", Value: "256MiB", Usage: "merge up to `SIZE` of objects into one"},
			&cli.BoolFlag{Name: "dry-run", Usage: "say what would be merged, and write nothing"},
		}, recipientFlags("the merged objects")...),
		Action: e.repoCompact,
	}
}

// repoCompactReport is what repo compact --json prints.
type repoCompactReport struct {
	head
	Repo   string      `json:"repo"`
	DryRun bool        `json:"dry_run"`
	Merges []mergeJSON `json:"merges"`
}

type mergeJSON struct {
	Object      string   `json:"object"`
	Replaced    []string `json:"replaced"`
	ObjectCount int      `json:"object_count"`
	Bytes       int64    `json:"bytes"`
}

func (e *env) repoCompact(c *cli.Context) error {
	if err := args(c, 0, 1); err != nil {
		return err
	}
	target, err := parseSize(c.String("target-size"))
	if err != nil || target < 1<<20 {
		return usagef("repo compact: --target-size %q: give at least 1MiB", c.String("target-size"))
	}
	ids, err := identities(c)
	if err != nil {
		return err
	}
	to, err := recipients(c, "repo compact")
	if err != nil {
		return err
	}
	r, err := e.openRepo(c)
	if err != nil {
		return err
	}
	dry := c.Bool("dry-run")
	rep := &repoCompactReport{Repo: r.String(), DryRun: dry, Merges: []mergeJSON{}}
	e.report = rep
	opts := repo.CompactOptions{TargetSize: int64(target), DryRun: dry, Identities: ids, Recipients: to, Merged: func(m repo.Merge) {
		mj := mergeJSON{Object: m.Into.Key, ObjectCount: len(m.From), Bytes: m.Into.Size}
		for _, f := range m.From {
			mj.Replaced = append(mj.Replaced, f.Key)
		}
		rep.Merges = append(rep.Merges, mj)
		if e.asJSON {
			return
		}
		verb := "merged"
		if dry {
			verb = "would merge"
		}
		fmt.Fprintf(e.stdout, "%s %d object(s), LSN %d..%d, into %s\n", verb, len(m.From), m.Into.First, m.Into.Last, m.Into.Key)
	}}
	if _, err := r.Compact(c.Context, c.Args().First(), opts); err != nil {
		if errors.Is(err, repo.ErrDecryptedCopy) {
			err = &hinted{err: err, hint: "give --recipient KEY or --recipients-file FILE (HOTPIPE_RECIPIENTS_FILE)"}
		}
		return err
	}
	e.notef("repo compact: %d merge(s)", len(rep.Merges))
	return nil
}
