package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"filippo.io/age"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/hotpipe/hotpipe/server"
)

// jsonRun runs a command line in-process with --json and returns the one
// JSON object it printed (on stderr for hot-backup, else on stdout), and
// its exit code. Whatever else is printed there fails the test.
func jsonRun(t *testing.T, dir string, stdin []byte, args ...string) (map[string]any, int) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	line := append([]string{"hotpipe", "--data-dir", filepath.Join(dir, "data")}, args...)
	line = append(line, "--json")
	code := run(line, bytes.NewReader(stdin), &stdout, &stderr)
	out := stdout.Bytes()
	if args[0] == "hot-backup" {
		out = stderr.Bytes()
	} else if stderr.Len() > 0 {
		t.Errorf("%v: stderr %q besides the JSON report", args, stderr.String())
	}
	if bytes.Count(out, []byte("\n")) != 1 || !bytes.HasSuffix(out, []byte("\n")) {
		t.Fatalf("%v: want one line of JSON, got %q", args, out)
	}
	var obj map[string]any
	if err := json.Unmarshal(out, &obj); err != nil {
		t.Fatalf("%v: %v in %q", args, err, out)
	}
	return obj, code
}

// schema reads the key table of docs/JSON.md: key → type.
func schema(t *testing.T) map[string]string {
	t.Helper()
	f, err := os.Open("docs/JSON.md")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	row := regexp.MustCompile("^\\| `([a-z_]+)` \\| ([a-z]+) \\|")
	keys := map[string]string{}
	for sc := bufio.NewScanner(f); sc.Scan(); {
		if m := row.FindStringSubmatch(sc.Text()); m != nil {
			keys[m[1]] = m[2]
		}
	}
	if len(keys) < 20 {
		t.Fatalf("docs/JSON.md: found only %d keys in its table", len(keys))
	}
	return keys
}

var hashHex = regexp.MustCompile(`^[0-9a-f]{64}$`)

// checkKeys checks every key of v, at any depth, against the schema.
func checkKeys(t *testing.T, where string, v any, keys map[string]string) {
	t.Helper()
	switch v := v.(type) {
	case map[string]any:
		for k, val := range v {
			typ, ok := keys[k]
			if !ok {
				t.Errorf("%s: key %q is not in docs/JSON.md", where, k)
				continue
			}
			if !hasType(val, typ) {
				t.Errorf("%s: key %q is %T %v, docs/JSON.md says %s", where, k, val, val, typ)
			}
			checkKeys(t, where+"."+k, val, keys)
		}
	case []any:
		for _, e := range v {
			checkKeys(t, where+"[]", e, keys)
		}
	}
}

func hasType(v any, typ string) bool {
	switch typ {
	case "integer":
		f, ok := v.(float64)
		return ok && f >= 0 && f == float64(uint64(f))
	case "number":
		_, ok := v.(float64)
		return ok
	case "boolean":
		_, ok := v.(bool)
		return ok
	case "string":
		s, ok := v.(string)
		return ok && !strings.ContainsAny(s, "\n\r")
	case "hash":
		s, ok := v.(string)
		return ok && hashHex.MatchString(s)
	case "time":
		s, ok := v.(string)
		if !ok || !strings.HasSuffix(s, "Z") {
			return false
		}
		_, err := time.Parse(time.RFC3339Nano, s)
		return err == nil
	case "object":
		_, ok := v.(map[string]any)
		return ok
	case "array":
		_, ok := v.([]any)
		return ok
	}
	return false
}

