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
