package stream

import (
	"context"
	"errors"
	"io"
	"os"
	"testing"
)

// TestOnlyInputsThatCanStallAreReadInAGoroutine: a regular file is read
// directly (no copy, no hand-off); a pipe, which can stall, is wrapped.
func TestOnlyInputsThatCanStallAreReadInAGoroutine(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "input")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if r := Cancelable(context.Background(), f); r != io.Reader(f) {
		t.Fatalf("a regular file came back as %T", r)
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	pw.Close()
	r := Cancelable(context.Background(), pr)
	if _, ok := r.(*cancelable); !ok {
		t.Fatalf("a pipe came back as %T", r)
	}
	if _, err := r.Read(make([]byte, 8)); err != io.EOF {
		t.Fatalf("reading a closed pipe: %v", err)
	}
}

// TestCancelableGivesUpOnAStalledPipe: a read blocked on a pipe whose writer
// says nothing returns the context's cause once the context is cancelled.
func TestCancelableGivesUpOnAStalledPipe(t *testing.T) {
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	defer pw.Close()
	cause := errors.New("operator said stop")
	ctx, cancel := context.WithCancelCause(context.Background())
	r := Cancelable(ctx, pr)
	done := make(chan error, 1)
	go func() { _, err := r.Read(make([]byte, 8)); done <- err }()
	cancel(cause)
	if err := <-done; !errors.Is(err, cause) {
		t.Fatalf("Read after cancel = %v, want the cause", err)
	}
	if _, err := r.Read(make([]byte, 8)); !errors.Is(err, cause) {
		t.Fatalf("a second Read = %v, want the cause again", err)
	}
}

// TestCancelableLeavesNoGoroutineBehind: once the read a cancel abandoned
// returns, the goroutine that made it ends (a server cancels many streams).
func TestCancelableLeavesNoGoroutineBehind(t *testing.T) {
	pr, pw := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	r := Cancelable(ctx, pr).(*cancelable)
	done := make(chan error, 1)
	go func() { _, err := r.Read(make([]byte, 8)); done <- err }()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Read after cancel = %v", err)
	}
	select {
	case _, open := <-r.req:
		if open {
			t.Fatal("the goroutine was asked to read again")
		}
	default:
		t.Fatal("the goroutine is still waiting for reads after the cancel")
	}
	pw.Close() // the abandoned read returns, and the goroutine with it
	<-r.resp
}
