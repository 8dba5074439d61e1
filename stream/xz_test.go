package stream_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"hash/crc64"
	"os/exec"
	"testing"

	"github.com/hotpipe/hotpipe/stream"
)

// xzBlock is one block of a hand-built xz stream: its data, stored in
// LZMA2 uncompressed chunks, and the dictionary property its header
// declares (40: 4 GiB - 1), whatever the data needs.
type xzBlock struct {
	data  []byte
	prop  byte
	sizes bool // declare the compressed and uncompressed sizes
}

// xz check types.
const (
	xzNone   = 0x00
	xzCRC32  = 0x01
	xzCRC64  = 0x04
	xzSHA256 = 0x0a
)

// xzStream builds a valid xz stream by hand, block by block, so that a
// test can make any block declare any dictionary (xz-file-format-1.2.1).
func xzStream(check byte, blocks ...xzBlock) []byte {
	flags := []byte{0, check}
	out := append([]byte{0xfd, '7', 'z', 'X', 'Z', 0}, flags...)
	out = binary.LittleEndian.AppendUint32(out, crc32.ChecksumIEEE(flags))
	index := []byte{0}
	index = binary.AppendUvarint(index, uint64(len(blocks)))
	for _, b := range blocks {
		data := lzma2Uncompressed(b.data)
		head := xzBlockHeader(b.prop, b.sizes, len(data), len(b.data))
		sum := xzCheck(check, b.data)
		out = append(out, head...)
		out = append(out, data...)
		out = append(out, make([]byte, -len(data)&3)...)
		out = append(out, sum...)
		index = binary.AppendUvarint(index, uint64(len(head)+len(data)+len(sum)))
		index = binary.AppendUvarint(index, uint64(len(b.data)))
	}
	index = append(index, make([]byte, -len(index)&3)...)
	index = binary.LittleEndian.AppendUint32(index, crc32.ChecksumIEEE(index))
	out = append(out, index...)
	footer := binary.LittleEndian.AppendUint32(nil, uint32(len(index)/4-1))
	footer = append(footer, flags...)
	out = binary.LittleEndian.AppendUint32(out, crc32.ChecksumIEEE(footer))
	return append(append(out, footer...), 'Y', 'Z')
}

// lzma2Uncompressed stores data as LZMA2 uncompressed chunks (the first
// resets the dictionary), then the end marker.
func lzma2Uncompressed(data []byte) []byte {
	var out []byte
	for ctrl := byte(1); len(data) > 0; ctrl = 2 {
		n := min(len(data), 1<<16)
		out = append(out, ctrl, byte((n-1)>>8), byte(n-1))
		out, data = append(out, data[:n]...), data[n:]
	}
	return append(out, 0)
}

func xzBlockHeader(prop byte, sizes bool, packed, unpacked int) []byte {
	h := []byte{0, 0}
	if sizes {
		h[1] = 0x40 | 0x80
		h = binary.AppendUvarint(h, uint64(packed))
		h = binary.AppendUvarint(h, uint64(unpacked))
	}
	h = append(h, 0x21, 1, prop)
	h = append(h, make([]byte, -(len(h)+4)&3)...)
	h[0] = byte((len(h)+4)/4 - 1)
	return binary.LittleEndian.AppendUint32(h, crc32.ChecksumIEEE(h))
}

func xzCheck(check byte, data []byte) []byte {
	switch check {
	case xzCRC32:
		return binary.LittleEndian.AppendUint32(nil, crc32.ChecksumIEEE(data))
	case xzCRC64:
		return binary.LittleEndian.AppendUint64(nil, crc64.Checksum(data, crc64.MakeTable(crc64.ECMA)))
	case xzSHA256:
		s := sha256.Sum256(data)
		return s[:]
	}
	return nil
}

// xzBombs are the inputs of item 9 of issue 10: a few KB of valid xz
// whose later stream or later block declares a 4 GiB dictionary. plain is
// the stream they decompress to, split after the first segment.
func xzBombs(plain []byte, split int) (secondStream, laterBlock []byte) {
	first, rest := plain[:split], plain[split:]
	secondStream = cat(xzStream(xzCRC64, xzBlock{data: first, prop: 16}), xzStream(xzCRC64, xzBlock{data: rest, prop: 40}))
	laterBlock = xzStream(xzCRC64, xzBlock{data: first, prop: 16}, xzBlock{data: rest, prop: 40})
	return secondStream, laterBlock
}

