package main

import (
	"github.com/urfave/cli/v2"

	"github.com/hotpipe/hotpipe/replica"
	"github.com/hotpipe/hotpipe/repo"
	"github.com/hotpipe/hotpipe/txframe"
)

// repoRestore is hot-restore --repo: a restore planned from a repository.
func (e *env) repoRestore(c *cli.Context, opts replica.Options) error {
	if err := args(c, 1, 1); err != nil {
		return err
	}
	for _, f := range []string{"input", "if-input-exists", "verify"} {
		if c.IsSet(f) {
			return usagef("hot-restore: --repo reads the repository; it cannot take --%s", f)
		}
	}
	ids, err := identities(c)
	if err != nil {
		return err
	}
	ro := repo.RestoreOptions{Source: c.String("source"), Identities: ids}
	if v := c.String("origin"); v != "" {
		o, err := txframe.ParseOrigin(v)
		if err != nil {
			return usagef("hot-restore: --origin %q: %v", v, err)
		}
		ro.Origin = o
	}
	r, err := e.openRepo(c)
	if err != nil {
		return err
	}
	name := c.Args().First()
	prog := e.restoreProgress(name, opts.TargetLSN, &opts)
	ro.Options = opts
	res, err := r.Restore(c.Context, e.dataDir, name, ro)
	if done, err := e.restoreEnded(name, res.Result, err, opts, prog); done {
		return err
	}
	if len(res.Plan) > 0 {
		e.notef("hot-restore %s: %d object(s) of %s, LSN %d..%d", name, len(res.Plan), r, res.Plan[0].First, res.Plan[len(res.Plan)-1].Last)
	}
	e.restored(name, res.Result, prog)
	return nil
}
