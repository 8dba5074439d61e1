package main

import (
	"context"
	"os"
	"strconv"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/hotpipe/hotpipe/repo"
)

// cmdWaitRepo waits until the repository at URL can restore database db
// through LSN n: the archive or backup writing it got that far.
//
//	waitrepo URL DB N
func cmdWaitRepo(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: waitrepo URL DB N")
	}
	n, err := strconv.ParseUint(args[2], 10, 64)
	ts.Check(err)
	url := args[0]
	if _, err := os.Stat(ts.MkAbs(url)); err == nil || !isS3(url) {
		url = ts.MkAbs(url)
	}
	opts := repo.StoreOptions{}.WithEnv(ts.Getenv) // the script's environment, not the test process's
	opts.S3.AccessKeyID, opts.S3.SecretAccessKey = ts.Getenv("AWS_ACCESS_KEY_ID"), repo.Secret(ts.Getenv("AWS_SECRET_ACCESS_KEY"))
	st, err := repo.OpenStore(context.Background(), url, opts)
	ts.Check(err)
	r := repo.New(st)
	var last uint64
	var lastErr error
	for deadline := time.Now().Add(waitTimeout); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		c, err := r.Catalog(context.Background(), args[1])
		if err != nil {
			lastErr = err
			continue
		}
		for _, h := range c.Histories {
			if l, _ := h.Restorable(); l > last {
				last = l
			}
		}
		if last >= n {
			return
		}
	}
	ts.Fatalf("waitrepo: %s holds %s only through LSN %d, not %d, after %v (last error: %v)", args[0], args[1], last, n, waitTimeout, lastErr)
}

func isS3(url string) bool { return len(url) > 5 && url[:5] == "s3://" }
