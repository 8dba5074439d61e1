package main

import (
	"context"
	"errors"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// errBrokenPipe means the reader of stdout went away: the command ends
// quietly with exitBrokenPipe.
var errBrokenPipe = errors.New("broken pipe")

// interruptible returns a context cancelled by the first SIGINT or SIGTERM.
// After it, signal handling returns to the default, so a second signal
// ends the process at once.
func interruptible() (context.Context, func()) {
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	go func() {
		select {
		case <-ch:
			signal.Stop(ch)
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, func() { signal.Stop(ch); cancel() }
}

// interrupted returns errInterrupted once ctx is cancelled.
func interrupted(ctx context.Context) error {
	if ctx.Err() != nil {
		return errInterrupted
	}
	return nil
}

// writeErr turns a write error on stdout into errBrokenPipe when the reader
// has gone away.
func writeErr(err error) error {
	if errors.Is(err, syscall.EPIPE) {
		return errBrokenPipe
	}
	return err
}

// ctxReader reads in a goroutine of its own so that Read can return as soon
// as its context is cancelled, even while the read underneath is blocked
// on an input that stalls (a pipe whose writer went quiet). The blocked
// goroutine is abandoned; the command is ending. At the end of the input
// the goroutine ends too.
type ctxReader struct {
	ctx  context.Context
	req  chan int
	resp chan readResult
	busy bool
	err  error
}

type readResult struct {
	b   []byte
	err error
}

// interruptibleReader returns r, made to give up on ctx when it can stall.
// A regular file cannot stall: it is returned as it is, sparing every byte
// a copy and every read a hand-off between goroutines (the callers check
// ctx between reads).
func interruptibleReader(ctx context.Context, r io.Reader) io.Reader {
	if f, ok := r.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
			return f
		}
	}
	cr := &ctxReader{ctx: ctx, req: make(chan int), resp: make(chan readResult, 1)}
	go func() {
		var buf []byte
		for n := range cr.req {
			if cap(buf) < n {
				buf = make([]byte, n)
			}
			m, err := r.Read(buf[:n])
			cr.resp <- readResult{buf[:m], err}
		}
	}()
	return cr
}

// Read hands the read to the goroutine and waits for it or for ctx. The
// goroutine reads into its own buffer, copied out here, so an abandoned
// read never writes into p.
func (cr *ctxReader) Read(p []byte) (int, error) {
	if cr.err != nil {
		return 0, cr.err
	}
	if !cr.busy {
		cr.busy = true
		cr.req <- len(p)
	}
	select {
	case res := <-cr.resp:
		cr.busy = false
		n := copy(p, res.b)
		if res.err != nil {
			cr.err = res.err
			close(cr.req)
		}
		return n, res.err
	case <-cr.ctx.Done():
		cr.err = errInterrupted
		return 0, cr.err
	}
}
