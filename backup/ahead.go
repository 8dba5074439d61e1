package backup

import (
	"io"
	"time"
)

// ahead reads a source in a goroutine of its own, so that the one reading
// it can act while a Read waits: a following run fsyncs what it has
// written every so often, and the source may then be idle for hours. Read
// is called by one goroutine at a time, and returns only with the answer
// of the read it asked for, so its buffer is never written after it
// returns.
type ahead struct {
	src   io.ReadCloser
	req   chan []byte
	res   chan readResult
	every time.Duration
	sync  func() error // called at least every `every` while reads go on or wait
	last  time.Time    // the last sync
}

type readResult struct {
	n   int
	err error
}

// newAhead starts reading src ahead; stop ends it once no Read is waiting.
func newAhead(src io.ReadCloser, every time.Duration, sync func() error) *ahead {
	a := &ahead{src: src, req: make(chan []byte), res: make(chan readResult, 1), every: every, sync: sync, last: time.Now()}
	go func() {
		for p := range a.req {
			n, err := src.Read(p)
			a.res <- readResult{n, err}
		}
	}()
	return a
}

// Read reads from the source, syncing when one is due, before and while
// it waits. A failed sync closes the source, to end the wait, and is the
// error returned.
func (a *ahead) Read(p []byte) (int, error) {
	serr := a.due()
	if serr != nil {
		return 0, serr
	}
	a.req <- p
	for {
		t := time.NewTimer(max(a.every-time.Since(a.last), 0))
		select {
		case r := <-a.res:
			t.Stop()
			if serr != nil {
				return r.n, serr
			}
			return r.n, r.err
		case <-t.C:
			if serr == nil {
				if serr = a.due(); serr != nil {
					_ = a.src.Close()
				}
			}
			if serr != nil {
				a.last = time.Now() // wait on for the read's answer, syncing no more
			}
		}
	}
}

// due syncs if the last sync is `every` ago.
func (a *ahead) due() error {
	if time.Since(a.last) < a.every {
		return nil
	}
	a.last = time.Now()
	return a.sync()
}

// stop ends the goroutine; no Read may be waiting.
func (a *ahead) stop() { close(a.req) }
