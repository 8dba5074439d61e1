package stream

import (
	"bytes"
	"errors"
	"io"
	"runtime"
	"testing"
	"testing/iotest"
)

// pieces is a source that returns data in reads of varying size (age gives
// a chunk at most per read), then err.
type pieces struct {
	data []byte
	i    int
	err  error
}

func (s *pieces) Read(p []byte) (int, error) {
	if len(s.data) == 0 {
		return 0, s.err
	}
	s.i++
	n := copy(p[:min(len(p), 1+(s.i*7919)%(ageChunk+500))], s.data)
	s.data = s.data[n:]
	return n, nil
}

func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*31 + i>>16)
	}
	return b
}

func TestAheadReturnsSourceInOrder(t *testing.T) {
	for _, tc := range []struct {
		name string
		size int
	}{
		{name: "empty", size: 0},
		{name: "one byte", size: 1},
		{name: "a batch less one", size: aheadBatch - 1},
		{name: "a batch", size: aheadBatch},
		{name: "a batch and one", size: aheadBatch + 1},
		{name: "several batches", size: 3*aheadBatch + 17},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := pattern(tc.size)
			a := newAhead(&pieces{data: want, err: io.EOF})
			if err := iotest.TestReader(a, want); err != nil {
				t.Fatal(err)
			}
			a.wg.Wait()
		})
	}
}

// TestAheadReturnsAllBeforeTheError: the plaintext before an error, then
// the error itself (not wrapped, not lost), every time after.
func TestAheadReturnsAllBeforeTheError(t *testing.T) {
	damaged := errors.New("chunk 9 is damaged")
	want := pattern(2*aheadBatch + 3*ageChunk)
	a := newAhead(&pieces{data: want, err: damaged})
	got, err := io.ReadAll(a)
	if !bytes.Equal(got, want) || err != damaged {
		t.Fatalf("read %d bytes (equal: %v), error %v; want the %d bytes, then %v", len(got), bytes.Equal(got, want), err, len(want), damaged)
	}
	for range 2 {
		if n, err := a.Read(make([]byte, 10)); n != 0 || err != damaged {
			t.Fatalf("Read after the error: %d, %v; want 0, %v", n, err, damaged)
		}
	}
	a.wg.Wait()
}

// endless is a source that never ends. It counts the bytes read from it
// and the buffers read into (by their last byte's address).
type endless struct {
	n    int
	bufs map[*byte]bool
}

func (e *endless) Read(p []byte) (int, error) {
	e.bufs[&p[:cap(p)][cap(p)-1]] = true
	m := min(len(p), ageChunk)
	clear(p[:m])
	e.n += m
	return m, nil
}

// TestAheadReadsBoundedAhead: without Reads, the fills stop by themselves
// at most two batches ahead of what Read returned, in two buffers
// whatever the input's length.
func TestAheadReadsBoundedAhead(t *testing.T) {
	src := &endless{bufs: map[*byte]bool{}}
	a := newAhead(src)
	returned := 0
	for _, n := range []int{1, 100, aheadBatch, 3 * aheadBatch, 7, 5 * aheadBatch} {
		m, err := io.ReadFull(a, make([]byte, n))
		if err != nil {
			t.Fatal(err)
		}
		returned += m
		a.wg.Wait() // the fill in flight ends without any Read
		if ahead := src.n - returned; ahead < 0 || ahead > 2*aheadBatch {
			t.Fatalf("after %d bytes returned, %d read from the source: %d ahead; want at most %d", returned, src.n, ahead, 2*aheadBatch)
		}
	}
	if len(src.bufs) > 2 {
		t.Fatalf("%d buffers read into; want at most 2", len(src.bufs))
	}
}

// settle waits for the goroutines that ended to be gone: NumGoroutine back
// at base. The caller has seen them end (a WaitGroup, a closed input).
func settle(t *testing.T, base int) {
	t.Helper()
	for i := 0; runtime.NumGoroutine() > base; i++ {
		if i == 1_000_000 {
			t.Fatalf("%d goroutines, %d before", runtime.NumGoroutine(), base)
		}
		runtime.Gosched()
	}
}

// TestAheadAbandonedLeavesNoGoroutine abandons a reader mid-stream, its
// fill blocked on a pipe: closing the pipe (the input's end) ends the
// fill, and nothing of the reader is left running.
func TestAheadAbandonedLeavesNoGoroutine(t *testing.T) {
	base := runtime.NumGoroutine()
	pr, pw := io.Pipe()
	a := newAhead(pr)
	wrote := make(chan error, 1)
	go func() {
		_, err := pw.Write(pattern(aheadBatch + 10)) // one batch and the start of the next
		wrote <- err
	}()
	if _, err := io.ReadFull(a, make([]byte, 10)); err != nil {
		t.Fatal(err)
	}
	if err := <-wrote; err != nil { // the next fill has read the rest and waits on the pipe
		t.Fatal(err)
	}
	pw.CloseWithError(errors.New("writer gone"))
	a.wg.Wait()
	settle(t, base)
}
