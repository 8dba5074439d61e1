package main

import (
	"errors"
	"testing"
	"time"
)

// TestParseTargetTimeRefusesTimesCommitsCannotCarry: a time outside int64
// unix nanoseconds is a usage error, never a wrapped-around UnixNano.
func TestParseTargetTimeRefusesTimesCommitsCannotCarry(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		want  int64
		usage bool
	}{
		{name: "an ordinary time", in: "2026-11-20T14:30:00Z", want: time.Date(2026, 11, 20, 14, 30, 0, 0, time.UTC).UnixNano()},
		{name: "an offset", in: "2026-11-20T15:30:00+01:00", want: time.Date(2026, 11, 20, 14, 30, 0, 0, time.UTC).UnixNano()},
		{name: "the first representable nanosecond", in: "1677-09-21T00:12:43.145224192Z", want: -1 << 63},
		{name: "the last representable nanosecond", in: "2262-04-11T23:47:16.854775807Z", want: 1<<63 - 1},
		{name: "one nanosecond before the range", in: "1677-09-21T00:12:43.145224191Z", usage: true},
		{name: "one nanosecond after the range", in: "2262-04-11T23:47:16.854775808Z", usage: true},
		{name: "1600 (wrapped to 2184 before)", in: "1600-01-01T00:00:00Z", usage: true},
		{name: "year 9999", in: "9999-12-31T23:59:59Z", usage: true},
		{name: "not a time", in: "yesterday", usage: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseTargetTime(tt.in)
			if tt.usage {
				if !errors.Is(err, errUsage) {
					t.Fatalf("parseTargetTime(%q) = %d, %v; want a usage error", tt.in, got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("parseTargetTime(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
			}
		})
	}
}
