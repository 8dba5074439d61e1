package main

import (
	"context"
	"errors"
	"os"
	"os/signal"
	"syscall"
)

// errBrokenPipe means the reader of stdout went away: the command ends
// quietly with exitBrokenPipe.
var errBrokenPipe = errors.New("broken pipe")

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
func interruptible() (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(context.Background())
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	go func() {
		select {
		case <-ch:
			signal.Stop(ch)
			cancel(errInterrupted)
		case <-ctx.Done():
		}
	}()
	return ctx, func() { signal.Stop(ch); cancel(nil) }
}
