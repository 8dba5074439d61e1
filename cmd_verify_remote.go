package main

import (
	"os"

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
	if err := remoteIdentity(c); err != nil {
		return err
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

// remoteIdentity refuses --identity with --addr: the server verifies its
// own files, and a key is never sent to it, so an encrypted file is
// verified where its key is. HOTPIPE_IDENTITY alone is not refused: it is
// the local commands' default.
func remoteIdentity(c *cli.Context) error {
	if len(c.StringSlice("identity")) == 0 || os.Getenv("HOTPIPE_IDENTITY") != "" {
		return nil
	}
	return usagef("verify --addr: --identity stays on this host: the server verifies its own files and is never sent a key; " +
		"copy an encrypted file from its backup directory and verify it here: hotpipe verify FILE --identity KEY")
}
