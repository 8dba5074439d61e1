package main

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/dustin/go-humanize"
)

// minRate is the lowest --max-rate taken: below a kilobyte a second, a
// rate is a typo for one with a unit (--max-rate 1 paced a 402-byte backup
// to 262 seconds).
const minRate = 1000

// parseSize reads a byte count with SI or IEC units in their real
// meanings: 50MB and 50M are 50,000,000 bytes, 50MiB is 52,428,800; 1.5G,
// 800kB, 4KiB, 1T and plain numbers are taken too.
func parseSize(s string) (uint64, error) {
	n, err := humanize.ParseBytes(s)
	if err != nil || strings.HasPrefix(strings.TrimSpace(s), "-") {
		return 0, fmt.Errorf("%q is not a size: use bytes, like 64MiB, 50MB or 1.5G", s)
	}
	return n, nil
}

// parseRate reads a byte rate: a size per second, "/s" optional (100MB/s,
// 1.5GiB, 800k). 0 is unlimited; a rate below minRate is refused.
func parseRate(s string) (float64, error) {
	n, err := humanize.ParseBytes(strings.TrimSuffix(strings.TrimSpace(s), "/s"))
	switch {
	case err != nil || strings.HasPrefix(strings.TrimSpace(s), "-") || n > 1<<50:
		return 0, fmt.Errorf("%q is not a rate: use bytes per second, like 100MB/s, 50MiB or 800k", s)
	case n == 0 && !zero(s), n > 0 && n < minRate:
		return 0, fmt.Errorf("%q is below 1 kB/s, too low to be meant: give a unit, like 100MB/s or 800k", s)
	}
	return float64(n), nil
}

// zero reports whether s says 0 (with or without a unit), not a fraction
// that rounds to it.
func zero(s string) bool {
	num := strings.TrimRight(strings.TrimSpace(s), "kKmMgGtTpPeEiIbB/s ")
	f, err := strconv.ParseFloat(num, 64)
	return err == nil && f == 0
}
