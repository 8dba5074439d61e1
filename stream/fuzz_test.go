package stream_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/metrics"
	"testing"

	"github.com/ulikunitz/xz"

	"github.com/hotpipe/hotpipe/stream"
	"github.com/hotpipe/hotpipe/txframe"
)

// FuzzReader reads arbitrary bytes as one input, and the same bytes split
// into two inputs. The reader must never panic; must not allocate more than
// the bytes it is given justify; must report every problem as a
// *stream.Error wrapping a sentinel; and every frame it yields must follow
// the one before it, chained from the first header's base hash.
func FuzzReader(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte, split uint16) {
		data = data[:len(data):len(data)]
		checkReaderProperties(t, data, inputs(data))
		k := int(split) % (len(data) + 1)
		checkReaderProperties(t, data, inputs(data[:k], data[k:]))
	})
}

// FuzzReadTail gives ReadTail arbitrary file bytes. It must never panic; a
// tail it returns must account for every byte (Keep + Torn = size) and keep
// at least the last segment's header, or remove only the start of a header
// or zeros; and where it scanned the file (it is torn or its last segment
// open), the whole file it keeps must read as a stream that ends at Last
// once closed, as hot-backup --append does.
func FuzzReadTail(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		size := int64(len(data))
		tail, err := stream.ReadTail(bytes.NewReader(data), size, "f")
		if err != nil {
			if _, ok := errors.AsType[*stream.Error](err); !ok || sentinelOf(err) == nil {
				t.Fatalf("ReadTail: %v (%T) is not a *stream.Error with a sentinel", err, err)
			}
			return
		}
		if tail.Keep == 0 { // the start of a first header, or zeros: all torn
			if tail != (stream.Tail{Torn: size}) || size >= hdrLen && len(bytes.Trim(data, "\x00")) > 0 {
				t.Fatalf("ReadTail of %d bytes = %+v: removes bytes that are not a header's start or zeros", size, tail)
			}
			return
		}
		if tail.Keep+tail.Torn != size || tail.Torn < 0 || tail.SegStart < 0 || tail.Keep < tail.SegStart+hdrLen {
			t.Fatalf("ReadTail of %d bytes = SegStart %d, Keep %d, Torn %d", size, tail.SegStart, tail.Keep, tail.Torn)
		}
		if h, err := stream.DecodeHeader(data[tail.SegStart:]); err != nil || h != tail.Header {
			t.Fatalf("no header %+v at SegStart %d: %v", tail.Header, tail.SegStart, err)
		}
		if tail.Torn > 0 || !tail.Complete { // scanned from offset 0: every byte kept was read
			checkResumable(t, data, tail)
		}
	})
}

// FuzzDecompress mutates compressed streams (xz, gzip, bzip2; seeds under
// testdata/fuzz) to reach the decompression front end: the reader keeps
// every property FuzzReader checks, and whatever sizes or dictionaries the
// input declares, its allocations stay under a fixed bound.
func FuzzDecompress(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		before := allocated()
		checkReaderProperties(t, data[:len(data):len(data)], inputs(data))
		if got := allocated() - before; got > decompressBound {
			t.Fatalf("reading %d compressed bytes allocated %d MiB", len(data), got>>20)
		}
	})
}

// decompressBound is the most one FuzzDecompress input may allocate: the
// 1 MiB xz dictionary bound the checks use, bzip2's and gzip's fixed state,
// and the reader's buffers.
const decompressBound = 64 << 20

var sentinels = []error{
	stream.ErrTruncated, stream.ErrEmpty, stream.ErrFormat, stream.ErrChecksum,
	stream.ErrEndMismatch, stream.ErrGap, stream.ErrHistory,
	txframe.ErrIncomplete, txframe.ErrMagic, txframe.ErrTooLarge,
	txframe.ErrChecksum, txframe.ErrMalformed, txframe.ErrChain,
}

// sentinelOf returns the first sentinel err wraps, or nil.
func sentinelOf(err error) error {
	for _, s := range sentinels {
		if errors.Is(err, s) {
			return s
		}
	}
	return nil
}

