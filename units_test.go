package main

import "testing"

func TestParseRate(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want float64
		bad  bool
	}{
		{in: "1000000", want: 1e6},
		{in: "800k", want: 800 << 10},
		{in: "50M", want: 50 << 20},
		{in: "1.5G", want: 1.5 * (1 << 30)},
		{in: "100MB/s", want: 100 << 20},
		{in: "0", want: 0},
		{in: "", bad: true},
		{in: "fast", bad: true},
		{in: "-5M", bad: true},
		{in: "NaN", bad: true},
		{in: "1e300", bad: true},
		{in: "12T", bad: true},
	} {
		got, err := parseRate(tt.in)
		if tt.bad != (err != nil) || got != tt.want {
			t.Errorf("parseRate(%q) = %v, %v; want %v (error: %v)", tt.in, got, err, tt.want, tt.bad)
		}
	}
}
