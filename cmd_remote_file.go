package main

import (
	"context"
	"io"
	"sync/atomic"

	"github.com/urfave/cli/v2"

	"github.com/hotpipe/hotpipe/backup"
	"github.com/hotpipe/hotpipe/server"
)

// remoteFile is hot-backup --addr -o FILE [--append]: the server streams,
// and each frame is checked as it arrives and written into FILE as the
// local backup writes it (created, or appended to after its history is
// checked; fsynced before success), with the local report and exit codes.
// SIGINT ends it as it ends the local one: a plain backup at a frame
// boundary, resumable (exit 130); a following one with its end record
// (exit 0), which the first signal asks the server to send.
func (e *env) remoteFile(c *cli.Context, cl *server.Client, db, file string, opts backup.Options) error {
	req := server.BackupRequest{End: opts.End, Follow: opts.Follow, MaxRate: opts.MaxRate}
	var opened atomic.Pointer[server.Stream]
	src := func(ctx context.Context, after uint64) (io.ReadCloser, error) {
		r := req
		r.Start = after + 1
		st, err := cl.Backup(ctx, db, r)
		if err != nil {
			return nil, err
		}
		opened.Store(st)
		return st, nil
	}
	ctx := c.Context
	if opts.Follow {
		var stop func()
		ctx, stop = e.stopFollow(c.Context, db, &opened)
		defer stop()
	}
	prog := e.newProgress("hot-backup", db, max(opts.Start, 1), 0)
	progressTo(prog, &opts)
	opts.Repaired = e.repaired
	var res backup.Result
	var err error
	if c.Bool("append") {
		res, err = backup.AppendFrom(ctx, db, src, file, opts)
	} else {
		res, err = backup.FileFrom(ctx, db, src, file, opts)
	}
	return e.backupEnded(db, file, opts, res, err, prog)
}

// stopFollow makes the first SIGINT or SIGTERM ask the server to end the
// opened stream with its end record, as the server would end it on its
// own stop; the following backup writes that end record and exits 0. When
// there is no stream yet, or the server cannot be asked, the returned
// context is cancelled instead, which ends the following backup with an
// end record of its own. stop ends the watch.
func (e *env) stopFollow(parent context.Context, db string, opened *atomic.Pointer[server.Stream]) (ctx context.Context, stop func()) {
	graceful := e.stop.graceful()
	ctx, cancel := context.WithCancelCause(parent)
	done := make(chan struct{})
	go func() {
		select {
		case <-graceful:
			st := opened.Load()
			if st == nil {
				cancel(errInterrupted)
				return
			}
			if err := st.Stop(context.WithoutCancel(parent)); err != nil {
				e.warnf("hot-backup %s: stopping the server's stream: %v", db, err)
				cancel(errInterrupted)
			}
		case <-done:
		}
	}()
	return ctx, func() { close(done); cancel(nil) }
}
