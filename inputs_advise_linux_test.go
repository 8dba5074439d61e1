package main

import (
	"os"
	"path/filepath"
	"testing"
)

// TestAdviseSequential: the kernel takes the hint on a regular file and
// refuses it on a pipe (ESPIPE), the error hintInput ignores.
func TestAdviseSequential(t *testing.T) {
	name := filepath.Join(t.TempDir(), "in")
	if err := os.WriteFile(name, []byte("bytes"), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := adviseSequential(f); err != nil {
		t.Errorf("regular file: %v", err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	if err := adviseSequential(r); err == nil {
		t.Error("pipe: the hint was taken, want ESPIPE")
	}
}
