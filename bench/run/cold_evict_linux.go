package main

import (
	"fmt"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// evictMethod says in a row's name how the cache was dropped: per file,
// since /proc/sys/vm/drop_caches needs root outside a container.
const evictMethod = "page cache dropped per file (fdatasync, posix_fadvise DONTNEED) before every run"

// evict drops the files' pages from the page cache without root: each is
// synced (DONTNEED evicts clean pages only) and advised away, then its
// residency counted with mincore over a mapping of it. It returns the
// pages still resident and the pages of the files; a caller wants 0.
func evict(files []string) (resident, pages int, err error) {
	for _, name := range files {
		r, p, err := evictFile(name)
		if err != nil {
			return 0, 0, err
		}
		resident, pages = resident+r, pages+p
	}
	return resident, pages, nil
}

func evictFile(name string) (resident, pages int, err error) {
	f, err := os.Open(name)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	fd := int(f.Fd())
	if err := unix.Fdatasync(fd); err != nil {
		return 0, 0, fmt.Errorf("fdatasync %s: %w", name, err)
	}
	if err := unix.Fadvise(fd, 0, 0, unix.FADV_DONTNEED); err != nil {
		return 0, 0, fmt.Errorf("fadvise %s: %w", name, err)
	}
	return residentPages(f)
}

// residentPages counts the file's pages in the page cache (what fincore
// prints): mincore over a shared read-only mapping, which faults nothing in.
func residentPages(f *os.File) (resident, pages int, err error) {
	fi, err := f.Stat()
	if err != nil || fi.Size() == 0 {
		return 0, 0, err
	}
	m, err := unix.Mmap(int(f.Fd()), 0, int(fi.Size()), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return 0, 0, fmt.Errorf("mmap %s: %w", f.Name(), err)
	}
	defer unix.Munmap(m)
	ps := os.Getpagesize()
	vec := make([]byte, (len(m)+ps-1)/ps)
	// x/sys/unix has no Mincore wrapper.
	if _, _, e := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&m[0])), uintptr(len(m)), uintptr(unsafe.Pointer(&vec[0]))); e != 0 {
		return 0, 0, fmt.Errorf("mincore %s: %w", f.Name(), e)
	}
	for _, v := range vec {
		resident += int(v & 1)
	}
	return resident, len(vec), nil
}
