package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/rogpeppe/go-internal/testscript"
)

func TestProgressFlag(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     progressMode
		err      bool
	}{
		{name: "true", in: "true", want: progressText},
		{name: "on", in: "on", want: progressText},
		{name: "one", in: "1", want: progressText},
		{name: "upper case", in: "TRUE", want: progressText},
		{name: "false", in: "false", want: progressOff},
		{name: "off", in: "off", want: progressOff},
		{name: "zero", in: "0", want: progressOff},
		{name: "json", in: "json", want: progressJSON},
		{name: "empty", in: "", err: true},
		{name: "yes", in: "yes", err: true},
		{name: "text", in: "text", err: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var f progressFlag
			err := f.Set(tc.in)
			if (err != nil) != tc.err {
				t.Fatalf("Set(%q) = %v, want error %v", tc.in, err, tc.err)
			}
			if err == nil && f.mode != tc.want {
				t.Fatalf("Set(%q): mode %v, want %v", tc.in, f.mode, tc.want)
			}
			if err == nil {
				var again progressFlag
				if err := again.Set(f.String()); err != nil || again.mode != f.mode {
					t.Fatalf("String() %q does not read back: %v", f.String(), err)
				}
			}
		})
	}
	if !(&progressFlag{}).IsBoolFlag() {
		t.Fatal("a plain --progress must not take the next argument")
	}
}

// fullProgress is a progress with every part of its line known, at 50%.
func fullProgress() (*progress, time.Time) {
	start := time.Date(2026, 11, 20, 14, 30, 0, 0, time.UTC)
	p := &progress{command: "hot-backup", db: "foo", start: start, first: 1, total: 2000,
		lsn: 1000, frames: 1000, bytes: 180 << 10, lastTime: start.Add(-time.Hour).UnixNano()}
	return p, start.Add(10 * time.Second)
}

func TestProgressFit(t *testing.T) {
	p, now := fullProgress()
	full := p.line(now, 0)
	if want := "hot-backup foo: LSN 1000 of 2000, 1000 frames, 180.0 KiB, 18.0 KiB/s, 50%, ETA 10s, " +
		"recovery point 2026-11-20T13:30:00Z"; full != want {
		t.Fatalf("unlimited line\n got %q\nwant %q", full, want)
	}
	for _, tc := range []struct {
		width      int
		keep, drop []string
	}{
		{width: 200, keep: []string{"LSN 1000 of 2000", "frames", "KiB/s", "50%", "ETA 10s", "recovery point"}},
		{width: 80, keep: []string{"LSN 1000 of 2000", "50%", "ETA 10s", "KiB/s", "180.0 KiB,"}, drop: []string{"recovery point", "frames"}},
		{width: 40, keep: []string{"LSN 1000 of 2000", "50%"}, drop: []string{"ETA", "KiB", "frames", "recovery point"}},
		{width: 30, keep: []string{"hot-backup foo: LSN 1000"}, drop: []string{"%"}},
		{width: 1},
	} {
		t.Run(fmt.Sprint(tc.width), func(t *testing.T) {
			line := p.line(now, tc.width)
			if n := utf8.RuneCountInString(line); n > tc.width-1 {
				t.Fatalf("%d columns in a %d-column terminal: %q", n, tc.width, line)
			}
			for _, s := range tc.keep {
				if !strings.Contains(line, s) {
					t.Errorf("%q lost %q", line, s)
				}
			}
			for _, s := range tc.drop {
				if strings.Contains(line, s) {
					t.Errorf("%q kept %q", line, s)
				}
			}
		})
	}
}

func TestProgressEstimate(t *testing.T) {
	for _, tc := range []struct {
		name         string
		p            *progress
		elapsed      float64
		ok           bool
		percent, eta float64
	}{
		{name: "LSNs", p: &progress{total: 1000, lsn: 250, frames: 250}, elapsed: 10, ok: true, percent: 25, eta: 30},
		{name: "LSNs from a start", p: &progress{first: 2001, total: 3000, lsn: 2500, frames: 500}, elapsed: 5, ok: true, percent: 50, eta: 5},
		{name: "LSNs before bytes", p: &progress{total: 100, lsn: 50, frames: 50, bytes: 10, totalBytes: 1000}, elapsed: 1, ok: true, percent: 50, eta: 1},
		{name: "bytes", p: &progress{bytes: 400, totalBytes: 1000}, elapsed: 4, ok: true, percent: 40, eta: 6},
		{name: "nothing yet", p: &progress{total: 1000}, elapsed: 1, ok: true, percent: 0, eta: -1},
		{name: "done", p: &progress{total: 1000, lsn: 1000, frames: 1000}, elapsed: 3, ok: true, percent: 100, eta: 0},
		{name: "unknown total", p: &progress{lsn: 7, frames: 7, bytes: 70}, elapsed: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, ok := tc.p.estimate(tc.elapsed)
			if ok != tc.ok || ok && (math.Abs(e.percent-tc.percent) > 1e-9 || math.Abs(e.eta-tc.eta) > 1e-9) {
				t.Fatalf("estimate = %+v, %v; want percent %v, eta %v, %v", e, ok, tc.percent, tc.eta, tc.ok)
			}
		})
	}
}

