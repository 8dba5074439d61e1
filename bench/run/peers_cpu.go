package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/PID/stat: 100
// on every Linux architecture Go supports.
const clockTicks = 100

// replicationCPU sums the user+sys seconds used so far by PostgreSQL's
// replication work for a standby: every process of the standby's cluster
// but its client backends (the poller's queries are the bench's, as
// hotpipe's watermark reads are), and the primary's walsenders. hotpipe's
// counterpart is the CPU of the server (or hot-backup) and hot-restore.
func replicationCPU(primary, standby string) (float64, error) {
	pp, err := postmasterPID(primary)
	if err != nil {
		return 0, err
	}
	sp, err := postmasterPID(standby)
	if err != nil {
		return 0, err
	}
	procs, err := filepath.Glob("/proc/[0-9]*/stat")
	if err != nil {
		return 0, err
	}
	var ticks int64
	for _, stat := range procs {
		pid, ppid, t, ok := readStat(stat)
		if !ok {
			continue // gone since the listing
		}
		title := processTitle(pid)
		switch {
		case pid == sp:
			ticks += t
		case ppid == sp && !isClientBackend(title):
			ticks += t
		case ppid == pp && strings.HasPrefix(title, "postgres: walsender"):
			ticks += t
		}
	}
	return float64(ticks) / clockTicks, nil
}

// isClientBackend says whether a process title is a client connection's:
// "postgres: USER DB HOST ACTIVITY", where auxiliary processes read
// "postgres: startup", "postgres: walreceiver", "postgres: checkpointer".
func isClientBackend(title string) bool {
	return strings.HasPrefix(title, "postgres: postgres ")
}

// postmasterPID is the first line of the cluster's postmaster.pid.
func postmasterPID(data string) (int, error) {
	b, err := os.ReadFile(filepath.Join(data, "postmaster.pid"))
	if err != nil {
		return 0, err
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	pid, err := strconv.Atoi(strings.TrimSpace(string(line)))
	if err != nil {
		return 0, fmt.Errorf("%s/postmaster.pid: %w", data, err)
	}
	return pid, nil
}

// readStat reads pid, ppid and utime+stime from /proc/PID/stat. The command
// name in parentheses may hold spaces, so fields count from its last ')'.
func readStat(path string) (pid, ppid int, ticks int64, ok bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, 0, 0, false
	}
	open, end := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
	if open < 1 || end < open {
		return 0, 0, 0, false
	}
	pid, err = strconv.Atoi(strings.TrimSpace(string(b[:open])))
	f := strings.Fields(string(b[end+1:])) // f[0] is field 3, the state
	if err != nil || len(f) < 13 {
		return 0, 0, 0, false
	}
	ppid, err1 := strconv.Atoi(f[1])
	utime, err2 := strconv.ParseInt(f[11], 10, 64)
	stime, err3 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return 0, 0, 0, false
	}
	return pid, ppid, utime + stime, true
}

// processTitle is the process's command line as ps shows it.
func processTitle(pid int) string {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	return strings.TrimSpace(string(bytes.ReplaceAll(b, []byte{0}, []byte{' '})))
}