// compressed reports whether data starts like a compressed input, whose
// decompressed size the reader's allocations follow instead of its own.
func compressed(data []byte) bool {
	for _, m := range [][]byte{{0xfd, '7', 'z', 'X', 'Z', 0}, {0x1f, 0x8b}, []byte("BZh")} {
		if bytes.HasPrefix(data, m) {
			return true
		}
	}
	return false
}

func checkReaderProperties(t *testing.T, data []byte, ins []stream.Input) {
	t.Helper()
	before := allocated()
	r := stream.NewReader(ins, stream.Options{XZDictMax: 1 << 20, ParallelHash: true})
	var (
		started bool
		next    uint64       // the LSN the next frame yielded must have
		prev    txframe.Hash // h(next-1)
		err     error
	)
	for events := 0; ; events++ {
		if events > 1<<20 {
			t.Fatalf("more than %d events from %d bytes", events, len(data))
		}
		var ev *stream.Event
		if ev, err = r.Next(); err != nil {
			break
		}
		switch {
		case ev.Kind == stream.KindHeader && !started:
			started, next, prev = true, ev.Header.Base+1, ev.Header.BaseHash
		case ev.Kind == stream.KindFrames:
			if !started || ev.First != next {
				t.Fatalf("frames %d..%d yielded where LSN %d was due", ev.First, ev.Last, next)
			}
			if err := checkFramesEvent(ev); err != nil {
				t.Fatal(err)
			}
			for b := ev.Frames; len(b) > 0; {
				n, _ := txframe.FrameLen(b)
				if err := txframe.VerifyChain(prev, b[:n]); err != nil {
					t.Fatalf("frame of LSN %d yielded: %v", next, err)
				}
				prev, next, b = txframe.StoredHash(b[:n]), next+1, b[n:]
			}
		case ev.Kind == stream.KindEnd && ev.End.Last >= next:
			t.Fatalf("end record of a segment up to LSN %d, when the stream is at %d", ev.End.Last, next-1)
		}
	}
	if err != io.EOF {
		se, ok := errors.AsType[*stream.Error](err)
		if !ok || sentinelOf(err) == nil {
			t.Fatalf("Next: %v (%T) is not a *stream.Error with a sentinel", err, err)
		}
		if !compressed(data) && (se.Offset < 0 || se.Offset > int64(len(data))) {
			t.Fatalf("error offset %d outside the %d input bytes: %v", se.Offset, len(data), err)
		}
	}
	if last, h := r.Last(); started && (last != next-1 || h != prev) {
		t.Fatalf("Last() = %d, %s; the last frame yielded is %d, %s", last, h, next-1, prev)
	}
	if len(ins) == 1 && !compressed(data) {
		if got, limit := allocated()-before, 4<<20+4*uint64(len(data)); got > limit {
			t.Fatalf("reading %d bytes allocated %d bytes", len(data), got)
		}
	}
}