// TestXZEveryBlockIsBounded: every block of every concatenated xz stream
// is held to Options.XZDictMax before its decoder exists. One over the
// bound stops the input with an integrity error (ErrFormat, as the CLI's
// exit 3) after the frames before it, and nothing near its dictionary is
// ever allocated; inputs within the bound decode in full.
func TestXZEveryBlockIsBounded(t *testing.T) {
	h := newHistory(t, 20, 100)
	plain := cat(h.segment(t, 0, 10), h.segment(t, 10, 20))
	split := len(h.segment(t, 0, 10))
	secondStream, laterBlock := xzBombs(plain, split)
	first, rest := plain[:split], plain[split:]
	over := &wantErr{stream.ErrFormat, "in0", int64(split), 11}
	for _, c := range []struct {
		name  string
		input []byte
		last  uint64
		err   *wantErr
	}{
		{"one block within the bound", xzStream(xzCRC64, xzBlock{data: plain, prop: 16}), 20, nil},
		{"blocks with declared sizes, no check", xzStream(xzNone, xzBlock{data: first, prop: 16, sizes: true}, xzBlock{data: rest, prop: 14, sizes: true}), 20, nil},
		{"CRC32 check", xzStream(xzCRC32, xzBlock{data: first}, xzBlock{data: rest}), 20, nil},
		{"SHA-256 check, streams with padding between them", cat(xzStream(xzSHA256, xzBlock{data: first}), make([]byte, 8), xzStream(xzSHA256, xzBlock{data: rest})), 20, nil},
		{"first block over the bound", xzStream(xzCRC64, xzBlock{data: plain, prop: 40}), 0, &wantErr{stream.ErrFormat, "in0", 0, 0}},
		{"second concatenated stream over the bound", secondStream, 10, over},
		{"later block over the bound", laterBlock, 10, over},
		{"second stream, after padding, over the bound", cat(xzStream(xzCRC64, xzBlock{data: first}), make([]byte, 4), xzStream(xzCRC64, xzBlock{data: rest, prop: 29})), 10, over},
		{"later block with declared sizes over the bound", xzStream(xzCRC64, xzBlock{data: first, sizes: true}, xzBlock{data: rest, prop: 30, sizes: true}), 10, over},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := allocated()
			res := readAll(t, inputs(c.input), stream.Options{XZDictMax: 1 << 20})
			if got := allocated() - before; got > 32<<20 {
				t.Errorf("reading %d bytes allocated %d MiB", len(c.input), got>>20)
			}
			checkErr(t, res.err, c.err)
			if res.last != c.last {
				t.Errorf("read up to LSN %d; want %d", res.last, c.last)
			}
			if c.err == nil {
				checkWithXZ(t, c.input, plain)
			}
		})
	}
}

// checkWithXZ has the xz tool, where installed, decompress a hand-built
// input: what xzStream builds is real xz, so the bombs are too.
func checkWithXZ(t *testing.T, input, want []byte) {
	t.Helper()
	if _, err := exec.LookPath("xz"); err != nil {
		return
	}
	cmd := exec.Command("xz", "-dc")
	cmd.Stdin = bytes.NewReader(input)
	out, err := cmd.Output()
	if err != nil || !bytes.Equal(out, want) {
		t.Errorf("xz -dc of the hand-built input: %v, %d bytes; want %d", err, len(out), len(want))
	}
}

// TestXZContainerDamage: the reader checks the container it parses (block
// checks, index, footer); damage there is an integrity error, not data.
func TestXZContainerDamage(t *testing.T) {
	h := newHistory(t, 10, 100)
	plain := h.segment(t, 0, 10)
	good := xzStream(xzCRC64, xzBlock{data: plain[:500]}, xzBlock{data: plain[500:]})
	n := len(good)
	for _, c := range []struct {
		name string
		at   int  // byte to change
		to   byte // its new value; 0 flips it
	}{
		{"block check", 12 + 12 + 3 + 500 + 3 + 1, 0}, // after header, chunk header, data, end, padding
		{"index record", n - 12 - 12 + 2, 0},
		{"index CRC32", n - 12 - 2, 0},
		{"footer backward size", n - 7, 0},
		{"footer magic", n - 1, 0},
		{"block header of the largest size, 1024 bytes", 12, 0xff}, // a fuzzer's find: the size overflowed a byte
		{"second block header of the largest size", 12 + 12 + 504 + 8, 0xff},
	} {
		t.Run(c.name, func(t *testing.T) {
			input := flip(good, int64(c.at))
			if c.to != 0 {
				input[c.at] = c.to
			}
			res := readAll(t, inputs(input), stream.Options{})
			if !errors.Is(res.err, stream.ErrFormat) {
				t.Errorf("read: %v; want an ErrFormat", res.err)
			}
		})
	}
}
