package stream_test

import (
	"bytes"
	"io"
	"runtime"
	"testing"

	"filippo.io/age"

	"github.com/hotpipe/hotpipe/stream"
)

// TestReaderAgeYieldsLargeBlocks: an encrypted input is read in blocks of
// many chunks, as a plain file is, not one frames event per 64 KiB age
// chunk (a restore queues and writes one block per event).
func TestReaderAgeYieldsLargeBlocks(t *testing.T) {
	h := newHistory(t, 1500, 1000) // about 1.6 MiB: 25 age chunks
	x := newX25519(t)
	r := stream.NewReader(inputs(encrypt(t, h.segment(t, 0, 1500), x.Recipient())), stream.Options{Identities: []age.Identity{x}})
	events, frames := 0, []byte(nil)
	for {
		ev, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if ev.Kind == stream.KindFrames {
			events++
			frames = append(frames, ev.Frames...)
		}
	}
	if !bytes.Equal(frames, h.block(1, 1500)) {
		t.Fatalf("read %d bytes of frames; want LSN 1..1500", len(frames))
	}
	if most := len(frames)/(512<<10) + 2; events > most {
		t.Fatalf("%d frames events for %d bytes; want at most %d (blocks of 512 KiB)", events, len(frames), most)
	}
}

// TestReaderAgeAbandonedLeavesNoGoroutine abandons a Reader of an
// encrypted pipe after its first frames: once the pipe is closed, no
// goroutine of the Reader is left.
func TestReaderAgeAbandonedLeavesNoGoroutine(t *testing.T) {
	h := newHistory(t, 3000, 1000) // about 3 MiB: more than the Reader holds
	x := newX25519(t)
	enc := encrypt(t, h.segment(t, 0, 3000), x.Recipient())
	base := runtime.NumGoroutine()
	pr, pw := io.Pipe()
	wrote := make(chan error, 1)
	go func() {
		_, err := pw.Write(enc)
		wrote <- err
	}()
	r := stream.NewReader([]stream.Input{{Name: "pipe", R: pr}}, stream.Options{Identities: []age.Identity{x}})
	for {
		ev, err := r.Next()
		if err != nil {
			t.Fatal(err)
		}
		if ev.Kind == stream.KindFrames {
			break
		}
	}
	pr.Close() // what a caller does with an input it stops reading
	if err := <-wrote; err != io.ErrClosedPipe {
		t.Fatalf("writer: %v; want it cut off by the close", err)
	}
	for i := 0; runtime.NumGoroutine() > base; i++ {
		if i == 1_000_000 {
			t.Fatalf("%d goroutines, %d before the Reader", runtime.NumGoroutine(), base)
		}
		runtime.Gosched()
	}
}

// BenchmarkReaderAge reads 16 MiB of 64 KiB frames, plain and encrypted
// with age: decrypting ahead on another core, the encrypted read costs
// about the larger of decryption and the frame checks, not their sum.
func BenchmarkReaderAge(b *testing.B) {
	valueSize := 64<<10 - int(frameLen(0))
	n := int((16 << 20) / frameLen(valueSize))
	h := newHistory(b, n, valueSize)
	plain := h.segment(b, 0, uint64(n))
	x := newX25519(b)
	for _, bc := range []struct {
		name string
		data []byte
		opts stream.Options
	}{
		{name: "plain", data: plain},
		{name: "age", data: encrypt(b, plain, x.Recipient()), opts: stream.Options{Identities: []age.Identity{x}}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(plain)))
			for b.Loop() {
				r := stream.NewReader([]stream.Input{{Name: "bench", R: bytes.NewReader(bc.data)}}, bc.opts)
				for {
					if _, err := r.Next(); err == io.EOF {
						break
					} else if err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}
