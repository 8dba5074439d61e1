package stream_test

import (
	"bytes"
	"compress/gzip"
	"os/exec"
	"runtime"
	"testing"

	"github.com/klauspost/compress/zstd"

	"github.com/hotpipe/hotpipe/stream"
	"github.com/hotpipe/hotpipe/txframe"
)

// compress runs a system compressor over data as a filter (stdin to
// stdout), skipping the test if the tool is not installed.
func compress(t *testing.T, data []byte, tool string, args ...string) []byte {
	t.Helper()
	if _, err := exec.LookPath(tool); err != nil {
		t.Skipf("%s is not installed", tool)
	}
	cmd := exec.Command(tool, args...)
	cmd.Stdin = bytes.NewReader(data)
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %v: %v: %s", tool, args, err, stderr.Bytes())
	}
	return out.Bytes()
}

// zstdGo compresses data with klauspost/compress's encoder, streaming,
// so that the frame header declares the window, not the content size.
func zstdGo(t *testing.T, data []byte, opts ...zstd.EOption) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw, err := zstd.NewWriter(&buf, opts...)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := zw.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func gzipGo(t *testing.T, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestReaderCompressedInput reads the same two segments compressed each
// way a backup may be, and the same segments compressed one by one and
// concatenated, as `cat a.gz b.gz` or a bzip2 --append would make them.
func TestReaderCompressedInput(t *testing.T) {
	h := newHistory(t, 20, 100)
	a, b := h.segment(t, 0, 10), h.segment(t, 10, 20)
	plain := cat(a, b)
	for _, c := range []struct {
		name string
		make func(t *testing.T) []byte
	}{
		{"xz", func(t *testing.T) []byte { return compress(t, plain, "xz", "-c") }},
		{"xz, multi-threaded blocks", func(t *testing.T) []byte { return compress(t, plain, "xz", "-c", "-T2", "--block-size=1000") }},
		{"gzip", func(t *testing.T) []byte { return compress(t, plain, "gzip", "-c") }},
		{"gzip from compress/gzip", func(t *testing.T) []byte { return gzipGo(t, plain) }},
		{"zstd", func(t *testing.T) []byte { return compress(t, plain, "zstd", "-q", "-c") }},
		{"zstd from klauspost/compress", func(t *testing.T) []byte { return zstdGo(t, plain) }},
		{"concatenated zstd frames", func(t *testing.T) []byte { return cat(zstdGo(t, a), compress(t, b, "zstd", "-q", "-c")) }},
		{"bzip2", func(t *testing.T) []byte { return compress(t, plain, "bzip2", "-c") }},
		{"bzip2 -1", func(t *testing.T) []byte { return compress(t, plain, "bzip2", "-c", "-1") }},
		{"concatenated gzip members", func(t *testing.T) []byte { return cat(gzipGo(t, a), compress(t, b, "gzip", "-c")) }},
		{"concatenated bzip2 streams", func(t *testing.T) []byte { return cat(compress(t, a, "bzip2", "-c"), compress(t, b, "bzip2", "-c")) }},
		{"concatenated xz streams", func(t *testing.T) []byte { return cat(compress(t, a, "xz", "-c"), compress(t, b, "xz", "-c")) }},
		{"gzip member split mid-segment", func(t *testing.T) []byte { return cat(gzipGo(t, plain[:1000]), gzipGo(t, plain[1000:])) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			res := readAll(t, inputs(c.make(t)), stream.Options{})
			checkErr(t, res.err, nil)
			if res.first != 1 || res.last != 20 || !bytes.Equal(res.frames, h.block(1, 20)) || len(res.ends) != 2 {
				t.Errorf("yielded LSNs %d..%d in %d segments; want 1..20 in 2", res.first, res.last, len(res.ends))
			}
		})
	}
}

// TestReaderCompressedInputErrors: offsets name bytes of the decompressed
// stream, and a compressed input cut short is a truncated stream wherever
// the cut falls, even in the compressor's own trailer.
func TestReaderCompressedInputErrors(t *testing.T) {
	h := newHistory(t, 20, 100)
	s1 := h.at(0, 0, 10)
	s2 := s1.then(10, 20)
	plain := cat(h.segment(t, 0, 10), h.segment(t, 10, 20))
	damaged := editFrame(plain, s2, 15, false)
	for _, c := range []struct {
		name        string
		make        func(t *testing.T) []byte
		first, last uint64
		err         *wantErr
	}{
		{"gzip of a damaged frame", func(t *testing.T) []byte { return gzipGo(t, damaged) },
			1, 14, &wantErr{txframe.ErrChecksum, "in0", s2.frame(15), 15}},
		{"bzip2 of a damaged frame", func(t *testing.T) []byte { return compress(t, damaged, "bzip2", "-c") },
			1, 14, &wantErr{txframe.ErrChecksum, "in0", s2.frame(15), 15}},
		{"xz of a damaged frame", func(t *testing.T) []byte { return compress(t, damaged, "xz", "-c") },
			1, 14, &wantErr{txframe.ErrChecksum, "in0", s2.frame(15), 15}},
		{"gzip of a stream without its end record", func(t *testing.T) []byte { return gzipGo(t, plain[:s2.end()]) },
			1, 20, &wantErr{stream.ErrTruncated, "in0", s2.end(), 21}},
		{"gzip cut in its trailer", func(t *testing.T) []byte { z := gzipGo(t, plain); return z[:len(z)-4] },
			1, 20, &wantErr{stream.ErrTruncated, "in0", s2.next(), 21}},
		{"bzip2 cut in its trailer", func(t *testing.T) []byte { z := compress(t, plain, "bzip2", "-c"); return z[:len(z)-2] },
			1, 20, &wantErr{stream.ErrTruncated, "in0", s2.next(), 21}},
		{"xz cut in its index", func(t *testing.T) []byte { z := compress(t, plain, "xz", "-c"); return z[:len(z)-20] },
			1, 20, &wantErr{stream.ErrTruncated, "in0", s2.next(), 21}},
		{"zstd of a damaged frame", func(t *testing.T) []byte { return zstdGo(t, damaged) },
			1, 14, &wantErr{txframe.ErrChecksum, "in0", s2.frame(15), 15}},
		{"zstd cut in its checksum", func(t *testing.T) []byte { z := zstdGo(t, plain); return z[:len(z)-3] },
			0, 0, &wantErr{stream.ErrTruncated, "in0", 0, 0}},
		{"gzip header alone", func(t *testing.T) []byte { return gzipGo(t, plain)[:10] },
			0, 0, &wantErr{stream.ErrTruncated, "in0", 0, 0}},
		{"gzip magic and nothing else", func(t *testing.T) []byte { return []byte{0x1f, 0x8b} },
			0, 0, &wantErr{stream.ErrFormat, "in0", 0, 0}},
	} {
		t.Run(c.name, func(t *testing.T) {
			res := readAll(t, inputs(c.make(t)), stream.Options{})
			checkErr(t, res.err, c.err)
			if res.first != c.first || res.last != c.last {
				t.Errorf("yielded LSNs %d..%d; want %d..%d", res.first, res.last, c.first, c.last)
			}
		})
	}
}

// TestReaderZstdWindowBound: a zstd frame whose window is larger than the
// bound (Options.XZDictMax, the one memory bound of every decoder) is
// refused before the decoder allocates it; one within it is read.
func TestReaderZstdWindowBound(t *testing.T) {
	h := newHistory(t, 5, 100)
	plain := h.segment(t, 0, 5)
	// The encoder shrinks the window to the content; the header is made to
	// declare 128 MiB (window descriptor 0x88: 2^(10+17)), as
	// zstd --long=27 writes it.
	big := zstdGo(t, plain, zstd.WithSingleSegment(false))
	if big[4]&0x20 != 0 {
		t.Fatalf("frame header %x has no window descriptor", big[:6])
	}
	big[5] = 0x88
	for _, c := range []struct {
		name  string
		input []byte
		max   int
		err   *wantErr
	}{
		{"128 MiB window, default bound", big, 0, &wantErr{stream.ErrFormat, "in0", 0, 0}},
		{"128 MiB window, 128 MiB bound", big, 128 << 20, nil},
		{"default window, default bound", zstdGo(t, plain), 0, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			res := readAll(t, inputs(c.input), stream.Options{XZDictMax: c.max})
			runtime.ReadMemStats(&after)
			checkErr(t, res.err, c.err)
			if c.err == nil && res.last != 5 {
				t.Errorf("yielded up to LSN %d; want 5", res.last)
			}
			if c.err != nil && after.TotalAlloc-before.TotalAlloc > 32<<20 {
				t.Errorf("refusing the frame allocated %d MiB", (after.TotalAlloc-before.TotalAlloc)>>20)
			}
		})
	}
}

