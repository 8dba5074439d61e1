//go:build unix

package torture

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// loopFS is an ext4 filesystem on a loop device whose backing file lives
// on a small tmpfs: once the tmpfs is full, writeback of any block the
// filesystem has not written before fails (the loop device cannot store
// it), while blocks written before, such as the journal's, DURABLE's or
// the last page of a segment, can still be rewritten. The tmpfs is the
// disk: a "reboot" unmounts the filesystem and detaches the loop device,
// dropping every cached page, then attaches and mounts them again.
//
// The loop device is limited to requests of one 4 KiB page of 4 KiB
// sectors. Linux's loop driver completes a write that its backing file
// stored only in part as a success (lo_complete_rq retries short reads
// only): with larger requests, a request that ran out of space part way
// would lose acknowledged bytes silently, a device that lies, which no
// program can survive. A one-page request is stored whole or fails.
type loopFS struct {
	t      *testing.T
	back   string // the tmpfs
	img    string // the loop device's backing file, in back
	dev    string // /dev/loopN
	mnt    string // the ext4 filesystem
	filler string
}

// newLoopFS makes one, or skips the test, saying why, when it cannot.
func newLoopFS(t *testing.T, dir string) *loopFS {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: it mounts a tmpfs and an ext4 filesystem on a loop device")
	}
	for _, tool := range []string{"losetup", "mkfs.ext4", "mount", "umount"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s: %v", tool, err)
		}
	}
	l := &loopFS{t: t, back: filepath.Join(dir, "disk"), mnt: filepath.Join(dir, "mnt")}
	l.img, l.filler = filepath.Join(l.back, "disk.img"), filepath.Join(l.back, "filler")
	for _, d := range []string{l.back, l.mnt} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if err := sh("mount", "-t", "tmpfs", "-o", "size=96M", "tmpfs", l.back); err != nil {
		t.Skipf("cannot mount a tmpfs: %v", err)
	}
	t.Cleanup(l.cleanup)
	if err := sh("truncate", "-s", "256M", l.img); err != nil {
		t.Fatal(err)
	}
	if err := l.attach(); err != nil {
		t.Skipf("cannot set up a loop device that stores each write whole or fails it: %v", err)
	}
	if err := sh("mkfs.ext4", "-q", "-F", "-b", "4096", "-E", "lazy_itable_init=0,lazy_journal_init=0,nodiscard", l.dev); err != nil {
		t.Skipf("mkfs.ext4: %v", err)
	}
	if err := sh("mount", "-t", "ext4", l.dev, l.mnt); err != nil {
		t.Skipf("cannot mount ext4 on %s: %v", l.dev, err)
	}
	return l
}

// sh runs a command to completion, in at most a minute.
func sh(name string, args ...string) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %w\n%s", name, strings.Join(args, " "), err, out)
	}
	return nil
}

// attach sets up the loop device on the backing file, one-page requests.
func (l *loopFS) attach() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "losetup", "-b", "4096", "-f", "--show", l.img).Output()
	if err != nil {
		return fmt.Errorf("losetup: %w", err)
	}
	l.dev = strings.TrimSpace(string(out))
	limit := filepath.Join("/sys/block", filepath.Base(l.dev), "queue", "max_sectors_kb")
	if err := os.WriteFile(limit, []byte("4"), 0o644); err != nil {
		return err
	}
	if b, err := os.ReadFile(limit); err != nil || strings.TrimSpace(string(b)) != "4" {
		return fmt.Errorf("%s is %q (%v), not 4", limit, b, err)
	}
	return nil
}

func (l *loopFS) cleanup() {
	sh("umount", l.mnt)
	if l.dev != "" {
		sh("losetup", "-d", l.dev)
	}
	sh("umount", l.back)
}

// fill takes every free page of the tmpfs.
func (l *loopFS) fill() {
	f, err := os.OpenFile(l.filler, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		l.t.Fatal(err)
	}
	defer f.Close()
	for _, chunk := range []int{1 << 20, pageSize} {
		b := make([]byte, chunk)
		for {
			if _, err := f.Write(b); err != nil {
				if !errors.Is(err, syscall.ENOSPC) {
					l.t.Fatal(err)
				}
				break
			}
		}
	}
}

