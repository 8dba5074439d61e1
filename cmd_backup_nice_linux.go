//go:build linux

package main

import (
	"errors"
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// niceLowest is the lowest CPU priority (the highest nice value).
const niceLowest = 19

// lowerPriority is hot-backup --nice: every thread of this process runs at
// nice 19, so that the scheduler gives writers on the same cores the CPU
// first. Linux keeps a nice value per thread, and a new thread starts
// with its creator's: once every thread is at 19, so are those the Go
// runtime starts later. The threads are listed twice, for one started
// while the first pass ran. Raising one's own nice value needs no
// privilege.
func lowerPriority() error {
	for range 2 {
		tasks, err := os.ReadDir("/proc/self/task")
		if err != nil {
			return fmt.Errorf("--nice: %w", err)
		}
		for _, t := range tasks {
			tid, err := strconv.Atoi(t.Name())
			if err != nil {
				continue
			}
			if err := unix.Setpriority(unix.PRIO_PROCESS, tid, niceLowest); err != nil && !errors.Is(err, unix.ESRCH) {
				return fmt.Errorf("--nice: setpriority of thread %d: %w", tid, err)
			}
		}
	}
	return nil
}