// TestJSONReportsFollowOneSchema runs every command that has --json, in
// success and in failure, and checks that each prints one object whose
// keys all have the meaning and type docs/JSON.md gives them, with the
// command, the outcome and the exit code where a script looks for them.
func TestJSONReportsFollowOneSchema(t *testing.T) {
	dir := t.TempDir()
	mustHotpipe(t, filepath.Join(dir, "data"), "db", "create", "foo")
	backupFile := filepath.Join(dir, "foo.backup")
	damaged := filepath.Join(dir, "damaged.backup")
	repoDir := filepath.Join(dir, "repo")
	notABackup := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(notABackup, []byte("not a backup\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	jobs := jobServer(t, dir)
	key, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		args []string
		code int
		kind string // the error's kind when code != 0
	}{
		{[]string{"load", "foo", "--txs", "50", "--workers", "4"}, 0, ""},
		{[]string{"put", "foo", "a=1", "--delete", "b"}, 0, ""},
		{[]string{"db", "status", "foo"}, 0, ""},
		{[]string{"db", "list"}, 0, ""},
		{[]string{"db", "hash", "foo", "7"}, 0, ""},
		{[]string{"db", "position", "foo"}, 0, ""},
		{[]string{"db", "position", "absent"}, 0, ""},
		{[]string{"db", "check", "foo"}, 0, ""},
		{[]string{"hot-backup", "foo", "-o", backupFile}, 0, ""},
		{[]string{"inspect", backupFile}, 0, ""},
		{[]string{"verify", backupFile}, 0, ""},
		{[]string{"hot-restore", "bar", "-i", backupFile, "--target-lsn", "20"}, 0, ""},
		{[]string{"hot-restore", "bar", "-i", backupFile, "--append", "--force-replica"}, 0, ""},
		{[]string{"hot-restore", "bar", "-i", backupFile, "--append", "--force-replica"}, 0, ""}, // up to date
		{[]string{"hot-restore", "-i", backupFile, "--verify"}, 0, ""},
		{[]string{"hot-restore", "bar", "-i", backupFile}, exitFailure, "failure"},
		{[]string{"db", "status", "absent"}, exitFailure, "failure"},
		{[]string{"db", "status"}, exitUsage, "usage"},
		{[]string{"hot-backup", "foo", "--bogus"}, exitUsage, "usage"},
		{[]string{"verify", damaged}, exitIntegrity, "integrity"},
		{[]string{"inspect", notABackup}, exitIntegrity, "integrity"},
		{[]string{"hot-restore", "baz", "-i", damaged}, exitIntegrity, "integrity"},
		{[]string{"load", "foo", "--acks"}, exitUsage, "usage"},
		{[]string{"hot-backup", "foo", "--repo", repoDir, "--level", "0", "--expire", "7d"}, 0, ""},
		{[]string{"put", "foo", "b=2"}, 0, ""},
		{[]string{"hot-backup", "foo", "--repo", repoDir, "--level", "1"}, 0, ""},
		{[]string{"repo", "list", "--repo", repoDir}, 0, ""},
		{[]string{"repo", "verify", "--repo", repoDir}, 0, ""},
		{[]string{"repo", "expire", "--repo", repoDir, "--dry-run"}, 0, ""},
		{[]string{"repo", "compact", "--repo", repoDir, "--dry-run"}, 0, ""},
		{[]string{"repo", "rekey", "--repo", repoDir, "-r", key.Recipient().String()}, 0, ""},
		{[]string{"repo", "rekey", "--repo", repoDir}, exitUsage, "usage"},
		{[]string{"hot-restore", "qux", "--repo", repoDir, "--source", "foo"}, 0, ""},
		{[]string{"repo", "list"}, exitUsage, "usage"},
		{[]string{"job", "start", "foo", "--addr", jobs.URL, "-o", "job.backup", "--wait"}, 0, ""},
		{[]string{"job", "list", "--addr", jobs.URL}, 0, ""},
		{[]string{"job", "status", "1", "--addr", jobs.URL}, 0, ""},
		{[]string{"job", "abort", "1", "--addr", jobs.URL}, 0, ""},
		{[]string{"job", "start", "foo", "--addr", jobs.URL, "-o", "job.backup", "--wait"}, exitFailure, "failure"}, // exists
		{[]string{"job", "status", "99", "--addr", jobs.URL}, exitFailure, "failure"},
	}
	keys := schema(t)
	seen := map[string]bool{}
	for _, tc := range cases {
		if tc.args[0] == "verify" && tc.args[1] == damaged {
			damage(t, backupFile, damaged)
		}
		obj, code := jsonRun(t, dir, nil, tc.args...)
		where := strings.Join(tc.args[:min(2, len(tc.args))], " ")
		checkKeys(t, where, obj, keys)
		if code != tc.code {
			t.Errorf("%v: exit %d, want %d (%v)", tc.args, code, tc.code, obj)
		}
		if ok, _ := obj["ok"].(bool); ok != (tc.code == 0) {
			t.Errorf("%v: ok is %v with exit %d", tc.args, obj["ok"], code)
		}
		if tc.code != 0 {
			e, _ := obj["error"].(map[string]any)
			if e == nil || e["kind"] != tc.kind || e["exit_code"] != float64(tc.code) || e["message"] == "" {
				t.Errorf("%v: error %v, want kind %s, exit_code %d and a message", tc.args, obj["error"], tc.kind, tc.code)
			}
		}
		if cmd, _ := obj["command"].(string); cmd != "" {
			seen[cmd] = true
		}
	}
	for _, c := range commandsWithJSON(newApp(&env{}).Commands, "") {
		if !seen[c] {
			t.Errorf("%s has --json but is not run here", c)
		}
	}
}

// jobServer serves dir/data with dir as the backup directory, for job
// commands.
func jobServer(t *testing.T, dir string) *httptest.Server {
	t.Helper()
	srv, err := server.New(server.Options{DataDir: filepath.Join(dir, "data"), BackupDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(func() { srv.Drain(); _ = srv.Wait(context.Background()); hs.Close() })
	return hs
}

// damage copies a backup file with one byte of a frame's body flipped.
func damage(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0x40
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// commandsWithJSON lists the commands (as typed) that take --json.
func commandsWithJSON(cmds []*cli.Command, prefix string) []string {
	var out []string
	for _, c := range cmds {
		name := strings.TrimSpace(prefix + " " + c.Name)
		out = append(out, commandsWithJSON(c.Subcommands, name)...)
		if slices.ContainsFunc(c.Flags, func(f cli.Flag) bool { return slices.Contains(f.Names(), "json") }) {
			out = append(out, name)
		}
	}
	return out
}

// TestJSONErrorNamesThePlace checks that a verify that finds damage says
// in its error where: the file, the byte offset and the LSN.
func TestJSONErrorNamesThePlace(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	mustHotpipe(t, data, "db", "create", "foo")
	mustHotpipe(t, data, "load", "foo", "--txs", "40", "--workers", "1")
	file := filepath.Join(dir, "foo.backup")
	mustHotpipe(t, data, "hot-backup", "foo", "-o", file)
	damage(t, file, file)
	obj, code := jsonRun(t, dir, nil, "verify", file)
	if code != exitIntegrity {
		t.Fatalf("exit %d, want %d", code, exitIntegrity)
	}
	e := obj["error"].(map[string]any)
	if e["file"] != file || e["offset"] == nil || e["lsn"] == nil {
		t.Errorf("error %v: want file %s, an offset and an LSN", e, file)
	}
	problems := obj["problems"].([]any)
	if len(problems) == 0 {
		t.Fatalf("no problems listed: %v", obj)
	}
	if p := problems[0].(map[string]any); p["file"] != e["file"] || p["offset"] != e["offset"] {
		t.Errorf("first problem %v is not the error's place %v", p, e)
	}
}

// TestJSONStdinIsDash checks that standard input is "-" in JSON, and a
// file named stdin is not.
func TestJSONStdinIsDash(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	mustHotpipe(t, data, "db", "create", "foo")
	mustHotpipe(t, data, "put", "foo", "k=v")
	file := filepath.Join(dir, "foo.backup")
	mustHotpipe(t, data, "hot-backup", "foo", "-o", file)
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	obj, _ := jsonRun(t, dir, b, "verify")
	if in := obj["inputs"].([]any)[0].(map[string]any); in["file"] != "-" {
		t.Errorf("verify of stdin: input file %v, want -", in["file"])
	}
	t.Chdir(dir)
	if err := os.WriteFile("stdin", b, 0o644); err != nil {
		t.Fatal(err)
	}
	obj, _ = jsonRun(t, dir, nil, "verify", "stdin")
	if in := obj["inputs"].([]any)[0].(map[string]any); in["file"] != "./stdin" {
		t.Errorf("verify of a file named stdin: input file %v, want ./stdin", in["file"])
	}
}
