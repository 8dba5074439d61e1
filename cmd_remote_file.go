package main

import (
	"context"
	"io"

	"github.com/urfave/cli/v2"

	"github.com/hotpipe/hotpipe/backup"
	"github.com/hotpipe/hotpipe/server"
)

// remoteFile is hot-backup --addr -o FILE [--append]: the server streams,
// and each frame is checked as it arrives and written into FILE as the
// local backup writes it (created, or appended to after its history is
// checked; fsynced before success), with the local report and exit codes.
// SIGINT ends it as it ends the local one: a following backup with its end
// record, a plain one at a frame boundary, resumable.
func (e *env) remoteFile(c *cli.Context, cl *server.Client, db, file string, opts backup.Options) error {
	req := server.BackupRequest{End: opts.End, Follow: opts.Follow, MaxRate: opts.MaxRate}
	src := func(ctx context.Context, after uint64) (io.ReadCloser, error) {
		r := req
		r.Start = after + 1
		st, err := cl.Backup(ctx, db, r)
		if err != nil {
			return nil, err
		}
		return st, nil
	}
	prog := e.newProgress("hot-backup", db, max(opts.Start, 1), 0)
	progressTo(prog, &opts)
	opts.Repaired = e.repaired
	var res backup.Result
	var err error
	if c.Bool("append") {
		res, err = backup.AppendFrom(c.Context, db, src, file, opts)
	} else {
		res, err = backup.FileFrom(c.Context, db, src, file, opts)
	}
	return e.backupEnded(db, file, opts, res, err, prog)
}
