package main

import (
	"bufio"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// pgbench 15's summary of a -t run and of a -T -R run.
const pgbenchT = `transaction type: ins.sql
scaling factor: 1
query mode: simple
number of clients: 64
number of threads: 2
maximum number of tries: 1
number of transactions per client: 150
number of transactions actually processed: 9600/9600
number of failed transactions: 0 (0.000%)
latency average = 15.401 ms
initial connection time = 120.532 ms
tps = 4155.671280 (without initial connection time)
`

const pgbenchR = `transaction type: lag.sql
scaling factor: 1
query mode: simple
number of clients: 64
number of threads: 2
maximum number of tries: 1
duration: 8 s
number of transactions actually processed: 39987
number of failed transactions: 0 (0.000%)
latency average = 3.2 ms
latency stddev = 1.1 ms
rate limit schedule lag: avg 0.4 (max 12.0) ms
initial connection time = 80.1 ms
tps = 4998.400000 (without initial connection time)
`

func TestParsePgbench(t *testing.T) {
	for _, c := range []struct {
		name string
		out  string
		tps  float64
		done int
		bad  bool
	}{
		{name: "fixed count", out: pgbenchT, tps: 4155.67128, done: 9600},
		{name: "duration and rate", out: pgbenchR, tps: 4998.4, done: 39987},
		{name: "short of the count", out: strings.Replace(pgbenchT, "9600/9600", "9000/9600", 1), bad: true},
		{name: "failed transactions", out: strings.Replace(pgbenchT, "failed transactions: 0 ", "failed transactions: 3 ", 1), bad: true},
		{name: "no tps", out: strings.Replace(pgbenchT, "tps = ", "tps: ", 1), bad: true},
		{name: "no count", out: strings.Replace(pgbenchT, "actually processed", "processed", 1), bad: true},
		{name: "empty", out: "", bad: true},
		{name: "aborted", out: "pgbench: error: client 3 script 0 aborted in command 1 query 0\n", bad: true},
	} {
		t.Run(c.name, func(t *testing.T) {
			tps, done, err := parsePgbench(c.out)
			if c.bad {
				if err == nil {
					t.Fatalf("parsePgbench accepted it: %v tps, %d", tps, done)
				}
				return
			}
			if err != nil || tps != c.tps || done != c.done {
				t.Fatalf("parsePgbench = %v, %d, %v; want %v, %d", tps, done, err, c.tps, c.done)
			}
		})
	}
}

func section(body string) string { return peersBegin + "\n" + body + "\n" + peersEnd }

func TestWithPeers(t *testing.T) {
	for _, c := range []struct {
		name, doc, section, want string
	}{
		{name: "empty file", doc: "", section: section("new"), want: section("new") + "\n"},
		{name: "no section: appended", doc: "# table\n| a |\n", section: section("new"), want: "# table\n| a |\n\n" + section("new") + "\n"},
		{name: "replaced in place", doc: "# table\n\n" + section("old") + "\n\ntail\n", section: section("new"),
			want: "# table\n\n" + section("new") + "\n\ntail\n"},
		{name: "begin without end: appended", doc: "# t\n" + peersBegin + "\nold\n", section: section("new"),
			want: "# t\n" + peersBegin + "\nold\n\n" + section("new") + "\n"},
		{name: "end before begin only", doc: peersEnd + "\n# t\n", section: section("new"), want: peersEnd + "\n# t\n\n" + section("new") + "\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := withPeers(c.doc, c.section); got != c.want {
				t.Fatalf("withPeers:\n%q\nwant\n%q", got, c.want)
			}
		})
	}
}

