//go:build linux

package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// TestLowerPriorityEveryThread: after hot-backup --nice's lowerPriority,
// every thread of the process is at nice 19, and so are the threads the Go
// runtime starts afterwards. It runs in a child process, which it renices.
func TestLowerPriorityEveryThread(t *testing.T) {
	if os.Getenv("HOTPIPE_TEST_NICE_CHILD") == "1" {
		niceChild()
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestLowerPriorityEveryThread$")
	cmd.Env = append(os.Environ(), "HOTPIPE_TEST_NICE_CHILD=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	var threads, at19 int
	for _, line := range strings.Split(string(out), "\n") {
		var tid, nice int
		if _, err := fmt.Sscanf(line, "thread %d nice %d", &tid, &nice); err != nil {
			continue
		}
		threads++
		if nice == niceLowest {
			at19++
		}
	}
	if threads < 6 || at19 != threads {
		t.Fatalf("%d of %d threads at nice %d; want all, and at least 6 (some started after):\n%s", at19, threads, niceLowest, out)
	}
}

// niceChild lowers its priority, starts threads, and prints each thread's
// nice value.
func niceChild() {
	if err := lowerPriority(); err != nil {
		fmt.Println("lowerPriority:", err)
		os.Exit(1)
	}
	var started, done sync.WaitGroup
	release := make(chan struct{})
	for range 4 { // each holds a thread of its own: the runtime starts new ones
		started.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			runtime.LockOSThread()
			started.Done()
			<-release
		}()
	}
	started.Wait()
	tasks, err := filepath.Glob("/proc/self/task/*/stat")
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	for _, p := range tasks {
		b, err := os.ReadFile(p)
		if err != nil {
			continue // the thread ended
		}
		// Fields after the command's closing parenthesis: state is the
		// first, nice the 17th (field 19 of proc(5)).
		i := bytes.LastIndexByte(b, ')')
		f := strings.Fields(string(b[i+1:]))
		fmt.Printf("thread %s nice %s\n", filepath.Base(filepath.Dir(p)), f[16])
	}
	close(release)
	done.Wait()
}
