package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

// cmdWaitServe waits until a server started with --listen-file FILE has
// written its URL there, and sets VAR to it.
//
//	waitserve FILE VAR
func cmdWaitServe(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: waitserve FILE VAR")
	}
	path := ts.MkAbs(args[0])
	for deadline := time.Now().Add(waitTimeout); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		b, err := os.ReadFile(path)
		if err == nil && strings.HasSuffix(string(b), "\n") {
			ts.Setenv(args[1], strings.TrimSpace(string(b)))
			return
		}
	}
	ts.Fatalf("waitserve: no URL in %s after %v", args[0], waitTimeout)
}

// cmdFetch GETs URL, with the bearer token when one is given, prints the
// answer's status on stdout and writes its body to FILE, then prints the
// trailers.
//
//	fetch [-token TOKEN] URL FILE
func cmdFetch(ts *testscript.TestScript, neg bool, args []string) {
	token := ""
	if len(args) > 0 && args[0] == "-token" {
		if len(args) < 2 {
			ts.Fatalf("usage: fetch [-token TOKEN] URL FILE")
		}
		token, args = args[1], args[2:]
	}
	if neg || len(args) != 2 {
		ts.Fatalf("usage: fetch [-token TOKEN] URL FILE")
	}
	req, err := http.NewRequest(http.MethodGet, args[0], nil)
	ts.Check(err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	ts.Check(err)
	defer resp.Body.Close()
	f, err := os.Create(ts.MkAbs(args[1]))
	ts.Check(err)
	_, err = io.Copy(f, resp.Body)
	ts.Check(err)
	ts.Check(f.Close())
	fmt.Fprintf(ts.Stdout(), "status %d\n", resp.StatusCode)
	for k, v := range resp.Trailer {
		fmt.Fprintf(ts.Stdout(), "trailer %s: %s\n", k, strings.Join(v, ", "))
	}
}
