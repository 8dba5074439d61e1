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