// progressKeys are --progress=json's keys and their JSON types.
var progressKeys = map[string]string{"type": "string", "command": "string", "db": "string", "lsn": "integer",
	"end_lsn": "integer", "frames": "integer", "bytes": "integer", "total_bytes": "integer", "seconds": "number",
	"bytes_per_second": "number", "percent": "number", "eta_seconds": "number", "lag_lsns": "integer",
	"lag_seconds": "number", "last_commit": "time", "done": "bool"}

// checkProgressRecord decodes a --progress=json line and checks its keys'
// types; it returns the record.
func checkProgressRecord(line []byte) (map[string]any, error) {
	d := json.NewDecoder(bytes.NewReader(line))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		return nil, fmt.Errorf("not JSON: %v: %q", err, line)
	}
	for k, v := range m {
		ok := false
		switch progressKeys[k] {
		case "string":
			_, ok = v.(string)
		case "time":
			s, isString := v.(string)
			_, err := time.Parse(time.RFC3339Nano, s)
			ok = isString && err == nil && strings.HasSuffix(s, "Z")
		case "bool":
			_, ok = v.(bool)
		case "integer":
			n, isNumber := v.(json.Number)
			_, err := n.Int64()
			ok = isNumber && err == nil
		case "number":
			n, isNumber := v.(json.Number)
			_, err := n.Float64()
			ok = isNumber && err == nil
		default:
			return nil, fmt.Errorf("unknown key %q in %s", k, line)
		}
		if !ok {
			return nil, fmt.Errorf("key %q is not a %s in %s", k, progressKeys[k], line)
		}
	}
	if m["type"] != "progress" {
		return nil, fmt.Errorf(`"type" is not "progress" in %s`, line)
	}
	return m, nil
}

func TestProgressJSON(t *testing.T) {
	always := []string{"type", "command", "db", "lsn", "frames", "bytes", "seconds", "bytes_per_second", "done"}
	withTotal, now := fullProgress()
	following, _ := fullProgress()
	following.total, following.source = 0, func() uint64 { return 1040 }
	byBytes, _ := fullProgress()
	byBytes.total, byBytes.totalBytes, byBytes.lastTime = 0, 360<<10, 0
	for _, tc := range []struct {
		name string
		p    *progress
		done bool
		keys []string
		want map[string]string
	}{
		{name: "total known", p: withTotal, done: true,
			keys: []string{"end_lsn", "percent", "eta_seconds", "last_commit"},
			want: map[string]string{"command": "hot-backup", "db": "foo", "lsn": "1000", "end_lsn": "2000",
				"percent": "50", "eta_seconds": "10", "seconds": "10", "done": "true", "last_commit": "2026-11-20T13:30:00Z"}},
		{name: "following", p: following,
			keys: []string{"lag_lsns", "lag_seconds", "last_commit"},
			want: map[string]string{"lag_lsns": "40", "lag_seconds": "3610", "done": "false"}},
		{name: "bytes total", p: byBytes,
			keys: []string{"total_bytes", "percent", "eta_seconds"},
			want: map[string]string{"total_bytes": fmt.Sprint(360 << 10), "percent": "50", "eta_seconds": "10"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			line := tc.p.jsonLine(now, tc.done)
			if bytes.Count(line, []byte("\n")) != 1 || line[len(line)-1] != '\n' {
				t.Fatalf("not one line: %q", line)
			}
			m, err := checkProgressRecord(line)
			if err != nil {
				t.Fatal(err)
			}
			got, want := slices.Sorted(maps.Keys(m)), slices.Sorted(slices.Values(append(tc.keys, always...)))
			if !slices.Equal(got, want) {
				t.Fatalf("keys %v, want %v", got, want)
			}
			for k, v := range tc.want {
				if s := fmt.Sprint(m[k]); s != v {
					t.Errorf("%s = %s, want %s", k, s, v)
				}
			}
		})
	}
}

func TestLineGuard(t *testing.T) {
	var out bytes.Buffer
	g := &lineGuard{p: &progress{}, w: &out}
	for _, s := range []string{"summary\n", "part ", "of a line\n", "", "warning\n"} {
		if n, err := fmt.Fprint(g, s); n != len(s) || err != nil {
			t.Fatalf("Write(%q) = %d, %v", s, n, err)
		}
	}
	if want := "\r\033[Ksummary\n\r\033[Kpart of a line\n\r\033[Kwarning\n"; out.String() != want {
		t.Fatalf("wrote %q, want %q", out.String(), want)
	}
}