// allocated returns the bytes allocated on the heap so far, without
// stopping the world as runtime.ReadMemStats does.
func allocated() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// TestWriteFuzzSeeds writes the seed corpora under testdata/fuzz with
// -update. The seeds are small streams: valid, multi-segment, truncated,
// damaged and compressed.
func TestWriteFuzzSeeds(t *testing.T) {
	if !*update {
		t.Skip("run with -update to rewrite testdata/fuzz seeds")
	}
	h := newHistory(t, 8, 3)
	seg, open := h.segment(t, 0, 3), h.open(t, 3, 6)
	s := h.at(0, 0, 3)
	claim := binary.LittleEndian.AppendUint32(bytes.Clone(txframe.Magic[:]), txframe.MaxBodyLen)
	reader := map[string][]byte{
		"valid-one-segment":          seg,
		"valid-no-frames":            h.segment(t, 4, 4),
		"valid-multi-segment":        cat(seg, h.segment(t, 3, 6), h.segment(t, 5, 8)),
		"valid-increment":            h.segment(t, 5, 8),
		"valid-gzip":                 gzipGo(t, cat(seg, h.segment(t, 3, 5))),
		"truncated-no-end":           cat(seg, open),
		"truncated-in-frame":         seg[:s.frame(3)+20],
		"truncated-in-end":           seg[:s.end()+10],
		"truncated-in-header":        cat(seg, open[:60]),
		"invalid-gap":                cat(seg, h.segment(t, 5, 8)),
		"invalid-history":            cat(seg, h.fork(t, 1).segment(t, 2, 5)),
		"invalid-chain-resealed":     editFrame(seg, s, 2, true),
		"invalid-claimed-length":     cat(seg[:s.frame(1)], claim, seg[s.frame(1)+8:]),
		"invalid-end-mismatch":       raw(t, h.header(0), h.end(0, 2), h.block(1, 3)),
		"invalid-zstd":               {0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0, 0},
		"invalid-gzip-cut":           gzipGo(t, seg)[:40],
		"invalid-empty":              {},
		"invalid-zeros-after-stream": cat(seg, make([]byte, 16)),
	}
	for name, data := range reader {
		writeSeed(t, "FuzzReader", name, fmt.Sprintf("[]byte(%q)\nuint16(%d)\n", data, len(data)/2))
	}
	tail := map[string][]byte{
		"complete":          cat(seg, h.segment(t, 3, 6)),
		"open":              cat(seg, open),
		"torn-in-frame":     cat(seg, open[:hdrLen+30]),
		"torn-in-end":       cat(seg, h.segment(t, 3, 6)[:len(open)+50]),
		"torn-in-header":    cat(seg, open[:90]),
		"zeros-after-frame": cat(seg, open, make([]byte, 40)),
		"damaged-frame":     cat(seg, flip(open, hdrLen+20), seg[s.frame(1):s.frame(2)]),
		"no-header":         []byte("not a backup at all, not even a little"),
	}
	for name, data := range tail {
		writeSeed(t, "FuzzReadTail", name, fmt.Sprintf("[]byte(%q)\n", data))
	}
	multi := cat(seg, h.segment(t, 3, 6))
	secondStream, laterBlock := xzBombs(multi, len(seg))
	compressed := map[string][]byte{
		"gzip":               gzipGo(t, multi),
		"gzip-concatenated":  cat(gzipGo(t, seg), gzipGo(t, h.segment(t, 3, 6))),
		"xz":                 xzGo(t, multi, 0),
		"xz-concatenated":    cat(xzGo(t, seg, 0), xzGo(t, h.segment(t, 3, 6), 0)),
		"xz-dict-over-bound": xzGo(t, seg, 8<<20),
		// Issue 10, item 9: a 4 GiB dictionary declared after the first block.
		"xz-second-stream-dict-4gib": secondStream,
		"xz-later-block-dict-4gib":   laterBlock,
		"bzip2":                      bzip2Seed(t, multi),
	}
	for name, data := range compressed {
		writeSeed(t, "FuzzDecompress", name, fmt.Sprintf("[]byte(%q)\n", data))
	}
}

// xzGo compresses data with the Go xz writer; dict 0 is its default.
func xzGo(t *testing.T, data []byte, dict int) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw, err := xz.WriterConfig{DictCap: dict}.NewWriter(&buf)
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

// bzip2Seed compresses data with the bzip2 tool (Go has no bzip2 writer).
func bzip2Seed(t *testing.T, data []byte) []byte {
	t.Helper()
	cmd := exec.Command("bzip2", "-c")
	cmd.Stdin = bytes.NewReader(data)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("bzip2 (needed only to rewrite seeds): %v", err)
	}
	return out
}

func writeSeed(t *testing.T, fuzzer, name, values string) {
	t.Helper()
	dir := filepath.Join("testdata", "fuzz", fuzzer)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), []byte("go test fuzz v1\n"+values), 0o644); err != nil {
		t.Fatal(err)
	}
}
