//go:build linux

package backup

import (
	"fmt"
	"os"
	"runtime/debug"
	"syscall"

	"github.com/hotpipe/hotpipe/engine"
	"github.com/hotpipe/hotpipe/txframe"
)

// mapBlock is about how many frame bytes are checked and spliced at a
// time: the pipe's size, so that one splice call moves a block.
const mapBlock = 1 << 20

// copyMapped is copy for a plain backup into a pipe: each segment's range
// of durable frames is mapped, every frame in it checked there (bounds,
// CRC, LSN) and each checked block spliced from the file into the pipe.
// No byte of a frame is copied through user space: the CRC reads the page
// cache's pages where they are, and splice hands the same pages to the
// pipe. The engine's reader only finds where the range starts and ends.
func (j *job) copyMapped(end uint64) error {
	for j.res.Last < end {
		if err := j.stopped(); err != nil {
			return err
		}
		if err := j.copySegment(end); err != nil {
			return err
		}
	}
	return nil
}

// copySegment copies the frames after the last one written, through end,
// that lie in the segment file holding the next.
func (j *job) copySegment(end uint64) error {
	r, err := j.db.Frames(j.res.Last+1, end)
	if err != nil {
		return err
	}
	defer r.Close()
	f, off, limit := r.Extent()
	if f == nil || off >= limit { // nothing to map: the reader says why
		if _, err := r.Next(); err != nil {
			return err
		}
		return fmt.Errorf("backup of %s: no frames to map after LSN %d", j.name, j.res.Last)
	}
	page := int64(os.Getpagesize())
	start := off &^ (page - 1)
	m, err := syscall.Mmap(int(f.Fd()), start, int(limit-start), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return &os.PathError{Op: "mmap", Path: f.Name(), Err: err}
	}
	defer syscall.Munmap(m)
	_ = syscall.Madvise(m, syscall.MADV_SEQUENTIAL)
	return j.copyMap(f, off, m[off-start:], end)
}

// copyMap checks and writes the frames of data, which maps f from off,
// through LSN end, in blocks. A fault reading the mapping (the file cut
// under the backup) is returned as corruption, not a crash.
func (j *job) copyMap(f *os.File, off int64, data []byte, end uint64) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	p := 0
	defer func() {
		if v := recover(); v != nil {
			fault, ok := v.(interface{ Addr() uintptr })
			if !ok {
				panic(v)
			}
			err = &engine.CorruptionError{Path: f.Name(), Offset: off + int64(p), LSN: j.res.Last + 1,
				Err: fmt.Errorf("reading the mapped file faulted at %#x", fault.Addr())}
		}
	}()
	for j.res.Last < end && p < len(data) {
		n, ferr := checkFrames(data[p:], j.res.Last+1, end, mapBlock)
		if n > 0 {
			j.offerAt(f, off+int64(p), data[p:p+n])
			if err := j.w.WriteFrames(data[p : p+n]); err != nil {
				return j.writeErr(err)
			}
			j.wrote(n)
			p += n
		}
		if ferr != nil {
			return &engine.CorruptionError{Path: f.Name(), Offset: off + int64(p), LSN: j.res.Last + 1, Err: ferr}
		}
		if err := j.stopped(); err != nil {
			return err
		}
	}
	return nil
}

// checkFrames returns the length of the run of whole, sound frames at the
// start of b with LSNs next, next+1, … through at most end, stopping after
// about max bytes (at least one frame); and why it stopped short, if a
// frame there is damaged, cut off or out of order.
func checkFrames(b []byte, next, end uint64, max int) (int, error) {
	p := 0
	for next <= end && p < len(b) && (p == 0 || p < max) {
		n, err := txframe.FrameLen(b[p:])
		if err == nil && n > len(b)-p {
			err = fmt.Errorf("%w: frame of %d bytes, %d before the end of the durable frames", txframe.ErrIncomplete, n, len(b)-p)
		}
		if err != nil {
			return p, err
		}
		h, err := txframe.Peek(b[p : p+n])
		if err != nil {
			return p, err
		}
		if h.LSN != next {
			return p, fmt.Errorf("%w: expected LSN %d, found %d", engine.ErrGap, next, h.LSN)
		}
		p += n
		next++
	}
	return p, nil
}
