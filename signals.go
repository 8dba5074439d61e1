package main

import (
	"context"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"github.com/hotpipe/hotpipe/internal/exitcode"
)

// errBrokenPipe means the reader of stdout went away: the command ends
// quietly with exitBrokenPipe.
var errBrokenPipe = exitcode.ErrBrokenPipe

// errInterrupted is the cause of a command's context cancelled by SIGINT
// or SIGTERM. It is context.Canceled to errors.Is, and says "interrupted".
var errInterrupted error = interruptError{}

type interruptError struct{}

func (interruptError) Error() string { return "interrupted" }
func (interruptError) Unwrap() error { return context.Canceled }

// interruptible returns a context cancelled by the first SIGINT or SIGTERM,
// with errInterrupted as its cause.
// After it, signal handling returns to the default, so a second signal
// ends the process at once.
//
// A command that can end gracefully (archive: it writes what is durable as
// a last object) calls stopper.graceful before it starts; then the first
// signal closes stopper's channel instead, the second cancels the context,
// and the third ends the process.
func interruptible(st *stopper) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(context.Background())
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	go func() {
		for {
			select {
			case <-ch:
				if st.stopGracefully() {
					continue
				}
				signal.Stop(ch)
				cancel(errInterrupted)
			case <-ctx.Done():
			}
			return
		}
	}()
	return ctx, func() { signal.Stop(ch); cancel(nil) }
}

// stopper is a graceful stop asked for by a signal.
type stopper struct {
	mu       sync.Mutex
	enabled  bool
	stopping bool
	ch       chan struct{}
}

// graceful makes the first signal close the returned channel rather than
// cancel the command's context.
func (s *stopper) graceful() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.enabled = true
	if s.ch == nil {
		s.ch = make(chan struct{})
	}
	return s.ch
}

// stopGracefully closes the channel at the first signal, when graceful
// stops were asked for, and reports whether it did.
func (s *stopper) stopGracefully() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.enabled || s.stopping {
		return false
	}
	s.stopping = true
	close(s.ch)
	return true
}
