package stream

import (
	"bytes"
	"runtime"
	"sync"

	"github.com/hotpipe/hotpipe/txframe"
)

// prehashMin is the least run of buffered frames worth hashing in parallel:
// below it, starting goroutines costs more than it saves.
const prehashMin = 256 << 10

// prehashed holds the SHA-256 of the bodies of the whole frames that were
// buffered from position at on, computed on all cores before the frames
// are checked one by one, so that the sequential check does only the
// 64-byte chain step per frame. Any refill of the buffer invalidates it.
type prehashed struct {
	at   int   // buffer position of the first frame
	ends []int // end of each frame, relative to at
	sums []txframe.Hash
	i    int // next frame to use
}

// prehash hashes the bodies of the run of whole frames at the read position.
func (r *Reader) prehash() {
	p := &r.pre
	p.at, p.ends, p.sums, p.i = r.in.r, p.ends[:0], p.sums[:0], 0
	if !r.opts.ParallelHash || r.opts.Quick || r.opts.ReadAhead {
		return
	}
	b := r.in.buffered()
	end := 0
	for end+txframe.HeaderSize <= len(b) && bytes.Equal(b[end:end+4], frameMagic[:]) {
		n, err := txframe.FrameLen(b[end:])
		if err != nil || end+n > len(b) {
			break
		}
		end += n
		p.ends = append(p.ends, end)
	}
	if len(p.ends) < 2 || end < prehashMin {
		p.ends = p.ends[:0]
		return
	}
	p.sums = append(p.sums, make([]txframe.Hash, len(p.ends))...)
	workers := min(runtime.GOMAXPROCS(0), len(p.ends))
	var wg sync.WaitGroup
	first := 0
	for w := 1; w <= workers; w++ {
		last := first
		for last < len(p.ends) && p.ends[last] <= end*w/workers {
			last++
		}
		wg.Add(1)
		go func(from, to int) {
			defer wg.Done()
			for i := from; i < to; i++ {
				start := 0
				if i > 0 {
					start = p.ends[i-1]
				}
				p.sums[i] = txframe.BodySum(b[start:p.ends[i]])
			}
		}(first, last)
		first = last
	}
	wg.Wait()
}

// sumAt returns the precomputed body sum of the frame of n bytes at buffer
// position pos, if there is one.
func (r *Reader) sumAt(pos, n int) (txframe.Hash, bool) {
	p := &r.pre
	if p.i >= len(p.ends) {
		return txframe.Hash{}, false
	}
	start := p.at
	if p.i > 0 {
		start += p.ends[p.i-1]
	}
	if pos != start || p.at+p.ends[p.i]-start != n {
		p.ends = p.ends[:0] // out of step: the buffer moved
		return txframe.Hash{}, false
	}
	sum := p.sums[p.i]
	p.i++
	return sum, true
}
