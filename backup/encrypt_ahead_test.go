package backup

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"
)

// recorder is an io.WriteCloser that keeps what it is given, failing
// every write from the failAt-th on (counting from 1; 0: never).
type recorder struct {
	bytes.Buffer
	writes, failAt int
	closed         int
}

var errRecorder = errors.New("the disk is gone")

func (r *recorder) Write(p []byte) (int, error) {
	r.writes++
	if r.failAt > 0 && r.writes >= r.failAt {
		return 0, errRecorder
	}
	return r.Buffer.Write(p)
}

func (r *recorder) Close() error { r.closed++; return nil }

func TestAheadWriterKeepsTheOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, total := range []int{0, 1, aheadBatch - 1, aheadBatch, aheadBatch + 1, 5*aheadBatch + 12345} {
		want := make([]byte, total)
		for i := range want {
			want[i] = byte(rng.IntN(256))
		}
		var rec recorder
		a := newAheadWriter(&rec)
		for p := want; len(p) > 0; {
			k := min(len(p), 1+rng.IntN(3*aheadBatch/2))
			if n, err := a.Write(p[:k]); n != k || err != nil {
				t.Fatalf("%d bytes: Write = %d, %v", total, n, err)
			}
			p = p[k:]
		}
		if err := a.Close(); err != nil || rec.closed != 1 || !bytes.Equal(rec.Bytes(), want) {
			t.Fatalf("%d bytes: Close = %v, closed %d times, %d bytes out, equal %v", total, err, rec.closed, rec.Len(), bytes.Equal(rec.Bytes(), want))
		}
	}
}

// A failed write is returned by a later Write or by Close, nothing is
// written after it, and the output is not closed (age's last chunk never
// sealed).
func TestAheadWriterReturnsTheFailure(t *testing.T) {
	for _, failAt := range []int{1, 2, 3} {
		rec := recorder{failAt: failAt}
		a := newAheadWriter(&rec)
		chunk := make([]byte, aheadBatch/2)
		var err error
		for i := 0; i < 20 && err == nil; i++ {
			_, err = a.Write(chunk)
		}
		if cerr := a.Close(); !errors.Is(cerr, errRecorder) || err != nil && !errors.Is(err, errRecorder) {
			t.Fatalf("fail at write %d: Write %v, Close %v", failAt, err, cerr)
		}
		if rec.writes != failAt || rec.closed != 0 || rec.Len() != (failAt-1)*aheadBatch {
			t.Errorf("fail at write %d: %d writes, closed %d, %d bytes", failAt, rec.writes, rec.closed, rec.Len())
		}
	}
}
