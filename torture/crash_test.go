//go:build unix

package torture

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestKillWriter SIGKILLs `load` at random moments: every LSN it
// acknowledged must be there when the database is opened again.
func TestKillWriter(t *testing.T) {
	h := newHarness(t)
	h.must("db", "create", "w")
	var landed, acked int
	for i := 0; i < *kills; i++ {
		before := h.status("w").LastLSN
		c := h.cmd("load", "w", "--txs", "100000000", "--workers", "32", "--value-size", "200", "--acks")
		var out bytes.Buffer
		c.Stdout = &out
		hit, err := killAfter(c, 10*time.Millisecond+h.jitter(200*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		if !hit {
			t.Fatalf("load of 100M transactions finished before the kill")
		}
		landed++
		top, n := maxAck(out.Bytes())
		acked += n
		st := h.healthy("w")
		if st.LastLSN < top {
			t.Fatalf("kill %d: LSN %d was acknowledged, the database reopened at %d", i, top, st.LastLSN)
		}
		if top > 0 && top <= before {
			t.Fatalf("kill %d: acknowledged LSN %d is not new (was at %d)", i, top, before)
		}
	}
	t.Logf("%d kills, %d acknowledged commits, last LSN %d", landed, acked, h.status("w").LastLSN)
	results.add("SIGKILL of a writer (`load`, 32 workers) at a random moment", landed,
		"reopened every time with every acknowledged LSN (%d acknowledged in all), chain verified, lock free", acked)
}

// maxAck returns the highest LSN in a --acks output and how many whole lines
// it had; a line cut by the kill is ignored.
func maxAck(out []byte) (uint64, int) {
	if i := bytes.LastIndexByte(out, '\n'); i >= 0 {
		out = out[:i+1]
	} else {
		return 0, 0
	}
	var top uint64
	n := 0
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		lsn, err := strconv.ParseUint(sc.Text(), 10, 64)
		if err != nil {
			continue
		}
		top, n = max(top, lsn), n+1
	}
	return top, n
}

// source creates a database of 64 KiB transactions for backups to copy.
func (h *harness) source(name string, txs int) status {
	h.t.Helper()
	h.must("db", "create", name, "-q")
	h.must("load", name, "-q", "--txs", strconv.Itoa(txs), "--value-size", "65536", "--workers", "16")
	return h.status(name)
}

// verified returns the last LSN and final hash verify reports for file, or
// its exit code when it finds a problem.
func (h *harness) verified(files ...string) (uint64, string, int) {
	h.t.Helper()
	args := []string{"verify", "--json"}
	for _, f := range files {
		args = append(args, "-i", f)
	}
	out, _, code := h.run(args...)
	var rep struct {
		LastLSN   uint64 `json:"last_lsn"`
		FinalHash string `json:"final_hash"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		h.t.Fatalf("verify --json: %v\n%s", err, out)
	}
	return rep.LastLSN, rep.FinalHash, code
}

// TestKillBackup SIGKILLs `hot-backup -o FILE`, fresh or --append, at random
// moments: the file is then complete and valid, or visibly truncated, and
// --append completes it to the source's last LSN and hash.
func TestKillBackup(t *testing.T) {
	h := newHarness(t)
	src := h.source("src", 600)
	base := h.path("base.backup")
	h.must("hot-backup", "src", "-q", "-o", base, "--end-lsn", "200")
	full := h.timed("hot-backup", "src", "-q", "-o", h.path("timing.backup"))
	var landed, complete, truncated int
	for i := 0; i < *kills; i++ {
		file := h.path(fmt.Sprintf("b%d.backup", i))
		args := []string{"hot-backup", "src", "-q", "-o", file}
		if i%2 == 1 {
			copyFile(t, base, file)
			args = append(args, "--append")
		}
		// Most of a run is its final fsync: every other kill aims at the
		// first third, where the frames are written.
		hit, err := killAfter(h.cmd(args...), h.jitter(full/time.Duration(1+2*(i/2%2))))
		if err != nil {
			t.Fatal(err)
		}
		if hit {
			landed++
		}
		if _, err := os.Stat(file); err == nil {
			switch lsn, _, code := h.verified(file); code {
			case 0:
				if lsn != src.LastLSN && !(i%2 == 1 && lsn == 200) {
					t.Fatalf("kill %d: the killed backup's file verifies but ends at LSN %d", i, lsn)
				}
				complete++
			case 3:
				truncated++
			default:
				t.Fatalf("kill %d: the killed backup's file verifies with exit %d, want 0 or 3", i, code)
			}
		}
		h.must("hot-backup", "src", "-q", "-o", file, "--append")
		if lsn, hash, code := h.verified(file); code != 0 || lsn != src.LastLSN || hash != src.StateHash {
			t.Fatalf("kill %d: after --append the file ends at %d %s (exit %d), the source at %d %s",
				i, lsn, hash, code, src.LastLSN, src.StateHash)
		}
		os.Remove(file)
	}
	results.add("SIGKILL of `hot-backup -o FILE` (fresh, and `--append` to an older file) at a random moment", landed,
		"kills that landed while it ran (of %d rounds): the file verified complete (%d) or truncated, exit 3 (%d), or was absent; `--append` then completed it to the source's LSN and hash every time",
		*kills, complete, truncated)
}

// TestKillRestore SIGKILLs `hot-restore`, full and --append, at random
// moments: the database opens with a verified prefix, the lock is free, and
// --append finishes it with the source's state hash.
func TestKillRestore(t *testing.T) {
	h := newHarness(t)
	h.source("src", 400)
	full, part := h.path("full.backup"), h.path("part.backup")
	h.must("hot-backup", "src", "-q", "-o", full)
	h.must("hot-backup", "src", "-q", "-o", part, "--end-lsn", "150")
	h.must("hot-restore", "timing2", "-q", "-i", part)
	took := [2]time.Duration{
		h.timed("hot-restore", "timing", "-q", "-i", full),
		h.timed("hot-restore", "timing2", "-q", "-i", full, "--append", "--force-replica"),
	}
	var landed, partial, ended int
	for i := 0; i < *kills; i++ {
		db := fmt.Sprintf("r%d", i)
		args := []string{"hot-restore", db, "-q", "-i", full}
		if i%2 == 1 {
			h.must("hot-restore", db, "-q", "-i", part)
			args = append(args, "--append", "--force-replica")
		}
		hit, err := killAfter(h.cmd(args...), h.jitter(took[i%2]))
		if err != nil {
			t.Fatal(err)
		}
		if hit {
			landed++
		}
		resume := append(args, "--append")
		if i%2 == 1 {
			resume = args // the same command again
		}
		if h.exists(db) {
			if st := h.healthy(db); st.LastLSN < h.status("src").LastLSN {
				partial++
			}
		}
		_, errs, code := h.run(slices.DeleteFunc(slices.Clone(resume), func(a string) bool { return a == "-q" })...)
		if code != 0 {
			t.Fatalf("kill %d: resuming: exit %d\n%s", i, code, errs)
		}
		h.sameState("src", db)
		if h.status(db).Replica {
			// The kill came after the last frame: the rerun applied nothing,
			// which a shorter stream would do too, so it leaves the ending
			// to the user and says how.
			if !strings.Contains(errs, "end it with: hotpipe db replica "+db+" off") {
				t.Fatalf("kill %d: %s is still a replica and the rerun did not say how to end it:\n%s", i, db, errs)
			}
			h.must("db", "replica", db, "off")
			ended++
		}
		os.RemoveAll(h.data + "/" + db)
	}
	results.add("SIGKILL of `hot-restore` (full, and `--append`) at a random moment", landed,
		"kills that landed while it ran (of %d rounds): the database opened with a verified prefix (%d partial), lock free; `hot-restore --append` with the same input ended with the source's state hash every time (%d times the kill came after the last frame: the rerun said to end the restore with `db replica off`)",
		*kills, partial, ended)
}

// TestKillFollowPipeline SIGKILLs a live standby pipeline (the backup, the
// restore, or both) while a writer commits, then restarts it the way
// hot-backup --help says; at the end the standby equals the source.
func TestKillFollowPipeline(t *testing.T) {
	h := newHarness(t)
	h.must("db", "create", "src", "-q")
	writer := h.cmd("load", "src", "-q", "--txs", "100000000", "--rate", "2000", "--workers", "8")
	if err := writer.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { syscall.Kill(-writer.Process.Pid, syscall.SIGKILL); writer.Wait() }()
	waitFor(t, func() bool { return h.status("src").LastLSN > 100 })
	victims := [3]int{}
	for i := 0; i < *kills; i++ {
		backup, restore := h.pipeline("src", "dst", true)
		time.Sleep(20*time.Millisecond + h.jitter(150*time.Millisecond))
		v := h.rng.IntN(3)
		victims[v]++
		if v != 1 {
			syscall.Kill(-backup.Process.Pid, syscall.SIGKILL)
		}
		if v != 0 {
			syscall.Kill(-restore.Process.Pid, syscall.SIGKILL)
		}
		// The survivor sees its peer gone (a broken pipe, or a stream cut
		// short) and ends by itself.
		backup.Wait()
		restore.Wait()
		if h.exists("dst") {
			h.healthy("dst")
		}
	}
	syscall.Kill(-writer.Process.Pid, syscall.SIGINT)
	writer.Wait()
	backup, restore := h.pipeline("src", "dst", false)
	if err := backup.Wait(); err != nil {
		t.Fatalf("final catch-up backup: %v", err)
	}
	if err := restore.Wait(); err != nil {
		t.Fatalf("final catch-up restore: %v", err)
	}
	h.sameState("src", "dst")
	results.add("SIGKILL of a `hot-backup --follow \\| hot-restore --append --force-replica` pipeline while a writer commits "+
		"(backup only, restore only, both)", *kills,
		"(%d, %d, %d): the standby opened with a verified prefix and the lock free each time; restarted from its last LSN, it ended equal to the source",
		victims[0], victims[1], victims[2])
}

// pipeline starts hot-backup of src (from dst's last LSN) piped into
// hot-restore of dst, each in its own process group.
func (h *harness) pipeline(src, dst string, follow bool) (*execCmd, *execCmd) {
	h.t.Helper()
	start := uint64(1)
	if h.exists(dst) {
		start = max(h.status(dst).LastLSN, 1)
	}
	bargs := []string{"hot-backup", src, "-q", "--start-lsn", strconv.FormatUint(start, 10)}
	if follow {
		bargs = append(bargs, "--follow")
	}
	backup, restore := h.cmd(bargs...), h.cmd("hot-restore", dst, "-q", "--append", "--force-replica")
	r, w, err := os.Pipe()
	if err != nil {
		h.t.Fatal(err)
	}
	var berr, rerr strings.Builder
	backup.Stdout, backup.Stderr = w, &berr
	restore.Stdin, restore.Stderr = r, &rerr
	if err := restore.Start(); err != nil {
		h.t.Fatal(err)
	}
	if err := backup.Start(); err != nil {
		h.t.Fatal(err)
	}
	r.Close()
	w.Close()
	return &execCmd{backup, &berr}, &execCmd{restore, &rerr}
}

// execCmd is a started command whose Wait error carries its stderr.
type execCmd struct {
	*exec.Cmd
	stderr *strings.Builder
}

func (c *execCmd) Wait() error {
	if err := c.Cmd.Wait(); err != nil {
		return fmt.Errorf("%s: %w\n%s", strings.Join(c.Args, " "), err, c.stderr)
	}
	return nil
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	src, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
}
