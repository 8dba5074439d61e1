//go:build linux

// Command splicecat copies files to stdout, which must be a pipe, with
// splice(2) alone: page-cache pages go into the pipe without a copy
// through user space. It is the bench's reference for a backup into a
// pipe, the fastest kernel-assisted copy of the same segment files (what
// `pv` does when it can splice), with the pipe widened to 1 MiB as
// hot-backup widens it.
package main

import (
	"fmt"
	"os"
	"syscall"
)

func main() {
	syscall.Syscall(syscall.SYS_FCNTL, 1, 1031, 1<<20) // F_SETPIPE_SZ, best effort
	for _, name := range os.Args[1:] {
		if err := copyFile(name); err != nil {
			fmt.Fprintln(os.Stderr, "splicecat:", err)
			os.Exit(1)
		}
	}
}

func copyFile(name string) error {
	f, err := os.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	for {
		n, err := syscall.Splice(int(f.Fd()), nil, 1, nil, 1<<20, 0)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if n == 0 {
			return nil
		}
	}
}
