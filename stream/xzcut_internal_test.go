package stream

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"os/exec"
	"testing"
)

// TestXZCutAnywhereIsTruncated: a multi-block xz file (as xz -T writes it)
// cut at any offset is truncated, never "not a stream": in particular a
// cut in the first bytes of a block's LZMA2 data, where the decoder's input
// runs out before its first chunk is whole and it reports a bare io.EOF.
func TestXZCutAnywhereIsTruncated(t *testing.T) {
	if _, err := exec.LookPath("xz"); err != nil {
		t.Skip("xz is not installed")
	}
	data := make([]byte, 8<<10)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range data {
		data[i] = byte(rng.IntN(4)) // compressible, not trivially
	}
	cmd := exec.Command("xz", "-c", "-T2", "--block-size=4KiB")
	cmd.Stdin = bytes.NewReader(data)
	z, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	for cut := 12; cut < len(z); cut++ {
		x, err := newXZReader(bufio.NewReader(bytes.NewReader(z[:cut])), DefaultXZDictMax)
		if err == nil {
			_, err = io.ReadAll(x)
		}
		if !errors.Is(err, ErrTruncated) || errors.Is(err, ErrFormat) {
			t.Fatalf("xz file of %d bytes cut at %d: %v; want only ErrTruncated", len(z), cut, err)
		}
	}
}
