package txframe_test

import (
	"bytes"
	"errors"
	"fmt"
	"runtime"
	"testing"

	"github.com/hotpipe/hotpipe/txframe"
)

// corruptionBases are the valid frames the corruption tests damage.
func corruptionBases(t *testing.T) map[string][]byte {
	smallest, _ := mustAppend(t, txframe.Hash{}, 1, 0, del("k"))
	maxKey, _ := mustAppend(t, seqHash(), 2, 2, put(string(bytes.Repeat([]byte{0xee}, txframe.MaxKeyLen)), "v"))
	return map[string][]byte{"golden": goldenFrame(t), "smallest": smallest, "max key": maxKey}
}

// A frame cut anywhere, as by a torn write or a stream that stops, is
// incomplete: never a panic, never a different error, never a success.
func TestDecodeReportsEveryTruncationAsIncomplete(t *testing.T) {
	for name, frame := range corruptionBases(t) {
		t.Run(name, func(t *testing.T) {
			for cut := range len(frame) {
				in := frame[:cut:cut] // reading past the cut must panic, not pass
				if _, n, err := txframe.Decode(in); !errors.Is(err, txframe.ErrIncomplete) || n != 0 {
					t.Errorf("Decode of %d of %d bytes = %d bytes, %v; want ErrIncomplete", cut, len(frame), n, err)
				}
				if _, err := txframe.Peek(in); !errors.Is(err, txframe.ErrIncomplete) {
					t.Errorf("Peek of %d of %d bytes = %v; want ErrIncomplete", cut, len(frame), err)
				}
				// Once the header is there, FrameLen says how many bytes to wait for.
				n, err := txframe.FrameLen(in)
				if cut < 8 && !errors.Is(err, txframe.ErrIncomplete) || cut >= 8 && (err != nil || n != len(frame)) {
					t.Errorf("FrameLen of %d of %d bytes = %d, %v", cut, len(frame), n, err)
				}
			}
		})
	}
}

// Every single-bit error anywhere in a frame is caught by Decode and Peek:
// in the magic as ErrMagic, in the body length as a length that is out of
// bounds, past the input or moves the CRC, and anywhere else by the CRC.
func TestDecodeDetectsEveryBitFlip(t *testing.T) {
	for name, frame := range corruptionBases(t) {
		t.Run(name, func(t *testing.T) {
			for bit := range 8 * len(frame) {
				in := flipped(frame, bit)
				_, _, err := txframe.Decode(in)
				_, peekErr := txframe.Peek(in)
				if err := checkFlipError(bit/8, err, peekErr); err != nil {
					t.Errorf("bit %d (byte %d): %v", bit, bit/8, err)
				}
			}
		})
	}
}

func checkFlipError(off int, err, peekErr error) error {
	s := sentinelOf(err)
	if s == nil {
		return fmt.Errorf("Decode error %v wraps no single sentinel", err)
	}
	if p := sentinelOf(peekErr); p != s {
		return fmt.Errorf("Peek error %v differs from Decode error %v", peekErr, err)
	}
	switch {
	case off < offBodyLen:
		if s != txframe.ErrMagic {
			return fmt.Errorf("flip in the magic gave %v, want ErrMagic", err)
		}
	case off < offLSN:
		if s != txframe.ErrTooLarge && s != txframe.ErrIncomplete && s != txframe.ErrChecksum {
			return fmt.Errorf("flip in the body length gave %v", err)
		}
	default:
		if s != txframe.ErrChecksum {
			return fmt.Errorf("flip after the header gave %v, want ErrChecksum", err)
		}
	}
	return nil
}

// A deliberate edit that also recomputes the CRC passes Peek, but not the
// chain: every single-bit change to the body or to the stored h(n) is caught
// by VerifyChain.
func TestVerifyChainCatchesEveryResealedBitFlip(t *testing.T) {
	frame := goldenFrame(t)
	for bit := 8 * offLSN; bit < 8*(len(frame)-4); bit++ {
		in := reseal(flipped(frame, bit))
		if _, err := txframe.Peek(in); err != nil {
			t.Fatalf("bit %d: Peek = %v; the resealed frame must pass the CRC", bit, err)
		}
		if err := txframe.VerifyChain(seqHash(), in); !errors.Is(err, txframe.ErrChain) {
			t.Errorf("bit %d (byte %d): VerifyChain = %v, want ErrChain", bit, bit/8, err)
		}
	}
}

// A CRC-valid frame can still claim more entries than its body could hold.
// Decode must refuse the claim before allocating anything sized by it.
func TestDecodeDoesNotAllocateFromAnImpossibleEntryCount(t *testing.T) {
	frame, _ := mustAppend(t, txframe.Hash{}, 1, 0, txframe.Entry{Op: txframe.OpPut, Key: []byte("k"), Value: make([]byte, 1<<20)})
	claim := uint32(len(frame) - overhead - 20) // one entry per body byte: 8 times what can fit
	in := reseal(withU32(frame, offCount, claim))

	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, _, err := txframe.Decode(in)
	runtime.ReadMemStats(&after)
	if !errors.Is(err, txframe.ErrMalformed) {
		t.Errorf("Decode = %v, want ErrMalformed", err)
	}
	if got := after.TotalAlloc - before.TotalAlloc; got > 64<<10 {
		t.Errorf("Decode allocated %d bytes to refuse a claim of %d entries", got, claim)
	}
}