// TestReaderXZDictionaryBound: an xz input whose block needs a dictionary
// larger than Options.XZDictMax is refused before the decoder allocates
// it; one within the bound is read.
func TestReaderXZDictionaryBound(t *testing.T) {
	h := newHistory(t, 5, 100)
	plain := h.segment(t, 0, 5)
	big := compress(t, plain, "xz", "-c", "--lzma2=dict=128MiB") // 128 MiB > DefaultXZDictMax
	normal := compress(t, plain, "xz", "-c", "-6")               // 8 MiB
	for _, c := range []struct {
		name  string
		input []byte
		max   int
		err   *wantErr
	}{
		{"128 MiB dictionary, default bound", big, 0, &wantErr{stream.ErrFormat, "in0", 0, 0}},
		{"128 MiB dictionary, 128 MiB bound", big, 128 << 20, nil},
		{"8 MiB dictionary, default bound", normal, 0, nil},
		{"8 MiB dictionary, 4 MiB bound", normal, 4 << 20, &wantErr{stream.ErrFormat, "in0", 0, 0}},
	} {
		t.Run(c.name, func(t *testing.T) {
			res := readAll(t, inputs(c.input), stream.Options{XZDictMax: c.max})
			checkErr(t, res.err, c.err)
			if c.err == nil && res.last != 5 {
				t.Errorf("yielded up to LSN %d; want 5", res.last)
			}
		})
	}
}
