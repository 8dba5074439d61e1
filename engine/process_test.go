package engine

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hotpipe/hotpipe/txframe"
)

// TestMain lets this test binary double as a writer process that tests can
// SIGKILL: with HOTPIPE_TEST_CHILD=writer it runs childWriter instead.
func TestMain(m *testing.M) {
	if os.Getenv("HOTPIPE_TEST_CHILD") == "writer" {
		os.Exit(childWriter())
	}
	os.Exit(m.Run())
}

// childWriter commits from several goroutines until killed, printing
// "LSN KEY" for every acknowledged commit, one write per line.
func childWriter() int {
	dir, round := os.Getenv("HOTPIPE_TEST_DIR"), os.Getenv("HOTPIPE_TEST_ROUND")
	db, err := Open(dir, "db", Options{SegmentSize: 16 << 10})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 1
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				key := fmt.Sprintf("r%s-w%d-%d", round, w, i)
				lsn, err := db.Commit([]txframe.Entry{put(key, "val-"+key)})
				if err != nil {
					fmt.Fprintln(os.Stderr, "child:", err)
					os.Exit(1)
				}
				mu.Lock()
				os.Stdout.WriteString(fmt.Sprintf("%d %s\n", lsn, key))
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return 0
}

type ack struct {
	lsn uint64
	key string
}

// writerProcess starts childWriter on dir and collects its acknowledgements.
type writerProcess struct {
	cmd   *exec.Cmd
	mu    sync.Mutex
	acks  []ack
	first chan struct{}
	done  chan struct{}
}

func startWriter(t *testing.T, dir string, round int) *writerProcess {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "HOTPIPE_TEST_CHILD=writer", "HOTPIPE_TEST_DIR="+dir, "HOTPIPE_TEST_ROUND="+strconv.Itoa(round))
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &writerProcess{cmd: cmd, first: make(chan struct{}), done: make(chan struct{})}
	go p.collect(out)
	select {
	case <-p.first:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatal("writer process acknowledged nothing in 30s")
	}
	return p
}

func (p *writerProcess) collect(out io.Reader) {
	defer close(p.done)
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		lsnText, key, ok := strings.Cut(sc.Text(), " ")
		lsn, err := strconv.ParseUint(lsnText, 10, 64)
		if !ok || err != nil {
			continue
		}
		p.mu.Lock()
		p.acks = append(p.acks, ack{lsn, key})
		if len(p.acks) == 1 {
			close(p.first)
		}
		p.mu.Unlock()
	}
}

// kill SIGKILLs the writer and returns every acknowledgement it printed.
func (p *writerProcess) kill(t *testing.T) []ack {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	p.cmd.Wait()
	<-p.done
	return p.acks
}

// TestSIGKILLLosesNoAcknowledgedCommit kills a writer at random moments,
// again and again, and proves every acknowledged LSN survives reopening, with
// its data, and that the whole chain still verifies.
func TestSIGKILLLosesNoAcknowledgedCommit(t *testing.T) {
	rounds := 25
	if testing.Short() {
		rounds = 8
	}
	dir := t.TempDir()
	if _, err := Create(dir, "db", CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	var total int
	for round := 0; round < rounds; round++ {
		p := startWriter(t, dir, round)
		time.Sleep(time.Duration(rng.IntN(60)) * time.Millisecond)
		acks := p.kill(t)
		total += len(acks)
		verifyAcks(t, dir, round, acks)
	}
	t.Logf("%d kills, %d acknowledged commits verified", rounds, total)
}

func verifyAcks(t *testing.T, dir string, round int, acks []ack) {
	t.Helper()
	db, err := Open(dir, "db", Options{SegmentSize: 16 << 10})
	if err != nil {
		t.Fatalf("round %d: reopen after SIGKILL: %v", round, err)
	}
	defer db.Close()
	lsn, _ := mustState(t, db)
	n, err := db.Check()
	if err != nil || n != lsn {
		t.Fatalf("round %d: Check = %d, %v; state LSN %d", round, n, err, lsn)
	}
	for i, a := range acks {
		if a.lsn > lsn {
			t.Fatalf("round %d: LSN %d was acknowledged but the database ends at %d", round, a.lsn, lsn)
		}
		if got := mustGet(t, db, a.key); got != "val-"+a.key {
			t.Fatalf("round %d: %s = %q", round, a.key, got)
		}
		if i%50 == 0 && keyAt(t, db, a.lsn) != a.key {
			t.Fatalf("round %d: LSN %d does not hold %s", round, a.lsn, a.key)
		}
	}
}

func keyAt(t *testing.T, db *DB, lsn uint64) string {
	t.Helper()
	f, _, err := txframe.Decode(readAll(t, db, lsn, lsn))
	if err != nil {
		t.Fatal(err)
	}
	return string(f.Entries[0].Key)
}

// TestReadersBesideAWriterProcess proves a second writer is refused, naming
// the holder, while readers in another process keep reading a consistent,
// verified prefix that grows.
func TestReadersBesideAWriterProcess(t *testing.T) {
	dir := t.TempDir()
	if _, err := Create(dir, "db", CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	p := startWriter(t, dir, 0)
	defer p.kill(t)

	_, err := Open(dir, "db", Options{})
	var le *LockedError
	if !errors.As(err, &le) || le.Holder.PID != p.cmd.Process.Pid {
		t.Fatalf("second writer: %v, want *LockedError naming pid %d", err, p.cmd.Process.Pid)
	}
	ro, err := Open(dir, "db", Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	start, _ := mustState(t, ro)
	prev := start
	deadline := time.Now().Add(30 * time.Second)
	for reads := 0; reads < 5 || prev < start+50; reads++ {
		if time.Now().After(deadline) {
			t.Fatalf("the reader saw the writer's LSN grow only from %d to %d in 30s", start, prev)
		}
		lsn, _ := mustState(t, ro)
		if lsn < prev {
			t.Fatalf("durable LSN went back from %d to %d", prev, lsn)
		}
		n, err := ro.Check()
		if err != nil || n < lsn {
			t.Fatalf("reader saw %d frames (%v), the watermark said %d", n, err, lsn)
		}
		prev = lsn
	}
	p.mu.Lock()
	a := p.acks[len(p.acks)/2]
	p.mu.Unlock()
	if got := mustGet(t, ro, a.key); got != "val-"+a.key {
		t.Fatalf("reader Get(%s) = %q", a.key, got)
	}
}
