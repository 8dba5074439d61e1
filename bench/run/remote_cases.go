package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// serveProc is a `hotpipe serve` of the bench's data directory on a
// loopback port.
type serveProc struct {
	cmd  *exec.Cmd
	url  string
	done chan struct{} // closed when the process has exited
}

// serve starts hotpipe serve on a free loopback port and waits until it
// has written its URL.
func (b *bench) serve() (*serveProc, error) {
	urlFile := filepath.Join(b.dir, fmt.Sprintf("serve-%d.url", time.Now().UnixNano()))
	defer os.Remove(urlFile)
	cmd := exec.Command(b.bin, "--data-dir", b.data, "-q", "serve", "--listen", "127.0.0.1:0", "--listen-file", urlFile)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &serveProc{cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(p.done) }()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); {
		select {
		case <-p.done:
			return nil, fmt.Errorf("hotpipe serve exited: %v", cmd.ProcessState)
		case <-time.After(5 * time.Millisecond):
		}
		if s, err := os.ReadFile(urlFile); err == nil && strings.HasSuffix(string(s), "\n") {
			p.url = strings.TrimSpace(string(s))
			return p, nil
		}
	}
	p.stop()
	return nil, fmt.Errorf("hotpipe serve wrote no URL in 30 s")
}

// peakMiB is the server's peak RSS so far (VmHWM), in MiB.
func (p *serveProc) peakMiB() (float64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 64)
			return kb / 1024, err
		}
	}
	return 0, fmt.Errorf("no VmHWM in /proc/%d/status", p.cmd.Process.Pid)
}

// stop ends the server as SIGTERM does, and kills it if it has not
// exited within 30 s.
func (p *serveProc) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// remoteCase measures the server: a remote backup over loopback against
// the local one into the same pipe, a remote restore against the local
// one of the same file, and the server's memory with the number of
// concurrent streams.
func (b *bench) remoteCase(sz sizes) ([]row, error) {
	n, err := b.segBytes("big")
	if err != nil {
		return nil, err
	}
	srv, err := b.serve()
	if err != nil {
		return nil, err
	}
	defer srv.stop()
	m, r, err := b.pair(sz.reps, fmt.Sprintf(`"$HP" hot-backup big -q --addr %s | cat > /dev/null`, srv.url),
		`"$HP" hot-backup big -q | cat > /dev/null`, n)
	if err != nil {
		return nil, err
	}
	rows := []row{ratioRow(fmt.Sprintf("hot-backup --addr of %d MiB over loopback into a pipe, vs local hot-backup into the same pipe", sz.bigMiB), "≥ 0.8×", m, r)}
	restore, err := b.remoteRestore(sz, srv.url)
	if err != nil {
		return nil, err
	}
	rows = append(rows, restore)
	mem, err := b.streamMemory(sz)
	if err != nil {
		return nil, err
	}
	return append(rows, mem), nil
}

// remoteRestore times hot-restore --addr of the big database's backup
// file against the local hot-restore of the same file.
func (b *bench) remoteRestore(sz sizes, url string) (row, error) {
	file := filepath.Join(b.dir, "big.backup")
	if _, err := os.Stat(file); err != nil {
		if _, err := b.sh(`"$HP" hot-backup big -q -o "$D/big.backup"`); err != nil {
			return row{}, err
		}
	}
	fi, err := os.Stat(file)
	if err != nil {
		return row{}, err
	}
	mine := fmt.Sprintf(`rm -rf "$HOTPIPE_DATA_DIR/rb"; "$HP" hot-restore rb -q -i "$D/big.backup" --addr %s`, url)
	ref := `rm -rf "$HOTPIPE_DATA_DIR/rb"; "$HP" hot-restore rb -q -i "$D/big.backup"`
	m, r, err := b.pair(sz.reps, mine, ref, fi.Size())
	if err != nil {
		return row{}, err
	}
	return ratioRow(fmt.Sprintf("hot-restore --addr of the %d MiB backup over loopback, vs local hot-restore of the same file", sz.bigMiB), "≥ 0.8×", m, r), nil
}

// streamMemory is the server's peak RSS with 1 and with many concurrent
// backup streams of a database, each on a fresh server, and what each
// stream added.
func (b *bench) streamMemory(sz sizes) (row, error) {
	const db, mib = "streams", 32
	if _, err := os.Stat(filepath.Join(b.data, db)); err != nil {
		if err := b.makeDB(db, mib*16, 64<<10, 4); err != nil {
			return row{}, err
		}
	}
	counts := []int{1, 8, 32}
	peaks := make([]sample, len(counts))
	for rep := 0; rep < sz.reps; rep++ {
		for i, k := range counts {
			srv, err := b.serve()
			if err != nil {
				return row{}, err
			}
			script := fmt.Sprintf(`for i in $(seq %d); do "$HP" hot-backup %s -q --addr %s | cat > /dev/null & done; wait`, k, db, srv.url)
			_, err = b.sh(script)
			peak, perr := srv.peakMiB()
			srv.stop()
			if err != nil {
				return row{}, err
			}
			if perr != nil {
				return row{}, perr
			}
			peaks[i] = append(peaks[i], peak)
		}
	}
	last := len(counts) - 1
	per := (peaks[last].median() - peaks[0].median()) / float64(counts[last]-counts[0])
	return row{name: fmt.Sprintf("hotpipe serve peak RSS with 1 / 8 / 32 concurrent backup streams of a %d MiB database", mib),
		mine: fmt.Sprintf("%.0f / %.0f / %.0f MiB", peaks[0].median(), peaks[1].median(), peaks[last].median()),
		ref:  "—", ratio: fmt.Sprintf("%.2f MiB a stream", per), target: "flat with the number of streams"}, nil
}
