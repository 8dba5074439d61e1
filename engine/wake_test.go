package engine

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// waiter runs db.WaitDurable(after) in a goroutine once the handle's
// beforeWait hook is installed; armed is closed the first time it is
// about to wait, and the result arrives on the returned channel.
type waitResult struct {
	lsn uint64
	err error
}

func startWait(db *DB, after uint64) <-chan waitResult {
	res := make(chan waitResult, 1)
	go func() {
		lsn, err := db.WaitDurable(context.Background(), after, time.Hour)
		res <- waitResult{lsn, err}
	}()
	return res
}

// armedHook returns a beforeWait hook and a channel it closes the first
// time it runs.
func armedHook() (func(), <-chan struct{}) {
	armed := make(chan struct{})
	first := true
	return func() {
		if first {
			first = false
			close(armed)
		}
	}, armed
}

func wantLSN(t *testing.T, res <-chan waitResult, want uint64) {
	t.Helper()
	r := <-res
	if r.err != nil || r.lsn != want {
		t.Fatalf("WaitDurable = %d, %v; want %d", r.lsn, r.err, want)
	}
}

// TestWaitDurableWakesOnCommit: a read-only follower whose poll would
// come only after an hour wakes on the writer's commit: the watch on
// DURABLE reported it (Linux), or, for the writer's own handle, its flush.
func TestWaitDurableWakesOnCommit(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("DURABLE is watched on Linux only")
	}
	w, dir := newDB(t, Options{}, CreateOptions{})
	commitN(t, w, 1, 1)
	hook, armed := armedHook()
	ro := reopen(t, dir, Options{ReadOnly: true, pollEvery: time.Hour, beforeWait: hook})
	res := startWait(ro, 1)
	<-armed
	commitN(t, w, 2, 1)
	wantLSN(t, res, 2)
	if p, e := ro.wake.polls.Load(), ro.wake.events.Load(); p != 0 || e == 0 {
		t.Fatalf("polls %d, watch events %d: want 0 polls and an event", p, e)
	}
}

// TestWaitDurableWriterHandle: WaitDurable on the writer's own handle
// wakes on a commit through it, without polling.
func TestWaitDurableWriterHandle(t *testing.T) {
	hook, armed := armedHook()
	w, _ := newDB(t, Options{pollEvery: time.Hour, beforeWait: hook}, CreateOptions{})
	res := startWait(w, 0)
	<-armed
	commitN(t, w, 1, 1)
	wantLSN(t, res, 1)
	if p := w.wake.polls.Load(); p != 0 {
		t.Fatalf("polls %d, want 0", p)
	}
}

// TestWaitDurablePollFallback: without a watch (another platform, or
// inotify failing), WaitDurable finds the commit by polling, and tries
// the watch once, not at every look.
func TestWaitDurablePollFallback(t *testing.T) {
	w, dir := newDB(t, Options{}, CreateOptions{})
	hook, armed := armedHook()
	tries := 0
	failing := func(string, func(), func()) (watchCloser, error) {
		tries++
		return nil, errors.New("no watch")
	}
	ro := reopen(t, dir, Options{ReadOnly: true, watch: failing, pollEvery: time.Millisecond, beforeWait: hook})
	res := startWait(ro, 0)
	<-armed
	commitN(t, w, 1, 1)
	wantLSN(t, res, 1)
	if p, e := ro.wake.polls.Load(), ro.wake.events.Load(); p == 0 || e != 0 || tries != 1 {
		t.Fatalf("polls %d, watch events %d, watches tried %d: want polls, no event, one try", p, e, tries)
	}
}

// TestWaitDurableFileReplaced: when DURABLE is replaced by another file
// (an operator's copy, a writer recreating it), the watch on the old one
// ends, the waiter looks again and watches the new one: a commit into it
// wakes the follower without a poll.
func TestWaitDurableFileReplaced(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("DURABLE is watched on Linux only")
	}
	w, dir := newDB(t, Options{}, CreateOptions{})
	commitN(t, w, 1, 1)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	hook, armed := armedHook()
	ro := reopen(t, dir, Options{ReadOnly: true, pollEvery: time.Hour, beforeWait: hook})
	res := startWait(ro, 1)
	<-armed
	path := filepath.Join(dir, "db", durableFile)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path+".new", b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path+".new", path); err != nil {
		t.Fatal(err)
	}
	w = reopen(t, dir, Options{})
	commitN(t, w, 2, 1)
	wantLSN(t, res, 2)
	if p := ro.wake.polls.Load(); p != 0 {
		t.Fatalf("polls %d, want 0", p)
	}
}
