package main

import (
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/hotpipe/hotpipe/engine"
	"github.com/hotpipe/hotpipe/internal/s3test"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"hotpipe": func() { os.Exit(run(os.Args, os.Stdin, os.Stdout, os.Stderr)) },
	})
}

// TestScripts runs the CLI scenarios in testdata/scripts, each against the
// real main installed as "hotpipe" and a data directory of its own.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/scripts",
		RequireExplicitExec: true,
		RequireUniqueNames:  true,
		Setup: func(env *testscript.Env) error {
			env.Setenv("HOTPIPE_DATA_DIR", filepath.Join(env.WorkDir, "data"))
			// Under -race every hotpipe process would otherwise sleep a
			// second at exit waiting for late race reports.
			env.Setenv("GORACE", "atexit_sleep_ms=0")
			if strings.Contains(filepath.Base(env.WorkDir), "s3_") {
				startS3(env)
			}
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"fails":       cmdFails,
			"truncate":    cmdTruncate,
			"flipbyte":    cmdFlipByte,
			"appendhex":   cmdAppendHex,
			"waitlocked":  cmdWaitLocked,
			"samestate":   cmdSameState,
			"waitlsn":     cmdWaitLSN,
			"perm":        cmdPerm,
			"waitframes":  cmdWaitFrames,
			"waitadvance": cmdWaitAdvance,
			"craft":       cmdCraft,
			"waitrepo":    cmdWaitRepo,
			"waitserve":   cmdWaitServe,
			"fetch":       cmdFetch,
			"gencert":     cmdGenCert,
			"progress":    cmdProgress,
			"agedecrypt":  cmdAgeDecrypt,
			"agekey":      cmdAgeKey,
			"ageenc":      cmdAgeEnc,
		},
	})
}

// startS3 gives an s3_ scenario an S3 server of its own (versitygw on a
// loopback port, stopped when the scenario ends) with a bucket "backups",
// and the environment that points hotpipe at it.
func startS3(env *testscript.Env) {
	tb := env.T().(testing.TB)
	srv := s3test.Start(tb)
	srv.MakeBucket(tb, "backups")
	env.Setenv("HOTPIPE_S3_ENDPOINT", srv.Endpoint)
	env.Setenv("AWS_REGION", s3test.Region)
	env.Setenv("AWS_ACCESS_KEY_ID", s3test.AccessKey)
	env.Setenv("AWS_SECRET_ACCESS_KEY", s3test.SecretKey)
}

// cmdFails runs a program and requires it to exit with the given code:
//
//	fails CODE PROG [ARGS...]
func cmdFails(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: fails CODE PROG [ARGS...]")
	}
	want, err := strconv.Atoi(args[0])
	if err != nil || want == 0 {
		ts.Fatalf("fails: CODE must be a non-zero exit code, got %q", args[0])
	}
	err = ts.Exec(args[1], args[2:]...)
	var exit *exec.ExitError
	if !errors.As(err, &exit) {
		ts.Fatalf("%s: want exit code %d, got %v", args[1], want, err)
	}
	if got := exit.ExitCode(); got != want {
		ts.Fatalf("%s: want exit code %d, got %d", args[1], want, got)
	}
}

// cmdTruncate cuts a file to a size, or by a number of bytes with a minus:
//
//	truncate FILE SIZE|-BYTES
func cmdTruncate(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: truncate FILE SIZE|-BYTES")
	}
	path := ts.MkAbs(args[0])
	n, err := strconv.ParseInt(args[1], 10, 64)
	ts.Check(err)
	if n < 0 {
		fi, err := os.Stat(path)
		ts.Check(err)
		n += fi.Size()
	}
	ts.Check(os.Truncate(path, n))
}

// cmdFlipByte inverts the byte at an offset (negative: from the end):
//
//	flipbyte FILE OFFSET
func cmdFlipByte(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: flipbyte FILE OFFSET")
	}
	path := ts.MkAbs(args[0])
	b, err := os.ReadFile(path)
	ts.Check(err)
	off, err := strconv.Atoi(args[1])
	ts.Check(err)
	if off < 0 {
		off += len(b)
	}
	if off < 0 || off >= len(b) {
		ts.Fatalf("flipbyte: offset %s outside %d-byte file", args[1], len(b))
	}
	b[off] ^= 0xff
	ts.Check(os.WriteFile(path, b, 0o600))
}

// cmdAppendHex appends bytes given in hex to a file:
//
//	appendhex FILE HEX
func cmdAppendHex(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: appendhex FILE HEX")
	}
	b, err := hex.DecodeString(args[1])
	ts.Check(err)
	f, err := os.OpenFile(ts.MkAbs(args[0]), os.O_WRONLY|os.O_APPEND, 0)
	ts.Check(err)
	_, err = f.Write(b)
	ts.Check(errors.Join(err, f.Close()))
}

// cmdWaitLocked waits until a writer holds the database's lock, so a script
// can act while a background writer runs without guessing a sleep:
//
//	waitlocked DB
func cmdWaitLocked(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: waitlocked DB")
	}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		_, held, err := engine.LockHolder(ts.Getenv("HOTPIPE_DATA_DIR"), args[0])
		ts.Check(err)
		if held {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	ts.Fatalf("waitlocked: no writer took %s's lock within 30s", args[0])
}

// cmdSameState requires two databases to agree at the second's last LSN
// (the first may have gone on): same LSN reached, same state hash there.
//
//	samestate DB1 DB2
func cmdSameState(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: samestate DB1 DB2")
	}
	dir := ts.Getenv("HOTPIPE_DATA_DIR")
	open := func(name string) *engine.DB {
		db, err := engine.Open(dir, name, engine.Options{ReadOnly: true})
		ts.Check(err)
		return db
	}
	a, b := open(args[0]), open(args[1])
	defer a.Close()
	defer b.Close()
	lsn, hb, err := b.State()
	ts.Check(err)
	ha, err := a.HashAt(lsn)
	same := err == nil && ha == hb
	if same == neg {
		ts.Fatalf("%s and %s at LSN %d: %s has %s (%v), %s has %s", args[0], args[1], lsn, args[0], ha, err, args[1], hb)
	}
	ts.Logf("%s and %s at LSN %d: %s", args[0], args[1], lsn, hb)
}

// cmdWaitLSN waits until a database's durable LSN reaches n, so a script can
// act on a running pipeline without guessing a sleep:
//
//	waitlsn DB N
func cmdWaitLSN(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: waitlsn DB N")
	}
	n, err := strconv.ParseUint(args[1], 10, 64)
	ts.Check(err)
	deadline := time.Now().Add(60 * time.Second)
	var lsn uint64
	for time.Now().Before(deadline) {
		db, err := engine.Open(ts.Getenv("HOTPIPE_DATA_DIR"), args[0], engine.Options{ReadOnly: true})
		if err == nil {
			lsn, _, err = db.State()
			db.Close()
		}
		if err == nil && lsn >= n {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	ts.Fatalf("waitlsn: %s reached only LSN %d of %d within 60s", args[0], lsn, n)
}

// cmdPerm requires a file's permission bits to be MODE (octal):
//
//	perm MODE FILE
func cmdPerm(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: perm MODE FILE")
	}
	want, err := strconv.ParseUint(args[0], 8, 32)
	if err != nil {
		ts.Fatalf("perm: bad MODE %q", args[0])
	}
	fi, err := os.Stat(ts.MkAbs(args[1]))
	ts.Check(err)
	if got := fi.Mode().Perm(); got != os.FileMode(want) {
		ts.Fatalf("%s has mode %#o, want %#o", args[1], got, want)
	}
}
