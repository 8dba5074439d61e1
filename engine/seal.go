package engine

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"

	"github.com/hotpipe/hotpipe/txframe"
)

// A finished segment ends in a seal that says what its frames hold. The
// writer appends it and fdatasyncs the segment before it creates the next
// one, so a sealed segment is durable as a whole, and opening a database
// proves its structure from the seals alone: every segment but the last is
// sealed, named by its first LSN, as long as its seal says, and followed by
// the segment starting at the LSN after its last. Missing, short, misnamed
// or swapped segments are found at a cost of one small read per segment,
// whatever the database's bytes.
//
//	seal (96 bytes, little-endian), at offset end = file size - 96:
//	  0  magic "HPSS"        4  zero u32           8  frames u64       16  first LSN u64
//	 24  last LSN u64       32  last commit time  40  last frame off   48  end i64 (= this seal's offset)
//	 56  h(last) [32]byte   88  CRC32C of [0,88)  92  zero u32
const sealSize = 96

var sealMagic = [4]byte{'H', 'P', 'S', 'S'}

// errUnsealed means a segment that must be finished does not end in a seal
// that matches it.
var errUnsealed = errors.New("segment is not sealed")

// encodeSeal returns the seal of segment seg whose last frame is at w.
func encodeSeal(seg uint64, w watermark) []byte {
	b := make([]byte, sealSize)
	copy(b, sealMagic[:])
	binary.LittleEndian.PutUint64(b[8:], w.lsn-seg+1)
	binary.LittleEndian.PutUint64(b[16:], seg)
	binary.LittleEndian.PutUint64(b[24:], w.lsn)
	binary.LittleEndian.PutUint64(b[32:], uint64(w.time))
	binary.LittleEndian.PutUint64(b[40:], uint64(w.frameOff))
	binary.LittleEndian.PutUint64(b[48:], uint64(w.end))
	copy(b[56:88], w.hash[:])
	binary.LittleEndian.PutUint32(b[88:], txframe.Checksum(b[:88]))
	return b
}

// decodeSeal checks the seal b found at offset at of segment seg and
// returns the position of the segment's last frame.
func decodeSeal(b []byte, seg uint64, at int64) (watermark, error) {
	if len(b) < sealSize || [4]byte(b[:4]) != sealMagic {
		return watermark{}, fmt.Errorf("%w: no seal at offset %d", errUnsealed, at)
	}
	if binary.LittleEndian.Uint32(b[88:]) != txframe.Checksum(b[:88]) {
		return watermark{}, fmt.Errorf("%w: seal at offset %d fails its CRC", errUnsealed, at)
	}
	w := watermark{
		lsn:      binary.LittleEndian.Uint64(b[24:]),
		time:     int64(binary.LittleEndian.Uint64(b[32:])),
		seg:      seg,
		frameOff: int64(binary.LittleEndian.Uint64(b[40:])),
		end:      int64(binary.LittleEndian.Uint64(b[48:])),
		hash:     txframe.Hash(b[56:88]),
	}
	frames, first := binary.LittleEndian.Uint64(b[8:]), binary.LittleEndian.Uint64(b[16:])
	switch {
	case binary.LittleEndian.Uint32(b[4:]) != 0 || binary.LittleEndian.Uint32(b[92:]) != 0:
		return w, fmt.Errorf("%w: seal at offset %d has reserved bytes set", errUnsealed, at)
	case first != seg:
		return w, fmt.Errorf("%w: the seal says the segment starts at LSN %d, its name says %d", errUnsealed, first, seg)
	case w.lsn < first || frames != w.lsn-first+1:
		return w, fmt.Errorf("%w: the seal's LSNs %d..%d do not hold %d frames", errUnsealed, first, w.lsn, frames)
	case w.end != at || w.frameOff < 0 || w.frameOff >= w.end:
		return w, fmt.Errorf("%w: the seal says its frames end at %d (last at %d), it lies at %d", errUnsealed, w.end, w.frameOff, at)
	}
	return w, nil
}

// readSeal reads and checks the seal at the end of segment seg, open as f,
// and returns the position of its last frame.
func readSeal(f *os.File, seg uint64) (watermark, error) {
	fi, err := f.Stat()
	if err != nil {
		return watermark{}, err
	}
	at := fi.Size() - sealSize
	if at <= 0 {
		return watermark{}, fmt.Errorf("%w: the file is %d bytes", errUnsealed, fi.Size())
	}
	b := make([]byte, sealSize)
	if _, err := f.ReadAt(b, at); err != nil {
		return watermark{}, err
	}
	return decodeSeal(b, seg, at)
}
