package stream

import (
	"encoding/binary"
	"hash/crc32"
	"testing"
)

// xzBlockHead builds a block header by hand whose only filter is LZMA2
// with dictionary property prop, optionally declaring its compressed and
// uncompressed sizes (as multi-threaded xz does), with its CRC32.
func xzBlockHead(prop byte, sizes bool) []byte {
	flags := byte(0x00) // one filter
	if sizes {
		flags |= 0x40 | 0x80
	}
	bh := []byte{0, flags}
	if sizes {
		bh = append(bh, 0x93, 0x01)       // compressed size 147, a two-byte varint
		bh = append(bh, 0xe8, 0x87, 0x01) // uncompressed size 17384
	}
	bh = append(bh, xzLZMA2, 0x01, prop) // LZMA2, one property byte
	return sealBlockHead(bh)
}

// sealBlockHead pads a block header to a multiple of four, sets its size
// byte and appends its CRC32.
func sealBlockHead(bh []byte) []byte {
	for (len(bh)+4)%4 != 0 {
		bh = append(bh, 0) // header padding
	}
	bh[0] = byte((len(bh)+4)/4 - 1)
	return binary.LittleEndian.AppendUint32(bh, crc32.ChecksumIEEE(bh))
}

// TestXZBlockHeaderDictionary: the dictionary size every block header
// declares is decoded before any decoder exists, so the reader can refuse
// one over its bound; a header it cannot read is refused, never passed on.
func TestXZBlockHeaderDictionary(t *testing.T) {
	const max = 64 << 20
	notLZMA2 := sealBlockHead([]byte{0, 0, 0x03, 0x01, 0x00}) // delta filter
	twoFilters := sealBlockHead([]byte{0, 1, 0x03, 0x01, 0x00, xzLZMA2, 0x01, 0x10})
	badCRC := xzBlockHead(22, false)
	badCRC[len(badCRC)-1] ^= 1
	for _, c := range []struct {
		name string
		head []byte
		ok   bool
	}{
		{"4 KiB, the smallest (property 0)", xzBlockHead(0, false), true},
		{"8 MiB, xz -6 (property 22)", xzBlockHead(22, false), true},
		{"64 MiB, exactly the bound (property 28)", xzBlockHead(28, false), true},
		{"96 MiB (property 29)", xzBlockHead(29, false), false},
		{"128 MiB (property 30)", xzBlockHead(30, false), false},
		{"128 MiB after declared sizes", xzBlockHead(30, true), false},
		{"64 MiB after declared sizes", xzBlockHead(28, true), true},
		{"4 GiB - 1 (property 40)", xzBlockHead(40, false), false},
		{"property 41 is not a dictionary size", xzBlockHead(41, false), false},
		{"too short to hold a filter: refused, not passed to the decoder", sealBlockHead([]byte{0, 0}), false},
		{"not LZMA2: refused, not passed to the decoder", notLZMA2, false},
		{"two filters: refused, not passed to the decoder", twoFilters, false},
		{"bad CRC32: refused, not passed to the decoder", badCRC, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			h, err := parseXZBlockHeader(c.head)
			if ok := err == nil && h.dict <= max; ok != c.ok {
				t.Errorf("parseXZBlockHeader: dictionary %d bytes, %v; want accepted under a %d-byte bound: %v", h.dict, err, max, c.ok)
			}
		})
	}
}
