package main

import (
	"os"
	"path/filepath"
	"testing"
)

func TestReadStat(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name, stat       string
		pid, ppid, ticks int
		ok               bool
	}{
		{name: "plain", stat: "4242 (postgres) S 4200 4242 4242 0 -1 4194560 100 0 0 0 17 5 0 0 20 0 1 0 123 0 0\n",
			pid: 4242, ppid: 4200, ticks: 22, ok: true},
		{name: "spaces and parentheses in the name", stat: "7 (a) b (c)) R 1 7 7 0 -1 0 0 0 0 0 300 45 0 0 20 0 1 0 9 0 0\n",
			pid: 7, ppid: 1, ticks: 345, ok: true},
		{name: "cut short", stat: "7 (x) R 1 7 7 0\n"},
		{name: "no name", stat: "7 x R 1\n"},
		{name: "not a number", stat: "7 (x) R one 7 7 0 -1 0 0 0 0 0 3 4 0 0 20 0 1 0 9\n"},
		{name: "empty"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(dir, "stat")
			if err := os.WriteFile(path, []byte(c.stat), 0o600); err != nil {
				t.Fatal(err)
			}
			pid, ppid, ticks, ok := readStat(path)
			if ok != c.ok || pid != c.pid || ppid != c.ppid || ticks != int64(c.ticks) {
				t.Fatalf("readStat = %d, %d, %d, %v; want %d, %d, %d, %v", pid, ppid, ticks, ok, c.pid, c.ppid, c.ticks, c.ok)
			}
		})
	}
	t.Run("this process", func(t *testing.T) {
		pid, ppid, _, ok := readStat("/proc/self/stat")
		if !ok || pid != os.Getpid() || ppid != os.Getppid() {
			t.Fatalf("readStat(/proc/self/stat) = %d, %d, %v; want %d, %d", pid, ppid, ok, os.Getpid(), os.Getppid())
		}
	})
}

func TestIsClientBackend(t *testing.T) {
	for title, want := range map[string]bool{
		"postgres: postgres postgres [local] idle":              true,
		"postgres: startup recovering 000000010000000000000003": false,
		"postgres: walreceiver streaming 0/3000148":             false,
		"postgres: checkpointer":                                false,
		"":                                                      false,
	} {
		if got := isClientBackend(title); got != want {
			t.Errorf("isClientBackend(%q) = %v, want %v", title, got, want)
		}
	}
}

func TestPostmasterPID(t *testing.T) {
	dir := t.TempDir()
	if _, err := postmasterPID(dir); err == nil {
		t.Fatal("no postmaster.pid: want an error")
	}
	os.WriteFile(filepath.Join(dir, "postmaster.pid"), []byte("1234\n/var/lib/x\n"), 0o600)
	if pid, err := postmasterPID(dir); err != nil || pid != 1234 {
		t.Fatalf("postmasterPID = %d, %v; want 1234", pid, err)
	}
	os.WriteFile(filepath.Join(dir, "postmaster.pid"), []byte("x\n"), 0o600)
	if _, err := postmasterPID(dir); err == nil {
		t.Fatal("bad postmaster.pid: want an error")
	}
}
