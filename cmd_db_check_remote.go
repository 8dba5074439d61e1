package main

import (
	"github.com/urfave/cli/v2"

	"github.com/hotpipe/hotpipe/engine"
	"github.com/hotpipe/hotpipe/internal/exitcode"
)

// remoteCheck is db check --addr: the server checks its database of that
// name, and the report prints as the local check's does.
func (e *env) remoteCheck(c *cli.Context, name string) error {
	if err := engine.ValidateName(name); err != nil {
		return err
	}
	cl, err := e.client(c)
	if err != nil {
		return err
	}
	prog := e.newProgress("db check", name, 1, 0)
	rep, err := cl.Check(c.Context, name)
	if rep != nil {
		prog.add(rep.Frames, int(rep.Bytes), rep.Last, 0)
		if !rep.OK() && exitcode.Of(err) == exitcode.Integrity { // the damage: reported as the local check reports it
			err = nil
		}
		if !e.asJSON {
			for _, f := range rep.Findings {
				e.printFinding(name, f)
			}
		}
	}
	prog.finish()
	return e.checked(name, rep, err)
}
