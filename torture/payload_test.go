//go:build unix

package torture

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hotpipe/hotpipe/engine"
	"github.com/hotpipe/hotpipe/txframe"
)

// helperEnv names the helper a test started the test binary as.
const helperEnv = "HOTPIPE_TORTURE_HELPER"

func runHelper(role string) int {
	switch role {
	case "payload-writer":
		return payloadWriter()
	}
	fmt.Fprintf(os.Stderr, "unknown helper %q\n", role)
	return 2
}

// payloadWriter commits, from four goroutines, transactions whose one
// value is a whole file (a backup, a segment file) named in
// HOTPIPE_TORTURE_FILES, in turn, and prints each LSN once it is
// acknowledged, as `load --acks` does. It stops after HOTPIPE_TORTURE_COUNT
// commits (0: when killed), at most HOTPIPE_TORTURE_RATE a second (0: no
// limit). `hotpipe put` takes values only from its arguments.
func payloadWriter() int {
	fail := func(err error) int { fmt.Fprintln(os.Stderr, "payload-writer:", err); return 1 }
	var values [][]byte
	for _, f := range filepath.SplitList(os.Getenv("HOTPIPE_TORTURE_FILES")) {
		b, err := os.ReadFile(f)
		if err != nil {
			return fail(err)
		}
		values = append(values, b)
	}
	count, _ := strconv.Atoi(os.Getenv("HOTPIPE_TORTURE_COUNT"))
	rate, _ := strconv.Atoi(os.Getenv("HOTPIPE_TORTURE_RATE"))
	db, err := engine.Open(os.Getenv("HOTPIPE_DATA_DIR"), os.Getenv("HOTPIPE_TORTURE_DB"),
		engine.Options{Notify: func(m string) { fmt.Fprintln(os.Stderr, "hotpipe:", m) }})
	if err != nil {
		return fail(err)
	}
	var tick <-chan time.Time
	if rate > 0 {
		tick = time.NewTicker(time.Second / time.Duration(rate)).C
	}
	var next atomic.Int64
	var mu sync.Mutex
	var failed atomic.Value
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if count > 0 && i >= count || failed.Load() != nil {
					return
				}
				if tick != nil {
					<-tick
				}
				v := values[i%len(values)]
				lsn, err := db.Commit([]txframe.Entry{{Op: txframe.OpPut, Key: fmt.Appendf(nil, "payload%08d", i), Value: v}})
				if err != nil {
					failed.Store(err)
					return
				}
				mu.Lock()
				fmt.Println(lsn)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if err, _ := failed.Load().(error); err != nil {
		return fail(err)
	}
	if err := db.Close(); err != nil {
		return fail(err)
	}
	return 0
}

// payloadWriter starts the payload-writer helper on db.
func (h *harness) payloadWriter(db string, count, rate int, files ...string) *proc {
	c := exec.Command(os.Args[0])
	c.Env = append(os.Environ(), "HOTPIPE_DATA_DIR="+h.data, helperEnv+"=payload-writer", "HOTPIPE_TORTURE_DB="+db,
		"HOTPIPE_TORTURE_FILES="+strings.Join(files, string(os.PathListSeparator)),
		"HOTPIPE_TORTURE_COUNT="+strconv.Itoa(count), "HOTPIPE_TORTURE_RATE="+strconv.Itoa(rate))
	return h.start(c, h.path("acks-"+db))
}

