package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"

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

// parseAge reads a span of time as operators write retention periods:
// numbers with units w (weeks), d (days), h, m and s, summed (1w3d,
// 36h, 90m, 1w2d12h), or anything time.ParseDuration takes. A day is 24
// hours: retention counts calendar days loosely, never to the second.
func parseAge(s string) (time.Duration, error) {
	bad := fmt.Errorf("%q is not a span of time: use a number and a unit, like 7d, 1w3d, 36h or 90m", s)
	if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return d, nil
	}
	units := map[byte]time.Duration{'w': 7 * 24 * time.Hour, 'd': 24 * time.Hour, 'h': time.Hour, 'm': time.Minute, 's': time.Second}
	var total time.Duration
	rest := strings.TrimSpace(s)
	if rest == "" {
		return 0, bad
	}
	for rest != "" {
		i := 0
		for i < len(rest) && '0' <= rest[i] && rest[i] <= '9' {
			i++
		}
		if i == 0 || i > 6 || i == len(rest) || units[rest[i]] == 0 {
			return 0, bad
		}
		n, _ := strconv.Atoi(rest[:i])
		total += time.Duration(n) * units[rest[i]]
		rest = rest[i+1:]
	}
	if total <= 0 || total > 100*365*24*time.Hour {
		return 0, bad
	}
	return total, nil
}
