package stream

import (
	"errors"
	"testing"
)

// xzHead builds the start of an xz file by hand: the 12-byte stream header
// and a block header whose only filter is LZMA2 with dictionary property
// prop, optionally declaring its compressed and uncompressed sizes (as
// multi-threaded xz does). CRCs are left zero: checkXZDict reads the
// dictionary size before the decoder checks anything.
func xzHead(prop byte, sizes bool) []byte {
	b := []byte{0xfd, '7', 'z', 'X', 'Z', 0x00, 0x00, 0x04, 0, 0, 0, 0} // magic, flags (CRC64), CRC32
	flags := byte(0x00)                                                 // one filter
	if sizes {
		flags |= 0x40 | 0x80
	}
	bh := []byte{0, flags}
	if sizes {
		bh = append(bh, 0x93, 0x01)       // compressed size 147, a two-byte varint
		bh = append(bh, 0xe8, 0x87, 0x01) // uncompressed size 17384
	}
	bh = append(bh, 0x21, 0x01, prop) // LZMA2, one property byte
	for len(bh)%4 != 0 {
		bh = append(bh, 0) // header padding
	}
	bh[0] = byte(len(bh)/4 - 1)
	bh = append(bh, 0, 0, 0, 0) // CRC32
	return append(b, bh...)
}

func TestCheckXZDict(t *testing.T) {
	const max = 64 << 20
	for _, c := range []struct {
		name string
		head []byte
		ok   bool
	}{
		{"4 KiB, the smallest (property 0)", xzHead(0, false), true},
		{"8 MiB, xz -6 (property 22)", xzHead(22, false), true},
		{"64 MiB, exactly the bound (property 28)", xzHead(28, false), true},
		{"96 MiB (property 29)", xzHead(29, false), false},
		{"128 MiB (property 30)", xzHead(30, false), false},
		{"128 MiB after declared sizes", xzHead(30, true), false},
		{"64 MiB after declared sizes", xzHead(28, true), true},
		{"4 GiB - 1 (property 40)", xzHead(40, false), false},
		{"property 41 is not a dictionary size", xzHead(41, false), false},
		{"too short to hold a block header: the decoder reports it", xzHead(30, false)[:14], true},
		{"not LZMA2: the decoder refuses it", append(xzHead(30, false)[:14], 0x03, 0x01, 0x00, 0, 0, 0), true},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := checkXZDict(c.head, max)
			if c.ok && err != nil {
				t.Errorf("checkXZDict: %v; want it accepted", err)
			}
			if !c.ok && !errors.Is(err, ErrFormat) {
				t.Errorf("checkXZDict: %v; want ErrFormat", err)
			}
		})
	}
}