// TestPayloadFrames stores hotpipe backups (of the database itself and of
// another one) and segment files as values, so that the log and its
// backups hold whole frames, headers and end records inside frames.
// Nothing may infer structure from them:
//
//   - a writer committing such values is frozen and copied (power-cut
//     images, as in TestPowerCut: a torn frame whose value holds whole
//     frames) and SIGKILLed: every image and the database itself open with
//     every acknowledged LSN;
//   - `hot-backup -o F` of the database is SIGKILLed or interrupted
//     (SIGINT) at random moments, and F is cut inside stored backups, right
//     after their headers, frames and end records: `hot-backup --append`
//     must then complete F so that it verifies, or refuse with an error,
//     never exit 0 with a file that does not verify.
func TestPayloadFrames(t *testing.T) {
	h := newHarness(t)
	h.must("db", "create", "other", "-q")
	h.must("load", "other", "-q", "--txs", "60", "--value-size", "300")
	other := h.path("other.backup")
	h.must("hot-backup", "other", "-q", "-o", other)
	h.must("db", "create", "app", "-q", "--segment-size", "256KiB")
	h.must("load", "app", "-q", "--txs", "40", "--value-size", "200")
	self := h.path("self.backup")
	h.must("hot-backup", "app", "-q", "-o", self)
	frames := h.path("app.seg")
	copyFile(t, filepath.Join(h.data, "app", segName(1)), frames)
	payloads := []string{self, other, frames}

	// Writers committing payloads, frozen and copied, then SIGKILLed.
	var st powerCutStats
	var kills, acked int
	for round := 0; round < *rounds; round++ {
		w := h.payloadWriter("app", 0, 300, payloads...)
		w.waitAcks(1)
		time.Sleep(h.jitter(40 * time.Millisecond))
		w.freeze()
		older := readFile(t, filepath.Join(h.data, "app", "DURABLE"))
		w.thaw()
		time.Sleep(h.jitter(40 * time.Millisecond))
		w.freeze()
		frozen := filepath.Join(h.path("frozen"), "app")
		os.RemoveAll(h.path("frozen"))
		copyDir(t, filepath.Join(h.data, "app"), frozen, nil)
		top, _ := w.acks()
		w.thaw()
		time.Sleep(h.jitter(30 * time.Millisecond))
		w.kill()
		if w.killedBy(syscall.SIGKILL) {
			kills++
		}
		c := h.powerCutCopy(frozen, "app", top, [][]byte{older})
		for i := 0; i < imagesPerCopy; i++ {
			h.checkImage(c, fmt.Sprintf("payload round %d image %d", round, i), &st)
		}
		top, n := w.acks()
		acked += n
		out, errs, code := h.run("put", "app", "after=kill")
		if lsn, err := strconv.ParseUint(strings.TrimSpace(out), 10, 64); code != 0 || err != nil || lsn <= top {
			t.Fatalf("round %d: put after SIGKILL of a writer of payloads: %q (exit %d); LSN %d was acknowledged\n%s", round, out, code, top, errs)
		}
		if out, errs, code := h.run("db", "check", "app"); code != 0 {
			t.Fatalf("round %d: db check after SIGKILL of a writer of payloads: exit %d\n%s%s", round, code, out, errs)
		}
		if round == 0 { // from now on a backup holding backups is stored too
			nested := h.path("nested.backup")
			h.must("hot-backup", "app", "-q", "-o", nested)
			payloads = append(payloads, nested)
		}
	}
	t.Logf("writers: %d SIGKILLs, %d acknowledged; images %+v", kills, acked, st)
	results.add("values that are hotpipe backups (of the database itself, of another, of backups) and segment files: "+
		"their writer frozen and copied, power-cut images made as above, then SIGKILLed", *rounds,
		"rounds: the database reopened every time with every acknowledged LSN (%d acknowledged, %d kills landed) and passed `db check`; "+
			"%d images (%d dropping a torn tail, %d of them cut inside a frame holding stored frames) opened with every acknowledged LSN",
		acked, kills, st.images, st.dropped, st.tornFrames)

	h.payloadBackups(payloads)
}

