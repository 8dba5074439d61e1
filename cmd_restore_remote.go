package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"filippo.io/age"

	"github.com/urfave/cli/v2"

	"github.com/hotpipe/hotpipe/engine"
	"github.com/hotpipe/hotpipe/replica"
	"github.com/hotpipe/hotpipe/server"
	"github.com/hotpipe/hotpipe/stream"
)

// remoteRestore is hot-restore --addr: the inputs are read here, as the
// local command reads them (each decompressed), and their stream is sent
// to the server, which applies it with the local command's checks; the
// messages, report and exit code are the local command's, from the
// server's result.
func (e *env) remoteRestore(c *cli.Context, opts replica.Options) error {
	for _, f := range []string{"verify", "repo", "source", "origin"} {
		if c.IsSet(f) {
			return usagef("hot-restore --addr: --%s runs here, not on the server: leave out --addr", f)
		}
	}
	if err := args(c, 1, 1); err != nil {
		return err
	}
	name := c.Args().First()
	if err := engine.ValidateName(name); err != nil {
		return err
	}
	cl, err := e.client(c)
	if err != nil {
		return err
	}
	files, ids, inputs, closeInputs, err := e.restoreInputs(c, name, opts.IfNotExists)
	if err != nil || inputs == nil {
		return err
	}
	defer closeInputs()
	prog := e.newProgress("hot-restore", name, 0, expectedEnd(files, opts.TargetLSN))
	var sent int64
	req := server.RestoreRequest{Options: opts, Input: uploadName(inputs), Sent: func(n int64) {
		prog.add(0, int(n-sent), 0, 0) // bytes sent: the server's figures replace them at the end
		sent = n
	}}
	// The server stops at a frame boundary when the upload ends: an
	// interrupt ends the upload (the inputs stop), not the request, so
	// that the answer says where the database was left.
	out, err := cl.Restore(context.WithoutCancel(c.Context), name, uploadOf(c.Context, inputs, ids), req)
	res, rerr := out.Replica()
	if err == nil {
		err = rerr
	}
	for _, n := range out.Notices {
		e.notify(n)
	}
	prog.set(res)
	if done, err := e.restoreEnded(name, res, err, opts, prog); done {
		return err
	}
	e.restored(name, res, prog)
	return nil
}

// set makes the progress the server's restore figures.
func (p *progress) set(res replica.Result) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.frames, p.bytes, p.lsn, p.lastTime = res.Frames, res.Bytes, res.Last, 0
	if !res.LastTime.IsZero() {
		p.lastTime = res.LastTime.UnixNano()
	}
}

// uploadName names the stream sent, in the server's messages: the input's
// name, as the local command names it.
func uploadName(inputs []stream.Input) string {
	names := make([]string, len(inputs))
	for i, in := range inputs {
		names[i] = in.Name
	}
	return strings.Join(names, "+")
}

// uploadOf is the stream of the inputs, in order, each decrypted (with
// ids) and decompressed as the local command does it: the server gets
// plain frames, and no key leaves this host. Its errors are located as the local
// command's: an input that is empty, or that fails, by its name and
// offset; an interrupt ends it with stream.Stopped(ctx).
func uploadOf(ctx context.Context, inputs []stream.Input, ids []age.Identity) io.Reader {
	rs := make([]io.Reader, len(inputs))
	for i, in := range inputs {
		rs[i] = &uploadInput{ctx: ctx, in: in, ids: ids}
	}
	return io.MultiReader(rs...)
}

// uploadInput is one decompressed input of an upload.
type uploadInput struct {
	ctx context.Context
	in  stream.Input
	ids []age.Identity
	r   io.Reader // decrypted and decompressed, once opened
	off int64
}

func (u *uploadInput) Read(p []byte) (int, error) {
	if err := stream.Stopped(u.ctx); err != nil { // a regular file never blocks: stop between reads
		return 0, err
	}
	if u.r == nil {
		r, err := stream.Open(u.in.R, stream.Options{Identities: u.ids})
		if err != nil {
			return 0, u.located(err)
		}
		u.r = r
	}
	n, err := u.r.Read(p)
	u.off += int64(n)
	switch {
	case err == io.EOF && u.off == 0:
		return n, &stream.Error{Source: u.in.Name, Err: stream.ErrEmpty}
	case err != nil && err != io.EOF:
		return n, u.located(fmt.Errorf("%w: %w", stream.ErrTruncated, err))
	}
	return n, err
}

// located names the input and offset in err, unless it is an interrupt.
func (u *uploadInput) located(err error) error {
	if cerr := stream.Stopped(u.ctx); cerr != nil && errors.Is(err, context.Canceled) {
		return cerr
	}
	return &stream.Error{Source: u.in.Name, Offset: u.off, Err: err}
}
