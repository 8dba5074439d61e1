package main

import (
	"testing"
	"time"
)

func TestParseRate(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want float64
		bad  bool
	}{
		{in: "1000000", want: 1e6},
		{in: "800k", want: 800e3},
		{in: "800kB", want: 800e3},
		{in: "50M", want: 50e6},
		{in: "100MB/s", want: 100e6},
		{in: "100MiB", want: 100 << 20},
		{in: "100MiB/s", want: 100 << 20},
		{in: "1.5G", want: 1.5e9},
		{in: "1.5GiB", want: 1.5 * (1 << 30)},
		{in: "1T", want: 1e12},
		{in: "0", want: 0},
		{in: "1000", want: 1000},
		{in: "1", bad: true},
		{in: "999", bad: true},
		{in: "0.5", bad: true},
		{in: "", bad: true},
		{in: "fast", bad: true},
		{in: "-5M", bad: true},
		{in: "NaN", bad: true},
		{in: "1e300", bad: true},
		{in: "2PB", bad: true}, // past 1<<50: no disk is that fast
	} {
		got, err := parseRate(tt.in)
		if tt.bad != (err != nil) || got != tt.want {
			t.Errorf("parseRate(%q) = %v, %v; want %v (error: %v)", tt.in, got, err, tt.want, tt.bad)
		}
	}
}

func TestParseSize(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want uint64
		bad  bool
	}{
		{in: "4KiB", want: 4 << 10},
		{in: "4K", want: 4000},
		{in: "64MiB", want: 64 << 20},
		{in: "64MB", want: 64e6},
		{in: "1GiB", want: 1 << 30},
		{in: "4096", want: 4096},
		{in: "", bad: true},
		{in: "-4KiB", bad: true},
		{in: "big", bad: true},
	} {
		got, err := parseSize(tt.in)
		if tt.bad != (err != nil) || got != tt.want {
			t.Errorf("parseSize(%q) = %v, %v; want %v (error: %v)", tt.in, got, err, tt.want, tt.bad)
		}
	}
}

func TestParseAge(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
	}{
		{"7d", 7 * 24 * time.Hour},
		{"1w3d", 10 * 24 * time.Hour},
		{"1w2d12h", 9*24*time.Hour + 12*time.Hour},
		{"36h", 36 * time.Hour},
		{"90m", 90 * time.Minute},
		{"1h30m", 90 * time.Minute},
		{"45s", 45 * time.Second},
	} {
		if got, err := parseAge(tc.in); err != nil || got != tc.want {
			t.Errorf("parseAge(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "7", "d", "7x", "-7d", "1w-3d", "0d", "9999999d", "1.5d", "7 d", "1e9w"} {
		if got, err := parseAge(bad); err == nil {
			t.Errorf("parseAge(%q) = %v, want an error", bad, got)
		}
	}
}
