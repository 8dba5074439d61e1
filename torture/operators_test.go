//go:build unix

package torture

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestLockLoss removes a running writer's LOCK file, or replaces it with
// another file, then tries every command that writes: each must be refused
// with exit 5, whatever happened to the file's name (the lock is an flock
// on the database directory). The writer is then SIGKILLed: the database
// opens with every LSN it acknowledged and none of the intruders' writes.
func TestLockLoss(t *testing.T) {
	h := newHarness(t)
	h.must("db", "create", "lk", "-q")
	h.must("load", "lk", "-q", "--txs", "50")
	input := h.path("lk.backup")
	h.must("hot-backup", "lk", "-q", "-o", input)
	lock := filepath.Join(h.data, "lk", "LOCK")
	intruders := [][]string{
		{"put", "lk", "intruder=put"},
		{"load", "lk", "--txs", "10", "--value-size", "7"},
		{"hot-restore", "lk", "-i", input, "--append", "--force-replica"},
		{"hot-restore", "lk", "-i", input, "--append"},
		{"db", "replica", "lk", "on"},
	}
	var refused, replaced, acked int
	for round := 0; round < *rounds; round++ {
		load := h.startLoad("lk", "--workers", "8", "--value-size", "100")
		load.waitAcks(1) // it holds the lock
		if err := os.Remove(lock); err != nil {
			t.Fatal(err)
		}
		how := "removed"
		if round%2 == 1 { // another file, with a made-up holder, in its place
			if err := os.WriteFile(lock, []byte(`{"pid":1,"host":"elsewhere","started":"2026-01-01T00:00:00Z"}`+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			how = "replaced"
			replaced++
		}
		for _, args := range intruders {
			_, errs, code := h.run(args...)
			if code != 5 || !strings.Contains(errs, "locked by another writer") {
				t.Fatalf("round %d, LOCK %s while load writes: hotpipe %s: exit %d, want 5 (locked)\n%s",
					round, how, strings.Join(args, " "), code, errs)
			}
			refused++
		}
		load.kill()
		top, n := load.acks()
		acked += n
		out, errs, code := h.run("put", "lk", "after=lock-loss")
		if lsn, err := strconv.ParseUint(strings.TrimSpace(out), 10, 64); code != 0 || err != nil || lsn <= top {
			t.Fatalf("round %d: put after the kill: %q (exit %d); LSN %d was acknowledged\n%s", round, out, code, top, errs)
		}
		if _, errs, code := h.run("db", "hash", "lk", strconv.FormatUint(top, 10)); code != 0 {
			t.Fatalf("round %d: db hash at the acknowledged LSN %d: exit %d\n%s", round, top, code, errs)
		}
		if out, errs, code := h.run("db", "check", "lk"); code != 0 {
			t.Fatalf("round %d: db check: exit %d\n%s%s", round, code, out, errs)
		}
		if _, _, code := h.run("get", "lk", "intruder"); code != 1 {
			t.Fatalf("round %d: an intruder's put is in the database (get exit %d)", round, code)
		}
		h.healthy("lk")
	}
	t.Logf("%d refusals, LOCK replaced in %d rounds, %d acknowledged", refused, replaced, acked)
	results.add("LOCK removed, or replaced by another file naming another holder, while a writer (`load`) commits; then `put`, `load`, "+
		"`hot-restore --append` (with and without `--force-replica`) and `db replica on` against it; then the writer SIGKILLed", *rounds,
		"every intruder refused, exit 5 \"locked by another writer\" (%d refusals; LOCK replaced in %d rounds), none of their writes present; "+
			"after the kill the database opened with every acknowledged LSN (%d acknowledged), `db check` passed, lock free",
		refused, replaced, acked)
}

// TestConcurrentAppends starts two `hot-backup -o F --append` runs together,
// again and again, while a writer commits: one may write and the other
// must be refused with exit 5 naming it, or they run one after the other;
// F verifies every time.
func TestConcurrentAppends(t *testing.T) {
	h := newHarness(t)
	h.must("db", "create", "src", "-q")
	h.must("load", "src", "-q", "--txs", "3000", "--value-size", "4000", "--workers", "16")
	writer := h.startLoad("src", "--rate", "300", "--workers", "4")
	writer.waitAcks(1)
	file := h.path("f.backup")
	var overlapped, serial, unknown int
	holder := regexp.MustCompile(`backup file is locked by another hot-backup \((pid (\d+) on [^)]*|holder unknown)\); the file is untouched`)
	for i := 0; i < 3**rounds; i++ {
		switch i % 3 {
		case 0: // F absent
			os.Remove(file)
		case 2: // F left by an interrupted backup
			if fi, err := os.Stat(file); err == nil && fi.Size() > 0 {
				if err := os.Truncate(file, h.rng.Int64N(fi.Size())); err != nil {
					t.Fatal(err)
				}
			}
		} // case 1: F complete, behind the writer
		var ps [2]*proc
		for j := range ps {
			ps[j] = h.start(h.cmd("hot-backup", "src", "-q", "-o", file, "--append"), h.path(fmt.Sprintf("append%d.out", j)))
		}
		codes := [2]int{ps[0].exitCode(), ps[1].exitCode()}
		switch {
		case codes == [2]int{0, 0}:
			serial++
		case codes == [2]int{0, 5} || codes == [2]int{5, 0}:
			loser, winner := 0, 1
			if codes[1] == 5 {
				loser, winner = 1, 0
			}
			m := holder.FindStringSubmatch(ps[loser].errb.String())
			if m == nil {
				t.Fatalf("round %d: the refused --append does not say who holds %s:\n%s", i, file, ps[loser].errb)
			}
			switch {
			case m[1] == "holder unknown": // it looked before the holder described itself
				unknown++
			case m[2] != strconv.Itoa(ps[winner].cmd.Process.Pid):
				t.Fatalf("round %d: the refused --append names pid %s, the other run is pid %d:\n%s", i, m[2], ps[winner].cmd.Process.Pid, ps[loser].errb)
			}
			overlapped++
		default:
			t.Fatalf("round %d: two --append runs exited %d and %d; want 0 and 0, or 0 and 5\n%s\n%s", i, codes[0], codes[1], ps[0].errb, ps[1].errb)
		}
		if _, _, code := h.verified(file); code != 0 {
			t.Fatalf("round %d: after two --append runs (exit %d and %d) %s does not verify", i, codes[0], codes[1], file)
		}
	}
	writer.kill()
	t.Logf("overlapped %d (holder unknown %d), one after the other %d", overlapped, unknown, serial)
	results.add("two `hot-backup -o F --append` runs started together while a writer commits (F absent, complete but behind, or cut at a random byte)", 3**rounds,
		"exactly one wrote and the other was refused with exit 5 (%d times: naming the writing run's pid, or %d times \"holder unknown\"), or they ran one after the other, both exit 0 (%d); F verified every time",
		overlapped, unknown, serial)
}
