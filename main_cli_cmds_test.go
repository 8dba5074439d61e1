package main

import (
	"os"
	"strconv"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/hotpipe/hotpipe/engine"
	"github.com/hotpipe/hotpipe/stream"
)

// waitTimeout bounds every wait: a scenario whose event never comes fails,
// it does not hang.
const waitTimeout = 60 * time.Second

// cmdWaitFrames waits until a backup file being written holds whole frames
// through LSN n: the backup is running, holds the file's lock, and got that
// far.
//
//	waitframes FILE N
func cmdWaitFrames(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: waitframes FILE N")
	}
	n, err := strconv.ParseUint(args[1], 10, 64)
	ts.Check(err)
	path := ts.MkAbs(args[0])
	var last uint64
	for deadline := time.Now().Add(waitTimeout); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if last = fileLastLSN(path); last >= n {
			return
		}
	}
	ts.Fatalf("waitframes: %s reached only LSN %d of %d within %v", args[0], last, n, waitTimeout)
}

// fileLastLSN is the last whole frame's LSN in a backup file, or 0.
func fileLastLSN(path string) uint64 {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || fi.Size() == 0 {
		return 0
	}
	tail, err := stream.ReadTail(f, fi.Size(), path)
	if err != nil {
		return 0
	}
	return tail.Last
}

// cmdWaitAdvance waits until a database's durable LSN is n past where it
// was when the command started (an absent database is at 0). Unlike
// waitlsn, it cannot be satisfied by what an earlier step left: it proves
// that whatever runs in the background is writing the database now.
//
//	waitadvance DB N
func cmdWaitAdvance(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: waitadvance DB N")
	}
	n, err := strconv.ParseUint(args[1], 10, 64)
	ts.Check(err)
	dir := ts.Getenv("HOTPIPE_DATA_DIR")
	from := durableLSN(dir, args[0])
	lsn := from
	for deadline := time.Now().Add(waitTimeout); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if lsn = durableLSN(dir, args[0]); lsn >= from+n {
			ts.Logf("%s advanced from LSN %d to %d", args[0], from, lsn)
			return
		}
	}
	ts.Fatalf("waitadvance: %s went only from LSN %d to %d within %v, not %d further", args[0], from, lsn, waitTimeout, n)
}

// durableLSN is a database's last durable LSN, or 0 when it cannot be read
// (absent, or being created).
func durableLSN(dir, name string) uint64 {
	db, err := engine.Open(dir, name, engine.Options{ReadOnly: true})
	if err != nil {
		return 0
	}
	defer db.Close()
	lsn, _, err := db.State()
	if err != nil {
		return 0
	}
	return lsn
}