// cmdProgress checks what progress showed:
//
//	progress tty WIDTH FILE [NAME...]
//	progress json FILE COMMAND DB [KEY=VALUE...]
//
// tty reads a terminal's output (ttyout): every \r- or \n-separated segment
// is a whole, well-formed progress line of at most WIDTH-1 columns or a
// command's summary; no process redraws its line while another's is drawn
// and unended; each NAME ("hot-backup foo") ended its last line with a
// newline. json reads the JSON lines among others (summaries): each has
// only known keys, of their types, for COMMAND and DB; the last, and only
// it, is done, and has KEY=VALUE.
func cmdProgress(ts *testscript.TestScript, neg bool, args []string) {
	switch {
	case neg:
		ts.Fatalf("unsupported: ! progress")
	case len(args) >= 3 && args[0] == "tty":
		var width int
		if _, err := fmt.Sscan(args[1], &width); err != nil {
			ts.Fatalf("progress tty: bad WIDTH %q", args[1])
		}
		ts.Check(checkTTYProgress(ts.ReadFile(args[2]), width, args[3:]))
	case len(args) >= 4 && args[0] == "json":
		ts.Check(checkJSONProgress(ts.ReadFile(args[1]), args[2], args[3], args[4:]))
	default:
		ts.Fatalf("usage: progress tty WIDTH FILE [NAME...] | progress json FILE COMMAND DB [KEY=VALUE...]")
	}
}

var (
	progressHead = regexp.MustCompile(`^(hot-backup|hot-restore) [a-z0-9]+( \(following\))?: LSN [0-9]+( of [0-9]+)?(, |$)`)
	progressPart = regexp.MustCompile(`^([0-9]+ frames|[0-9.]+ (B|KiB|MiB|GiB)( of [0-9.]+ (B|KiB|MiB|GiB))?|[0-9.]+ (B|KiB|MiB|GiB)/s|` +
		`[0-9]{1,3}%|ETA [0-9hms]+|lag [0-9]+ LSNs( \([0-9.hms]+\))?|recovery point [-0-9T:.]+Z)$`)
	progressSummary = regexp.MustCompile(`^(hot-backup [a-z0-9]+: LSN [0-9]+\.\.[0-9]+, |hot-restore [a-z0-9]+: applied LSN [0-9]+\.\.[0-9]+, )`)
)

func checkTTYProgress(out string, width int, names []string) error {
	out = strings.ReplaceAll(out, "\r\n", "\n") // the terminal's onlcr
	if !strings.HasSuffix(out, "\n") {
		return fmt.Errorf("the output does not end with a newline: %q", out)
	}
	open := ""                 // whose redrawn line is on the terminal, unended
	ended := map[string]bool{} // who ended their progress line
	for len(out) > 0 {
		i := strings.IndexAny(out, "\r\n")
		seg, end := strings.TrimPrefix(out[:i], "\033[K"), out[i]
		out = out[i+1:]
		if seg == "" {
			continue
		}
		if strings.ContainsFunc(seg, func(r rune) bool { return r < ' ' || r == 0x7f }) {
			return fmt.Errorf("control character in %q", seg)
		}
		if progressSummary.MatchString(seg) {
			if end != '\n' {
				return fmt.Errorf("summary not ended by a newline: %q", seg)
			}
			continue
		}
		if !progressHead.MatchString(seg) {
			return fmt.Errorf("neither a progress line nor a summary: %q", seg)
		}
		parts := strings.Split(seg, ", ")
		for _, pt := range parts[1:] {
			if !progressPart.MatchString(pt) {
				return fmt.Errorf("malformed part %q in %q", pt, seg)
			}
		}
		if n := utf8.RuneCountInString(seg); n > width-1 {
			return fmt.Errorf("%d columns on a %d-column terminal: %q", n, width, seg)
		}
		who := parts[0][:strings.Index(parts[0], ":")]
		switch {
		case end == '\r' && open != "" && open != who:
			return fmt.Errorf("%s redrew its line while %s's was on the terminal: %q", who, open, seg)
		case end == '\r':
			open = who
		case open == who:
			open, ended[who] = "", true
		default:
			ended[who] = true
		}
	}
	if open != "" {
		return fmt.Errorf("%s's line was never ended", open)
	}
	for _, name := range names {
		if !ended[name] {
			return fmt.Errorf("%s never ended its line with a newline", name)
		}
	}
	return nil
}

func checkJSONProgress(out, command, db string, want []string) error {
	if !strings.HasSuffix(out, "\n") {
		return fmt.Errorf("the output does not end with a newline: %q", out)
	}
	var lines []string
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "{") {
			lines = append(lines, line)
		}
	}
	if len(lines) == 0 {
		return fmt.Errorf("no JSON lines in %q", out)
	}
	for i, line := range lines {
		m, err := checkProgressRecord([]byte(line))
		if err != nil {
			return fmt.Errorf("line %d: %v", i+1, err)
		}
		if m["command"] != command || m["db"] != db {
			return fmt.Errorf("line %d is not %s %s's: %s", i+1, command, db, line)
		}
		if last := i == len(lines)-1; m["done"] != last {
			return fmt.Errorf("line %d of %d says done %v: %s", i+1, len(lines), m["done"], line)
		}
		if i < len(lines)-1 {
			continue
		}
		for _, kv := range want {
			k, v, _ := strings.Cut(kv, "=")
			if got, ok := m[k]; !ok || fmt.Sprint(got) != v {
				return fmt.Errorf("the last line has %s=%v, want %s: %s", k, got, v, line)
			}
		}
	}
	return nil
}
