//go:build !unix

package main

import (
	"fmt"
	"os"
	"runtime"
)

// maxRSS is not measured here: a finished child's usage carries no peak
// resident set on this platform.
func maxRSS(*os.ProcessState) (float64, error) {
	return 0, fmt.Errorf("peak RSS is not measured on %s", runtime.GOOS)
}
