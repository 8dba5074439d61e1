//go:build unix

package main

import (
	"fmt"
	"os"
	"runtime"
	"syscall"
)

// maxRSS is a finished child's peak resident set in MiB: its rusage's
// ru_maxrss, which Linux and the BSDs count in KiB and Darwin in bytes.
func maxRSS(ps *os.ProcessState) (float64, error) {
	ru, ok := ps.SysUsage().(*syscall.Rusage)
	if !ok {
		return 0, fmt.Errorf("no rusage")
	}
	if runtime.GOOS == "darwin" || runtime.GOOS == "ios" {
		return float64(ru.Maxrss) / (1 << 20), nil
	}
	return float64(ru.Maxrss) / 1024, nil // Linux reports KiB
}
