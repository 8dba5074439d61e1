package main

import (
	"fmt"
	"strconv"
	"strings"
)

// parseRate reads a byte rate such as 50M, 1.5G, 800k or 1000000: decimal
// bytes per second with an optional k, M or G suffix (powers of 1024).
func parseRate(s string) (float64, error) {
	mult := 1.0
	num := strings.TrimSuffix(strings.TrimSuffix(s, "/s"), "B")
	if k := len(num) - 1; k >= 0 {
		switch num[k] {
		case 'k', 'K':
			mult, num = 1<<10, num[:k]
		case 'm', 'M':
			mult, num = 1<<20, num[:k]
		case 'g', 'G':
			mult, num = 1<<30, num[:k]
		}
	}
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || v < 0 || v*mult > 1<<50 || v != v {
		return 0, fmt.Errorf("%q is not a rate: use bytes per second, like 50M, 1.5G or 800k", s)
	}
	return v * mult, nil
}