// TestWritersCoexist: make bench's wholesale rewrite keeps the peers
// section, and bench-peers' write keeps make bench's table.
func TestWritersCoexist(t *testing.T) {
	path := filepath.Join(t.TempDir(), "BENCHMARKS.md")
	read := func() string {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	if err := writePeers(path, section("peers 1")); err != nil { // no file yet
		t.Fatal(err)
	}
	if got, want := read(), section("peers 1")+"\n"; got != want {
		t.Fatalf("first peers write: %q, want %q", got, want)
	}
	if err := writeTable(path, "# hotpipe benchmarks\n| table 1 |\n"); err != nil {
		t.Fatal(err)
	}
	if got, want := read(), "# hotpipe benchmarks\n| table 1 |\n\n"+section("peers 1")+"\n"; got != want {
		t.Fatalf("table write: %q, want %q", got, want)
	}
	if err := writePeers(path, section("peers 2")); err != nil {
		t.Fatal(err)
	}
	if err := writeTable(path, "# hotpipe benchmarks\n| table 2 |\n"); err != nil {
		t.Fatal(err)
	}
	if got, want := read(), "# hotpipe benchmarks\n| table 2 |\n\n"+section("peers 2")+"\n"; got != want {
		t.Fatalf("after both rewrote: %q, want %q", got, want)
	}
	// Notes between their markers stay after the table, before the peers.
	notes := notesBegin + "\nwhat bounds a row\n" + notesEnd
	if err := os.WriteFile(path, []byte(read()+"\n"+notes+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := writeTable(path, "# hotpipe benchmarks\n| table 3 |\n"); err != nil {
		t.Fatal(err)
	}
	if got, want := read(), "# hotpipe benchmarks\n| table 3 |\n\n"+notes+"\n\n"+section("peers 2")+"\n"; got != want {
		t.Fatalf("table write with notes: %q, want %q", got, want)
	}
	// Without a section, make bench writes its table alone, as before.
	plain := filepath.Join(t.TempDir(), "B.md")
	if err := writeTable(plain, "# t\n"); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(plain); string(b) != "# t\n" {
		t.Fatalf("table alone: %q", b)
	}
}

func TestRenderPeers(t *testing.T) {
	rows := []peerRow{
		{row: row{name: "lag: a | b", mine: "1 ms", ref: "2 ms", ratio: "0.50×", target: "≤ 3 ms"}, mineCmd: "a | b", refCmd: "pg"},
		{row: row{name: "lag p99", mine: "1 ms", ref: "2 ms", ratio: "0.50×", target: "≤ 20 ms"}, mineCmd: "a | b", refCmd: "pg"},
		{row: row{name: "backup", mine: "1 MB/s", ref: "2 MB/s", ratio: "0.50×", target: "—"}, mineCmd: "hb", refCmd: "pgb"},
	}
	s := renderPeers(rows, "postgres 15", "1.0 1.0 1.0", 5, false)
	got, ok := peersSection(s)
	if !ok || got != s {
		t.Fatalf("render is not one whole section:\n%s", s)
	}
	for _, want := range []string{"| 1 | lag: a \\| b | 1 ms | 2 ms | 0.50× | ≤ 3 ms |", "1-2. hotpipe:    a | b\n     PostgreSQL: pg\n",
		"3. hotpipe:    hb\n   PostgreSQL: pgb\n", "load average at the start 1.0 1.0 1.0"} {
		if !strings.Contains(s, want) {
			t.Errorf("render lacks %q:\n%s", want, s)
		}
	}
}

// pgMsg is one backend message.
func pgMsg(t byte, body []byte) []byte {
	return append(append([]byte{t}, binary.BigEndian.AppendUint32(nil, uint32(len(body)+4))...), body...)
}

func dataRow(cols ...*string) []byte {
	b := binary.BigEndian.AppendUint16(nil, uint16(len(cols)))
	for _, c := range cols {
		if c == nil {
			b = binary.BigEndian.AppendUint32(b, 0xffffffff)
			continue
		}
		b = append(binary.BigEndian.AppendUint32(b, uint32(len(*c))), *c...)
	}
	return b
}

func str(s string) *string { return &s }

func TestParseDataRow(t *testing.T) {
	for _, c := range []struct {
		name string
		m    []byte
		want []string
		bad  bool
	}{
		{name: "two columns", m: dataRow(str("42"), str("t")), want: []string{"42", "t"}},
		{name: "null", m: dataRow(nil, str("")), want: []string{"", ""}},
		{name: "no columns", m: dataRow(), want: []string{}},
		{name: "empty", m: nil, bad: true},
		{name: "count past the end", m: []byte{0, 3, 0, 0, 0, 1, 'x'}, bad: true},
		{name: "length past the end", m: []byte{0, 1, 0, 0, 0, 9, 'x'}, bad: true},
		{name: "huge length", m: []byte{0, 1, 0x7f, 0xff, 0xff, 0xff}, bad: true},
		{name: "huge count", m: []byte{0xff, 0xff}, bad: true},
	} {
		t.Run(c.name, func(t *testing.T) {
			row, err := parseDataRow(c.m)
			if c.bad != (err != nil) {
				t.Fatalf("parseDataRow = %q, %v", row, err)
			}
			if !c.bad && strings.Join(row, "\x00") != strings.Join(c.want, "\x00") || len(row) != len(c.want) {
				t.Fatalf("parseDataRow = %q, want %q", row, c.want)
			}
		})
	}
}

func TestReadPGMessageBounds(t *testing.T) {
	for _, c := range []struct {
		name string
		in   []byte
	}{
		{name: "length below 4", in: []byte{'D', 0, 0, 0, 3}},
		{name: "length past the bound", in: []byte{'D', 0x7f, 0xff, 0xff, 0xff}},
		{name: "body cut short", in: []byte{'D', 0, 0, 0, 9, 1}},
		{name: "header cut short", in: []byte{'D', 0}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, _, err := readPGMessage(strings.NewReader(string(c.in))); err == nil {
				t.Fatal("readPGMessage accepted it")
			}
		})
	}
}

// fakeServer answers one startup and then each query with its rows (or an
// error for "fail"), over a pipe, as a trusting PostgreSQL server does.
func fakeServer(t *testing.T, c net.Conn, rows map[string][][]*string) {
	defer c.Close()
	var n [4]byte
	if _, err := io.ReadFull(c, n[:]); err != nil {
		return
	}
	if _, err := io.ReadFull(c, make([]byte, binary.BigEndian.Uint32(n[:])-4)); err != nil {
		return
	}
	c.Write(append(append(pgMsg('R', []byte{0, 0, 0, 0}), pgMsg('S', []byte("a\x00b\x00"))...), pgMsg('Z', []byte{'I'})...))
	for {
		typ, body, err := readPGMessage(c)
		if err != nil {
			return
		}
		if typ != 'Q' {
			t.Errorf("message %q, want a query", typ)
			return
		}
		q := strings.TrimSuffix(string(body), "\x00")
		var out []byte
		if q == "fail" {
			out = pgMsg('E', []byte("SERROR\x00Mrelation \"x\" does not exist\x00\x00"))
		}
		for _, r := range rows[q] {
			out = append(out, pgMsg('D', dataRow(r...))...)
		}
		out = append(append(out, pgMsg('C', []byte("SELECT 1\x00"))...), pgMsg('Z', []byte{'I'})...)
		if _, err := c.Write(out); err != nil {
			return
		}
	}
}

func TestPGConnQuery(t *testing.T) {
	client, server := net.Pipe()
	go fakeServer(t, server, map[string][][]*string{"SELECT id FROM lag WHERE id > 0": {{str("1")}, {str("2")}}})
	pc := &pgConn{c: client, r: bufio.NewReader(client)}
	defer pc.Close()
	if err := pc.startup("postgres", "postgres"); err != nil {
		t.Fatal(err)
	}
	rows, err := pc.query("SELECT id FROM lag WHERE id > 0")
	if err != nil || len(rows) != 2 || rows[0][0] != "1" || rows[1][0] != "2" {
		t.Fatalf("query = %q, %v", rows, err)
	}
	if _, err := pc.query("fail"); err == nil || !strings.Contains(err.Error(), `relation "x" does not exist`) {
		t.Fatalf("failing query: %v", err)
	}
	// The connection is still in step after an error.
	if rows, err := pc.query("SELECT id FROM lag WHERE id > 0"); err != nil || len(rows) != 2 {
		t.Fatalf("query after an error = %q, %v", rows, err)
	}
}

func TestPGConnPassword(t *testing.T) {
	client, server := net.Pipe()
	go func() {
		defer server.Close()
		var n [4]byte
		io.ReadFull(server, n[:])
		io.ReadFull(server, make([]byte, binary.BigEndian.Uint32(n[:])-4))
		server.Write(pgMsg('R', []byte{0, 0, 0, 10, 'S', 'C', 'R', 'A', 'M', 0, 0})) // SASL
	}()
	pc := &pgConn{c: client, r: bufio.NewReader(client)}
	defer pc.Close()
	if err := pc.startup("postgres", "postgres"); err == nil || errors.Is(err, io.EOF) {
		t.Fatalf("startup with a password request: %v", err)
	}
}
