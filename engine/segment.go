package engine

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
)

const segSuffix = ".seg"

// DefaultSegmentSize is the size at which the writer starts a new segment
// file. A segment exceeds it only when it holds a single larger frame.
const DefaultSegmentSize = 64 << 20

func segName(first uint64) string { return fmt.Sprintf("%020d%s", first, segSuffix) }

// listSegments returns the first LSNs of dir's segment files, ascending.
func listSegments(dir string) ([]uint64, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var segs []uint64
	for _, e := range ents {
		name := e.Name()
		if !strings.HasSuffix(name, segSuffix) || len(name) != 20+len(segSuffix) {
			continue
		}
		first, err := strconv.ParseUint(strings.TrimSuffix(name, segSuffix), 10, 64)
		if err != nil || first == 0 {
			continue
		}
		segs = append(segs, first)
	}
	sort.Slice(segs, func(i, j int) bool { return segs[i] < segs[j] })
	return segs, nil
}

// segmentFor returns the index in segs of the segment holding lsn: the last
// one whose first LSN is <= lsn.
func segmentFor(segs []uint64, lsn uint64) int {
	return sort.Search(len(segs), func(i int) bool { return segs[i] > lsn }) - 1
}

// fileCache keeps segment files open for reading.
type fileCache struct {
	dir   string
	mu    sync.Mutex
	files map[uint64]*os.File
}

func (c *fileCache) get(seg uint64) (*os.File, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if f, ok := c.files[seg]; ok {
		return f, nil
	}
	f, err := os.Open(filepath.Join(c.dir, segName(seg)))
	if err != nil {
		return nil, err
	}
	if c.files == nil {
		c.files = make(map[uint64]*os.File)
	}
	c.files[seg] = f
	return f, nil
}

func (c *fileCache) close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var first error
	for k, f := range c.files {
		if err := f.Close(); err != nil && first == nil {
			first = err
		}
		delete(c.files, k)
	}
	return first
}
