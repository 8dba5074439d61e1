package main

import (
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/hotpipe/hotpipe/engine"
	"github.com/hotpipe/hotpipe/replica"
	"github.com/hotpipe/hotpipe/server"
)

// standbyFlags are hot-restore's flags of a pull standby.
func standbyFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "from", Usage: "pull from the hotpipe server at `URL`, http(s)://HOST:PORT/DB: the frames after DB's own last LSN (token in $HOTPIPE_TOKEN)"},
		&cli.BoolFlag{Name: "follow", Usage: "with --from: stay a standby, applying commits as they come and reconnecting when the server goes away, until SIGINT or SIGTERM"},
		&cli.DurationFlag{Name: "give-up-after", Value: 5 * time.Minute, Usage: "with --from: exit once the server has been unreachable for `DURATION` in a row (0: never)"},
	}
}

// standbyHelp is what hot-restore --help says of --from.
const standbyHelp = `
--from URL pulls from a hotpipe server (hotpipe serve): the stream of the
database URL's last path element, from DB's own last LSN on, with every
check of a restore. An absent DB is restored from LSN 1. With --follow, DB
is a standby: commits are applied as they come, and when the server or the
network goes away it reconnects (waiting 0.1s, doubling up to 10s) and
resumes from its durable last LSN, until --give-up-after without the
server (exit 1). The first SIGINT or SIGTERM asks the server to end the
stream with its end record (exit 0); a second cuts it (exit 130).
   hotpipe hot-restore foo2 --append --from http://db1:9899/foo --follow`

// pullRestore is hot-restore --from: server.Pull, and the messages and
// exit codes of a restore.
func (e *env) pullRestore(c *cli.Context, opts replica.Options) error {
	if err := standbyUsage(c); err != nil {
		return err
	}
	if err := args(c, 1, 1); err != nil {
		return err
	}
	name := c.Args().First()
	addr, source, err := parseFrom(c.String("from"))
	if err != nil {
		return err
	}
	conf, err := clientTLS()
	if err != nil {
		return fmt.Errorf("hot-restore: %w", err)
	}
	cl, err := server.NewClient(addr, server.ClientOptions{Token: os.Getenv("HOTPIPE_TOKEN"), TLS: conf})
	if err != nil {
		return usagef("hot-restore: --from: %v", err)
	}
	giveUp := c.Duration("give-up-after")
	switch {
	case giveUp < 0:
		return usagef("hot-restore: --give-up-after %s: give 0 (never) or more", giveUp)
	case giveUp == 0:
		giveUp = -1 // the library's "for ever"
	}
	prog := e.restoreProgress(name, 0, &opts)
	po := server.PullOptions{Follow: c.Bool("follow"), Append: opts.Append, ForceReplica: opts.ForceReplica,
		Notify: opts.Notify, Progress: opts.Progress, GiveUpAfter: giveUp,
		Retrying: func(r server.PullRetry) {
			e.warnf("hot-restore %s: the server %s went away at LSN %d: %v; trying again in %s (attempt %d)",
				name, cl, r.LSN, r.Err, r.Wait.Round(time.Millisecond), r.Attempt)
		}}
	if po.Follow {
		po.Stop = e.stop.graceful()
	}
	res, err := server.Pull(c.Context, cl, source, e.dataDir, name, po)
	if done, err := e.restoreEnded(name, res.Result, err, opts, prog); done {
		return err
	}
	e.restored(name, res.Result, prog)
	return nil
}

// standbyUsage refuses what --from and --follow do not go with.
func standbyUsage(c *cli.Context) error {
	if !c.IsSet("from") {
		return usagef("hot-restore: --follow and --give-up-after go with --from URL")
	}
	for _, f := range []string{"input", "repo", "source", "origin", "verify", "addr", "target-lsn", "target-time",
		"if-not-exists", "if-input-exists"} {
		if given(c, f) {
			return usagef("hot-restore: --from pulls from a server: it does not go with --%s", f)
		}
	}
	return nil
}

// given reports whether flag f was given on the command line, or by an
// environment variable other than the defaults $HOTPIPE_REPO and
// $HOTPIPE_ADDR, which a pull from elsewhere leaves aside.
func given(c *cli.Context, f string) bool {
	env := map[string]string{"repo": "HOTPIPE_REPO", "addr": "HOTPIPE_ADDR"}[f]
	return c.IsSet(f) && (env == "" || c.String(f) != os.Getenv(env))
}

// parseFrom splits --from's http(s)://HOST:PORT[/PREFIX]/DB into the
// server's address and the database DB.
func parseFrom(raw string) (addr, db string, err error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil ||
		u.RawQuery != "" || u.Fragment != "" {
		return "", "", usagef("hot-restore: --from %q: give http(s)://HOST:PORT/DB", raw)
	}
	path := strings.TrimSuffix(u.Path, "/")
	i := strings.LastIndex(path, "/")
	if i < 0 || path[i+1:] == "" {
		return "", "", usagef("hot-restore: --from %q names no database: give http(s)://HOST:PORT/DB", raw)
	}
	db = path[i+1:]
	if err := engine.ValidateName(db); err != nil {
		return "", "", usagef("hot-restore: --from %q: %v", raw, err)
	}
	u.Path = path[:i]
	return u.String(), db, nil
}
