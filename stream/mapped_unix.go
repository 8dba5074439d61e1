//go:build unix

package stream

import (
	"os"

	"golang.org/x/sys/unix"
)

// mapFile maps the first size bytes of f read-only.
func mapFile(f *os.File, size int64) ([]byte, error) {
	return unix.Mmap(int(f.Fd()), 0, int(size), unix.PROT_READ, unix.MAP_SHARED)
}

// unmapFile undoes mapFile.
func unmapFile(m []byte) { _ = unix.Munmap(m) }

// dropPages takes the pages of m, whole pages of a mapping that nothing
// reads any more, out of the process's memory (they stay in the page
// cache), so that its resident size stays flat in the file's size.
func dropPages(m []byte) { _ = unix.Madvise(m, unix.MADV_DONTNEED) }