// free gives the filler's pages back.
func (l *loopFS) free() {
	if err := os.Remove(l.filler); err != nil {
		l.t.Fatal(err)
	}
}

// reboot drops every page cached above the tmpfs: what the device did not
// store is gone.
func (l *loopFS) reboot() {
	l.t.Helper()
	for _, args := range [][]string{{"umount", l.mnt}, {"losetup", "-d", l.dev}} {
		if err := sh(args[0], args[1:]...); err != nil {
			l.t.Fatal(err)
		}
	}
	l.dev = ""
	if err := l.attach(); err != nil {
		l.t.Fatal(err)
	}
	if err := sh("mount", "-t", "ext4", l.dev, l.mnt); err != nil {
		l.t.Fatal(err)
	}
}

// TestFsyncFailureOnLoopDevice makes writeback fail under a writer and a
// backup (the disk fills up), then reboots (see loopFS). No commit that
// failed ("not committed") may be there, before or after the reboot, and
// every acknowledged one must; a backup file whose fsync failed must not
// look complete; the database opens and `--append` completes the backup
// once there is room again.
func TestFsyncFailureOnLoopDevice(t *testing.T) {
	h := newHarness(t)
	h.must("db", "create", "bsrc", "-q")
	h.must("load", "bsrc", "-q", "--txs", "2000", "--value-size", "1000")
	bsrc := h.status("bsrc")
	var st struct{ rounds, acked, failedLoads, putsOK, putsFailed, backupsFailed, appendsFailed int }
	for round := 0; round < *rounds; round++ {
		l := newLoopFS(t, h.path(fmt.Sprintf("loop%d", round)))
		m := h.in(filepath.Join(l.mnt, "data"))
		m.must("db", "create", "w", "-q", "--segment-size", []string{"64KiB", "1MiB", "64MiB"}[round%3])
		behind := filepath.Join(l.mnt, "behind.backup") // a backup to append to when the disk is full
		h.must("hot-backup", "bsrc", "-q", "-o", behind, "--end-lsn", "100")
		load := m.startLoad("w", "--workers", strconv.Itoa(1+h.rng.IntN(16)), "--value-size", strconv.Itoa(10+h.rng.IntN(4000)))
		load.waitAcks(uint64(1 + h.rng.IntN(300)))
		l.fill()
		select {
		case <-load.done:
		case <-time.After(time.Minute):
			t.Skip("writeback errors could not be injected: the writer still commits a minute after the disk filled up")
		}
		if code := load.exitCode(); code != 1 || !strings.Contains(load.errb.String(), "not committed") {
			t.Fatalf("round %d: load on a full disk: exit %d, want 1 and commits \"not committed\":\n%s", round, code, load.errb)
		}
		st.failedLoads++
		top, n := load.acks()
		if uint64(n) != top {
			t.Fatalf("round %d: %d acknowledgements, the highest LSN %d: want each of 1..%d once", round, n, top, top)
		}
		want := top // the highest acknowledged LSN
		present := map[string]bool{}
		check := func(when string) {
			t.Helper()
			if s := m.status("w"); s.LastLSN != want {
				t.Fatalf("round %d, %s: the database reads up to LSN %d; the highest acknowledged is %d, every later commit failed",
					round, when, s.LastLSN, want)
			}
			if keys := scanCount(t, m, "w", "key"); keys != n {
				t.Fatalf("round %d, %s: %d of load's keys are there, %d were acknowledged", round, when, keys, n)
			}
			for k, ok := range present {
				if _, _, code := m.run("get", "w", k); (code == 0) != ok {
					t.Fatalf("round %d, %s: %s present: %v; its put succeeded: %v", round, when, k, code == 0, ok)
				}
			}
		}
		check("after the failed commits, before a reboot")

		// A backup to the full disk, new and appended: the file must not
		// look complete.
		fresh := filepath.Join(l.mnt, "fresh.backup")
		if _, errs, code := h.run("hot-backup", "bsrc", "-q", "-o", fresh); code == 0 {
			t.Fatalf("round %d: hot-backup -o to a full disk succeeded\n%s", round, errs)
		}
		st.backupsFailed++
		if _, errs, code := h.run("hot-backup", "bsrc", "-q", "-o", behind, "--append"); code == 0 {
			t.Fatalf("round %d: hot-backup --append to a full disk succeeded\n%s", round, errs)
		}
		st.appendsFailed++
		backups := func(when string) {
			t.Helper()
			if _, err := os.Stat(fresh); err == nil {
				if lsn, _, code := h.verified(fresh); code == 0 {
					t.Fatalf("round %d, %s: the failed backup left a file that verifies (to LSN %d)", round, when, lsn)
				}
			}
			if lsn, _, code := h.verified(behind); code == 0 && lsn != 100 {
				t.Fatalf("round %d, %s: the failed --append left a file that verifies to LSN %d; it was durable to 100", round, when, lsn)
			}
		}
		backups("before a reboot")

		// The writer reopened on the full disk: its commit either reaches
		// the disk or fails.
		out, errs, code := m.run("put", "w", "full="+strings.Repeat("f", 1+h.rng.IntN(3*pageSize)))
		switch {
		case code == 0:
			st.putsOK++
			want, present["full"] = want+1, true
			if strings.TrimSpace(out) != strconv.FormatUint(want, 10) {
				t.Fatalf("round %d: put on the full disk committed %q, want LSN %d", round, out, want)
			}
		case strings.Contains(errs, "not committed"):
			st.putsFailed++
			present["full"] = false
		default:
			t.Fatalf("round %d: put on the full disk: exit %d\n%s", round, code, errs)
		}
		check("after a put on the full disk")
		l.free()
		out, errs, code = m.run("put", "w", "room=1")
		if code != 0 || strings.TrimSpace(out) != strconv.FormatUint(want+1, 10) {
			t.Fatalf("round %d: put once there is room: %q (exit %d), want LSN %d\n%s", round, out, code, want+1, errs)
		}
		want, present["room"] = want+1, true
		hash := m.must("db", "hash", "w")

		l.reboot()
		// DURABLE on disk may lag behind the last commit by up to a second:
		// a writer's recovery settles where the log ends.
		m.must("db", "replica", "w", "off", "-q")
		check("after a reboot")
		backups("after a reboot")
		if got := m.must("db", "hash", "w"); got != hash {
			t.Fatalf("round %d: after a reboot the database is at %q, before it at %q", round, got, hash)
		}
		if out, errs, code := m.run("db", "check", "w"); code != 0 {
			t.Fatalf("round %d: db check after a reboot: exit %d\n%s%s", round, code, out, errs)
		}
		if _, errs, code := m.run("put", "w", "rebooted=1"); code != 0 {
			t.Fatalf("round %d: put after a reboot: exit %d\n%s", round, code, errs)
		}
		for _, f := range []string{fresh, behind} {
			h.must("hot-backup", "bsrc", "-q", "-o", f, "--append")
		}
		l.reboot()
		for _, f := range []string{fresh, behind} {
			if lsn, hash, code := h.verified(f); code != 0 || lsn != bsrc.LastLSN || hash != bsrc.StateHash {
				t.Fatalf("round %d: %s completed by --append, after a reboot: LSN %d %s, exit %d; want %d %s",
					round, f, lsn, hash, code, bsrc.LastLSN, bsrc.StateHash)
			}
		}
		st.rounds++
		st.acked += int(want)
	}
	t.Logf("%+v", st)
	results.add("writeback fails (ext4 on a loop device whose backing tmpfs fills up) under a writer (`load`, 1–16 workers, 64 KiB to 64 MiB segments) "+
		"and under `hot-backup -o` (new, and `--append` to an older file); then a put on the full disk, a put once there is room, and a reboot (unmount, loop device detached)", st.rounds,
		"rounds: every load failed with \"not committed\"; before and after the reboot the database held exactly the acknowledged commits (%d in all; "+
			"a put on the full disk committed %d times, failed %d times and was then absent), `db check` passed; "+
			"every failed backup file (%d new, %d appended) was absent, or failed `verify`, or ended where it was durable; `--append` then completed each, verified after a reboot",
		st.acked, st.putsOK, st.putsFailed, st.backupsFailed, st.appendsFailed)
}

// scanCount returns how many live keys of db start with prefix.
func scanCount(t *testing.T, h *harness, db, prefix string) int {
	t.Helper()
	out := h.must("scan", db, prefix, "--keys-only")
	n := 0
	for sc := bufio.NewScanner(strings.NewReader(out)); sc.Scan(); {
		n++
	}
	return n
}
