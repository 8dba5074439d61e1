package stream_test

import (
	"bytes"
	"io"
	"testing"

	"github.com/hotpipe/hotpipe/stream"
)

// benchHistories are about 1 MiB of frames each: small transactions, and
// frames of 64 KiB.
var benchHistories = []struct {
	name      string
	valueSize int
}{
	{"100B-values", 100},
	{"64KiB-frames", 64<<10 - int(frameLen(0))},
}

func benchHistory(b *testing.B, valueSize int) *history {
	return newHistory(b, int((1<<20)/frameLen(valueSize)), valueSize)
}

// BenchmarkReader reads a 1 MiB segment: every frame's CRC, entries and
// chained hash checked.
func BenchmarkReader(b *testing.B) {
	for _, bh := range benchHistories {
		b.Run(bh.name, func(b *testing.B) {
			h := benchHistory(b, bh.valueSize)
			n := uint64(len(h.frames))
			data := h.segment(b, 0, n)
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				r := stream.NewReader([]stream.Input{{Name: "bench", R: bytes.NewReader(data)}}, stream.Options{})
				for {
					_, err := r.Next()
					if err == io.EOF {
						break
					}
					if err != nil {
						b.Fatal(err)
					}
				}
				if last, _ := r.Last(); last != n {
					b.Fatalf("read to LSN %d of %d", last, n)
				}
			}
		})
	}
}

// BenchmarkWriter writes a 1 MiB segment, as one block and frame by frame.
func BenchmarkWriter(b *testing.B) {
	for _, bh := range benchHistories {
		h := benchHistory(b, bh.valueSize)
		n := uint64(len(h.frames))
		block := h.block(1, n)
		size := int64(len(h.segment(b, 0, n)))
		for _, mode := range []string{"one-block", "frame-by-frame"} {
			b.Run(bh.name+"/"+mode, func(b *testing.B) {
				b.SetBytes(size)
				b.ReportAllocs()
				for b.Loop() {
					w, err := stream.NewWriter(io.Discard, h.header(0))
					if err != nil {
						b.Fatal(err)
					}
					if mode == "one-block" {
						err = w.WriteFrames(block)
					}
					for i := 0; mode == "frame-by-frame" && i < len(h.frames) && err == nil; i++ {
						err = w.WriteFrames(h.frames[i])
					}
					if err != nil {
						b.Fatal(err)
					}
					if err := w.Close(); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
