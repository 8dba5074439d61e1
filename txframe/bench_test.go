package txframe_test

import (
	stdsha256 "crypto/sha256"
	"testing"

	"github.com/hotpipe/hotpipe/txframe"
)

// benchTxs are the benchmarked transactions: a small one-entry commit and a
// 64 KiB one.
var benchTxs = []struct {
	name    string
	entries []txframe.Entry
}{
	{name: "1x100B", entries: []txframe.Entry{{Op: txframe.OpPut, Key: []byte("user:0000000042"), Value: make([]byte, 100)}}},
	{name: "1x64KiB", entries: []txframe.Entry{{Op: txframe.OpPut, Key: []byte("blob:0000000042"), Value: make([]byte, 64<<10)}}},
}

func benchFrame(b *testing.B, entries []txframe.Entry) []byte {
	frame, _ := mustAppend(b, seqHash(), 42, goldenTime, entries...)
	return frame
}

func BenchmarkAppend(b *testing.B) {
	for _, tx := range benchTxs {
		b.Run(tx.name, func(b *testing.B) {
			dst := make([]byte, 0, len(benchFrame(b, tx.entries)))
			b.SetBytes(int64(cap(dst)))
			b.ReportAllocs()
			for b.Loop() {
				var err error
				if dst, _, err = txframe.Append(dst[:0], seqHash(), 42, goldenTime, tx.entries); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkDecode(b *testing.B) {
	for _, tx := range benchTxs {
		b.Run(tx.name, func(b *testing.B) {
			frame := benchFrame(b, tx.entries)
			b.SetBytes(int64(len(frame)))
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := txframe.Decode(frame); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkPeek(b *testing.B) {
	for _, tx := range benchTxs {
		b.Run(tx.name, func(b *testing.B) {
			frame := benchFrame(b, tx.entries)
			b.SetBytes(int64(len(frame)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := txframe.Peek(frame); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkChain(b *testing.B) {
	for _, tx := range benchTxs {
		b.Run(tx.name, func(b *testing.B) {
			body := txframe.Body(benchFrame(b, tx.entries))
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			prev := seqHash()
			for b.Loop() {
				prev = txframe.Chain(prev, body)
			}
		})
	}
}

// BenchmarkSHA256Stdlib is the single-core SHA-256 reference that chain
// hashing and verify are measured against. (minio/sha256-simd measured
// within 2-7% of it on SHA-NI hardware, so txframe uses the standard library.)
var shaSizes = []struct {
	name string
	data []byte
}{
	{name: "64B", data: make([]byte, 64)},
	{name: "64KiB", data: make([]byte, 64<<10)},
}

func BenchmarkSHA256Stdlib(b *testing.B) {
	for _, s := range shaSizes {
		b.Run(s.name, func(b *testing.B) {
			b.SetBytes(int64(len(s.data)))
			b.ReportAllocs()
			for b.Loop() {
				stdsha256.Sum256(s.data)
			}
		})
	}
}
