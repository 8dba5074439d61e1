package main

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"hash/crc32"
	"os"
	"strconv"

	"github.com/rogpeppe/go-internal/testscript"
	"github.com/ulikunitz/xz"

	"github.com/hotpipe/hotpipe/engine"
	"github.com/hotpipe/hotpipe/stream"
	"github.com/hotpipe/hotpipe/txframe"
)

// cmdCraft makes backup files no hotpipe command writes, from a real
// backup SRC, and values no command line can carry, for scenarios about
// hostile or damaged input:
//
//	craft empty-segment SRC LSN OUT   a segment with no frames based at LSN, SRC's origin, a foreign h(LSN)
//	craft rename SRC NAMEHEX OUT      SRC with every header's source name replaced (name in hex)
//	craft xz-bomb SRC OUT             SRC as two xz streams, the second declaring a 4 GiB dictionary
//	craft put-value DB KEY FILE       commit one transaction to DB: KEY = FILE's bytes
func cmdCraft(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 3 {
		ts.Fatalf("usage: craft empty-segment|rename|xz-bomb|put-value ...")
	}
	if args[0] == "put-value" && len(args) == 4 {
		craftPutValue(ts, args[1], args[2], args[3])
		return
	}
	src, err := os.ReadFile(ts.MkAbs(args[1]))
	ts.Check(err)
	var out []byte
	switch {
	case args[0] == "empty-segment" && len(args) == 4:
		out = craftEmptySegment(ts, src, args[2])
	case args[0] == "rename" && len(args) == 4:
		out = craftRename(ts, src, args[2])
	case args[0] == "xz-bomb" && len(args) == 3:
		out = craftXZBomb(ts, src)
	default:
		ts.Fatalf("craft: bad arguments %q", args)
	}
	ts.Check(os.WriteFile(ts.MkAbs(args[len(args)-1]), out, 0o600))
}

// craftPutValue commits key = the bytes of file to db, as an application
// storing a file (a backup, say) as a value would.
func craftPutValue(ts *testscript.TestScript, db, key, file string) {
	value, err := os.ReadFile(ts.MkAbs(file))
	ts.Check(err)
	d, err := engine.Open(ts.Getenv("HOTPIPE_DATA_DIR"), db, engine.Options{})
	ts.Check(err)
	lsn, err := d.Commit([]txframe.Entry{{Op: txframe.OpPut, Key: []byte(key), Value: value}})
	ts.Check(errors.Join(err, d.Close()))
	ts.Logf("%s: %s = %d bytes of %s at LSN %d", db, key, len(value), file, lsn)
}

// craftEmptySegment returns a segment with no frames based at lsn, from
// src's origin and source, whose h(lsn) is 32 bytes of 0x5a: nothing in
// src's history.
func craftEmptySegment(ts *testscript.TestScript, src []byte, lsn string) []byte {
	h, err := stream.DecodeHeader(src)
	ts.Check(err)
	h.Base, err = strconv.ParseUint(lsn, 10, 64)
	ts.Check(err)
	h.BaseHash = [32]byte(bytes.Repeat([]byte{0x5a}, 32))
	b, err := stream.AppendHeader(nil, &h)
	ts.Check(err)
	return stream.AppendEnd(b, &stream.End{First: h.Base + 1, Last: h.Base, LastHash: h.BaseHash, Length: stream.HeaderSize})
}

// craftRename returns src with every segment header's source name set to
// the bytes nameHex spells, each header's CRC recomputed.
func craftRename(ts *testscript.TestScript, src []byte, nameHex string) []byte {
	name, err := hex.DecodeString(nameHex)
	ts.Check(err)
	segs, ok := stream.Segments(bytes.NewReader(src), int64(len(src)))
	if !ok {
		ts.Fatalf("craft rename: the source is not whole segments")
	}
	out := bytes.Clone(src)
	for _, s := range segs {
		s.Header.Name = string(name)
		b, err := stream.AppendHeader(nil, &s.Header)
		ts.Check(err)
		copy(out[s.Offset:], b)
	}
	return out
}

// craftXZBomb returns src compressed as two xz streams, its first and
// second half; the second's block header declares a 4 GiB - 1 dictionary
// (LZMA2 property 40), which its data does not need.
func craftXZBomb(ts *testscript.TestScript, src []byte) []byte {
	half := len(src) / 2
	second := xzCompress(ts, src[half:])
	bh := second[12 : 12+(int(second[12])+1)*4] // the block header after the 12-byte stream header
	if bh[1] != 0 || bh[2] != 0x21 || bh[3] != 1 {
		ts.Fatalf("craft xz-bomb: unexpected block header % x", bh)
	}
	bh[4] = 40
	n := len(bh) - 4
	binary.LittleEndian.PutUint32(bh[n:], crc32.ChecksumIEEE(bh[:n]))
	return append(xzCompress(ts, src[:half]), second...)
}

func xzCompress(ts *testscript.TestScript, data []byte) []byte {
	var buf bytes.Buffer
	zw, err := xz.NewWriter(&buf)
	ts.Check(err)
	_, err = zw.Write(data)
	ts.Check(err)
	ts.Check(zw.Close())
	return buf.Bytes()
}
