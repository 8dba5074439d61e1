package engine

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/hotpipe/hotpipe/txframe"
)

// The DURABLE file holds two fixed-size slots. The writer overwrites the
// older slot after each fsync, so one slot is always whole even while the
// other is being written; readers take the valid slot with the higher
// sequence number. The file is fsynced only now and then (see
// watermarkFile.store): after a power loss it may lag behind what was
// acknowledged, and recovery accepts the whole frames that follow it.
//
//	slot (128 bytes, little-endian):
//	  0  seq u64        8  LSN u64      16  commit time i64   24  segment (first LSN) u64
//	 32  frame off i64  40  end off i64  48  h(LSN) [32]byte   80  flags u32
//	 84  CRC32C of [0,84)  88  zero padding
//
// Flag fenceFlag marks a watermark written after a failed write or fsync:
// the log ends exactly there, and recovery keeps no byte past it.
const (
	durableFile    = "DURABLE"
	slotSize       = 128
	slotPayload    = 84
	watermarkReads = 50 // retries while a torn slot pair is being rewritten
	watermarkRetry = time.Millisecond
)

var errNoWatermark = errors.New("no valid watermark slot")

// watermark is a position in the log: the last frame's LSN, time and hash,
// and where it lies. frameOff is the start of that frame and end the offset
// just past it, both in segment seg (named by its first LSN).
type watermark struct {
	seq      uint64
	lsn      uint64
	time     int64
	seg      uint64
	frameOff int64
	end      int64
	hash     txframe.Hash
	fence    bool // nothing past this position was acknowledged: recovery cuts there
}

const fenceFlag = 1

func (w *watermark) encode(b []byte) {
	binary.LittleEndian.PutUint64(b[0:], w.seq)
	binary.LittleEndian.PutUint64(b[8:], w.lsn)
	binary.LittleEndian.PutUint64(b[16:], uint64(w.time))
	binary.LittleEndian.PutUint64(b[24:], w.seg)
	binary.LittleEndian.PutUint64(b[32:], uint64(w.frameOff))
	binary.LittleEndian.PutUint64(b[40:], uint64(w.end))
	copy(b[48:80], w.hash[:])
	var flags uint32
	if w.fence {
		flags |= fenceFlag
	}
	binary.LittleEndian.PutUint32(b[80:], flags)
	binary.LittleEndian.PutUint32(b[slotPayload:], txframe.Checksum(b[:slotPayload]))
	clear(b[slotPayload+4 : slotSize])
}

func decodeSlot(b []byte) (watermark, bool) {
	if binary.LittleEndian.Uint32(b[slotPayload:]) != txframe.Checksum(b[:slotPayload]) {
		return watermark{}, false
	}
	w := watermark{
		seq:      binary.LittleEndian.Uint64(b[0:]),
		lsn:      binary.LittleEndian.Uint64(b[8:]),
		time:     int64(binary.LittleEndian.Uint64(b[16:])),
		seg:      binary.LittleEndian.Uint64(b[24:]),
		frameOff: int64(binary.LittleEndian.Uint64(b[32:])),
		end:      int64(binary.LittleEndian.Uint64(b[40:])),
		hash:     txframe.Hash(b[48:80]),
		fence:    binary.LittleEndian.Uint32(b[80:])&fenceFlag != 0,
	}
	ok := w.seq > 0 && binary.LittleEndian.Uint32(b[80:])&^fenceFlag == 0 && w.seg >= 1 && w.frameOff >= 0 &&
		(w.lsn == 0 && w.seg == 1 && w.end == 0 || // an empty log
			w.lsn >= w.seg && w.end > w.frameOff) // the last frame lies in its segment
	return w, ok
}

// watermarkFile is the writer's handle on DURABLE.
type watermarkFile struct {
	f      *os.File
	last   watermark
	buf    [slotSize]byte
	synced time.Time // when DURABLE was last fsynced
	dirty  bool      // a slot was stored since
	fsync  func(*os.File) error
}

// markSyncEvery bounds how far the watermark on disk may lag behind the
// acknowledged log after a power loss. Recovery keeps the whole frames past
// it that continue the chain, but cannot tell damage to them from a hole
// the power loss left, and drops the tail from either: the bound keeps that
// window to about a second of commits, for one fsync a second.
const markSyncEvery = time.Second

func createWatermark(dir string, w watermark) error {
	f, err := os.OpenFile(filepath.Join(dir, durableFile), os.O_RDWR|os.O_CREATE|os.O_EXCL, fileMode)
	if err != nil {
		return err
	}
	wf := &watermarkFile{f: f}
	if err := wf.store(w); err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// openWatermark opens DURABLE for the writer, making it if a crash or an
// operator removed it (recovery then scans the whole log).
func openWatermark(dir string, fsync func(*os.File) error) (*watermarkFile, error) {
	f, err := os.OpenFile(filepath.Join(dir, durableFile), os.O_RDWR|os.O_CREATE, fileMode)
	if err != nil {
		return nil, err
	}
	if fsync == nil {
		fsync = syncData
	}
	return &watermarkFile{f: f, fsync: fsync}, nil
}

// store writes w into the slot not holding the current watermark.
func (wf *watermarkFile) store(w watermark) error {
	w.seq = wf.last.seq + 1
	w.encode(wf.buf[:])
	if _, err := wf.f.WriteAt(wf.buf[:], int64(w.seq%2)*slotSize); err != nil {
		return err
	}
	wf.last, wf.dirty = w, true
	return nil
}

// publish stores w and, once every markSyncEvery, makes DURABLE durable.
func (wf *watermarkFile) publish(w watermark) error {
	if err := wf.store(w); err != nil {
		return err
	}
	if time.Since(wf.synced) < markSyncEvery {
		return nil
	}
	return wf.sync()
}

// storeDurable stores w and makes DURABLE durable at once.
func (wf *watermarkFile) storeDurable(w watermark) error {
	if err := wf.store(w); err != nil {
		return err
	}
	return wf.sync()
}

func (wf *watermarkFile) sync() error {
	if err := wf.fsync(wf.f); err != nil {
		return err
	}
	wf.synced, wf.dirty = time.Now(), false
	return nil
}

// readWatermark returns the newest valid watermark in dir. A reader may
// catch the writer mid-slot; it retries briefly before giving up.
func readWatermark(dir string) (watermark, error) {
	path := filepath.Join(dir, durableFile)
	f, err := os.Open(path)
	if err != nil {
		return watermark{}, err
	}
	defer f.Close()
	for try := 0; ; try++ {
		if w, ok := readSlots(f); ok {
			return w, nil
		}
		if try == watermarkReads {
			return watermark{}, fmt.Errorf("%s: %w", path, errNoWatermark)
		}
		time.Sleep(watermarkRetry)
	}
}

// readSlots reads both slots of f once and returns the newest valid one.
func readSlots(f *os.File) (watermark, bool) {
	var b [2 * slotSize]byte
	if n, _ := f.ReadAt(b[:], 0); n != len(b) {
		return watermark{}, false
	}
	return newestSlot(b[:])
}

func newestSlot(b []byte) (watermark, bool) {
	a, aok := decodeSlot(b[:slotSize])
	c, cok := decodeSlot(b[slotSize:])
	switch {
	case aok && cok && c.seq > a.seq, !aok && cok:
		return c, true
	case aok:
		return a, true
	}
	return watermark{}, false
}
