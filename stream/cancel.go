package stream

import (
	"context"
	"errors"
	"io"
	"os"
)

// Stopped returns nil while ctx is not done, and then the error a call
// stopped by ctx returns: context.Cause(ctx), which errors.Is also finds to
// be ctx.Err() (context.Canceled or context.DeadlineExceeded) even when
// the canceller gave a cause of its own ("job aborted"). Every package of
// hotpipe stops with it, so callers test one thing whatever stopped them.
func Stopped(ctx context.Context) error {
	err := ctx.Err()
	if err == nil {
		return nil
	}
	cause := context.Cause(ctx)
	if errors.Is(cause, err) {
		return cause
	}
	return &stopped{cause: cause, err: err}
}

// stopped is a cause of its own that is ctx.Err() too.
type stopped struct{ cause, err error }

func (s *stopped) Error() string   { return s.cause.Error() }
func (s *stopped) Unwrap() []error { return []error{s.cause, s.err} }

// Cancelable returns r made to give up when ctx is done, even while a read
// underneath is blocked on an input that stalls (a pipe whose writer went
// quiet): Read then returns Stopped(ctx). A regular file cannot
// stall and is returned as it is, sparing every byte a copy; callers check
// ctx between reads.
//
// Reads of a stallable r run in a goroutine of their own, into its own
// buffer, so an abandoned read never writes into the caller's. When ctx is
// done during a read, that goroutine ends as soon as the read returns
// (closing r makes it return).
func Cancelable(ctx context.Context, r io.Reader) io.Reader {
	if f, ok := r.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
			return f
		}
	}
	cr := &cancelable{ctx: ctx, req: make(chan int), resp: make(chan readResult, 1)}
	go cr.serve(r)
	return cr
}

type cancelable struct {
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

// serve reads for Read until r ends or Read stops asking.
func (cr *cancelable) serve(r io.Reader) {
	var buf []byte
	for n := range cr.req {
		if cap(buf) < n {
			buf = make([]byte, n)
		}
		m, err := r.Read(buf[:n])
		cr.resp <- readResult{buf[:m], err}
	}
}

// Read hands the read to the goroutine and waits for it or for ctx.
func (cr *cancelable) Read(p []byte) (int, error) {
	if cr.err != nil {
		return 0, cr.err
	}
	if err := Stopped(cr.ctx); err != nil && !cr.busy { // no new read once stopped
		cr.err = err
		close(cr.req)
		return 0, err
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
		cr.err = Stopped(cr.ctx)
		close(cr.req) // the goroutine ends once the read it is in returns
		return 0, cr.err
	}
}
