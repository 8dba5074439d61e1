package main

import (
	"github.com/urfave/cli/v2"
)

// remoteVerify is verify --addr: the server verifies files of its backup
// directory, in order, as one stream, and the report is printed as the
// local verify prints it, with the same exit code.
func (e *env) remoteVerify(c *cli.Context, files []string) error {
	if len(files) == 0 {
		return usagef("verify --addr: give the names of files in the server's --backup-dir")
	}
	for _, f := range files {
		if f == "-" {
			return usagef("verify --addr: the server verifies its own files, not stdin: verify - runs locally")
		}
	}
	cl, err := e.client(c)
	if err != nil {
		return err
	}
	rep, err := cl.VerifyFiles(c.Context, files)
	if err != nil {
		return err
	}
	if e.asJSON {
		e.report = verifyJSONOf(rep)
	} else {
		printVerify(e, rep)
	}
	return rep.Err()
}