// payloadBackups interrupts and cuts backups of app, whose values hold
// the payloads, and resumes them with --append.
func (h *harness) payloadBackups(payloads []string) {
	t := h.t
	src := h.status("app")
	whole := h.path("whole.backup")
	full := h.timed("hot-backup", "app", "-q", "-o", whole)
	data := readFile(t, whole)
	var ok, refused int
	resume := func(file, what string) {
		t.Helper()
		_, errs, code := h.run("hot-backup", "app", "-q", "-o", file, "--append")
		switch code {
		case 0:
			if lsn, hash, vcode := h.verified(file); vcode != 0 || lsn != src.LastLSN || hash != src.StateHash {
				kept := keepForReproduction(t, filepath.Dir(file), "payload-append")
				t.Fatalf("%s: --append exited 0, but the file verifies with exit %d at LSN %d %s (the source is at %d %s); files kept in %s\n%s",
					what, vcode, lsn, hash, src.LastLSN, src.StateHash, kept, errs)
			}
			ok++
		case 1, 3, 4:
			if !strings.Contains(errs, filepath.Base(file)) {
				t.Fatalf("%s: --append refused (exit %d) without naming the file:\n%s", what, code, errs)
			}
			refused++
		default:
			t.Fatalf("%s: --append exit %d\n%s", what, code, errs)
		}
	}

	// hot-backup -o F SIGKILLed or interrupted at a random moment.
	var landed int
	for i := 0; i < 2**rounds; i++ {
		file := h.path(fmt.Sprintf("k%d.backup", i))
		p := h.start(h.cmd("hot-backup", "app", "-q", "-o", file), h.path("k.out"))
		time.Sleep(h.jitter(full))
		sig := []syscall.Signal{syscall.SIGKILL, syscall.SIGINT}[i%2]
		p.signal(sig)
		if p.killedBy(sig) || p.exitCode() == 130 {
			landed++
		}
		resume(file, fmt.Sprintf("hot-backup -o F stopped by %v", sig))
		os.Remove(file)
	}
	killOK, killRefused := ok, refused

	// F cut inside stored backups and segments.
	cands := payloadCuts(t, data, payloads)
	n := min(len(cands), max(8, *cuts/4))
	picked := slices.Clone(cands[:n/2]) // ends of stored end records first, the unluckiest cuts
	for _, i := range h.rng.Perm(len(cands) - len(picked))[:n-len(picked)] {
		picked = append(picked, cands[n/2+i])
	}
	file := h.path("cut.backup")
	for _, c := range picked {
		if err := os.WriteFile(file, data[:c.at], 0o600); err != nil {
			t.Fatal(err)
		}
		resume(file, fmt.Sprintf("backup of %d bytes cut at %d (%s)", len(data), c.at, c.what))
	}
	t.Logf("kills landed %d of %d: resumed %d, refused %d; cuts %d (of %d candidates): resumed %d, refused %d",
		landed, 2**rounds, killOK, killRefused, len(picked), len(cands), ok-killOK, refused-killRefused)
	results.add("`hot-backup -o F` of that database SIGKILLed or interrupted (SIGINT) at a random moment, then `--append`", 2**rounds,
		"runs (%d stopped while running): `--append` completed F to the source's LSN and hash, verified, %d times; refused with an error naming F %d times; never exit 0 with a file that does not verify",
		landed, killOK, killRefused)
	results.add(fmt.Sprintf("backup of %d bytes of that database cut inside a stored value: right after a stored stream's end record, header or frame, or a stored segment's frame; then `--append`", len(data)), len(picked),
		"cuts (from %d candidates, every stored end record's end first): `--append` completed F, verified, %d times; refused with an error naming F %d times; never exit 0 with a file that does not verify",
		len(cands), ok-killOK, refused-killRefused)
}

// payloadCut is an offset in a backup inside a stored value.
type payloadCut struct {
	at   int
	what string
}

// payloadCuts lists offsets of data right after the records inside each
// copy of each payload stored in it: the ends of stored end records first,
// then the ends of stored headers and frames.
func payloadCuts(t *testing.T, data []byte, payloads []string) []payloadCut {
	t.Helper()
	var ends, rest []payloadCut
	for _, p := range payloads {
		v := readFile(t, p)
		name := filepath.Base(p)
		var inner []span // whole frames inside v, at offsets in v
		if strings.HasSuffix(name, ".backup") {
			inner = frameSpans(t, v)
		} else {
			inner = frameSpansFrom(v, 0)
		}
		for from := 0; ; {
			i := bytes.Index(data[from:], v)
			if i < 0 {
				break
			}
			at := from + i
			from = at + 1
			if strings.HasSuffix(name, ".backup") {
				ends = append(ends, payloadCut{at + len(v), fmt.Sprintf("right after the end record of %s stored at %d", name, at)})
				rest = append(rest, payloadCut{at + 140, fmt.Sprintf("right after the first header of %s stored at %d", name, at)})
			}
			for _, f := range inner {
				rest = append(rest, payloadCut{at + f.end, fmt.Sprintf("right after LSN %d of %s stored at %d", f.lsn, name, at)})
			}
		}
	}
	if len(ends) == 0 {
		t.Fatal("no stored backup found in the backup")
	}
	slices.SortFunc(rest, func(a, b payloadCut) int { return a.at - b.at })
	return append(ends, rest...)
}
