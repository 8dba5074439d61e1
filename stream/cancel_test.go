package stream

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"sync"
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
	reading := &signalingReader{r: pr, called: make(chan struct{})}
	r := Cancelable(ctx, reading).(*cancelable)
	done := make(chan error, 1)
	go func() { _, err := r.Read(make([]byte, 8)); done <- err }()
	<-reading.called // the read is issued, and blocks
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

func TestStoppedIsTheCauseAndTheContextError(t *testing.T) {
	if err := Stopped(context.Background()); err != nil {
		t.Fatalf("Stopped of a live context = %v", err)
	}
	plain, cancel := context.WithCancel(context.Background())
	cancel()
	if err := Stopped(plain); err != context.Canceled {
		t.Fatalf("Stopped of a plain cancel = %v, want context.Canceled itself", err)
	}
	cause := errors.New("job aborted")
	own, cancelOwn := context.WithCancelCause(context.Background())
	cancelOwn(cause)
	if err := Stopped(own); !errors.Is(err, cause) || !errors.Is(err, context.Canceled) {
		t.Fatalf("Stopped with a cause = %v; want it to be the cause and context.Canceled", err)
	}
}

// TestCancelableReadsNothingOnceStopped: a Read after the context is done
// consumes no input.
func TestCancelableReadsNothingOnceStopped(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	reading := &signalingReader{r: bytes.NewReader([]byte("data")), called: make(chan struct{})}
	r := Cancelable(ctx, reading)
	if _, err := r.Read(make([]byte, 8)); !errors.Is(err, context.Canceled) {
		t.Fatalf("Read of a stopped context = %v", err)
	}
	select {
	case <-reading.called:
		t.Fatal("the input was read after the context was done")
	default:
	}
}

// signalingReader closes called at its first Read.
type signalingReader struct {
	r      io.Reader
	called chan struct{}
	once   sync.Once
}

func (s *signalingReader) Read(p []byte) (int, error) {
	s.once.Do(func() { close(s.called) })
	return s.r.Read(p)
}
