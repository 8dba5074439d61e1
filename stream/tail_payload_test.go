package stream_test

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"github.com/hotpipe/hotpipe/stream"
	"github.com/hotpipe/hotpipe/txframe"
)

// valueLog is a history whose frame of LSN n puts values[n-1]: values can
// be anything, whole backup files included.
type valueLog struct {
	frames [][]byte
	hash   []txframe.Hash
}

func (l *valueLog) add(tb testing.TB, value []byte) {
	tb.Helper()
	lsn := uint64(len(l.frames) + 1)
	if len(l.hash) == 0 {
		l.hash = make([]txframe.Hash, 1)
	}
	e := txframe.Entry{Op: txframe.OpPut, Key: fmt.Appendf(nil, "k%08d", lsn), Value: value}
	f, h, err := txframe.Append(nil, l.hash[lsn-1], lsn, t0+int64(lsn), []txframe.Entry{e})
	if err != nil {
		tb.Fatal(err)
	}
	l.frames, l.hash = append(l.frames, f), append(l.hash, h)
}

// segment is the segment base+1..last of l; open leaves out its end record.
func (l *valueLog) segment(tb testing.TB, base, last uint64, origin [16]byte, name string, open bool) []byte {
	tb.Helper()
	hdr := stream.Header{Origin: origin, Name: name, Created: testCreated, Base: base, BaseHash: l.hash[base]}
	var buf bytes.Buffer
	w, err := stream.NewWriter(&buf, hdr)
	if err != nil {
		tb.Fatal(err)
	}
	for _, f := range l.frames[base:last] {
		if err := w.WriteFrames(f); err != nil {
			tb.Fatal(err)
		}
	}
	if !open {
		if err := w.Close(); err != nil {
			tb.Fatal(err)
		}
	}
	return buf.Bytes()
}

// valueAt is where a frame's value starts: 8 bytes of magic and length,
// LSN, time, entry count, a 7-byte entry header and a 9-byte key.
const valueAt = 8 + 8 + 8 + 4 + 7 + keyLen

// TestReadTailPayloadStreams: an interrupted --append of a database whose
// values hold hotpipe backup files, of its own history or of another
// database, cut at the unlucky points inside such a value. Each is read as
// what it is: an open segment cut inside the frame that holds the value,
// resumed from the frame before it; never as the stored backup, complete
// or open. The file --append leaves then reads as one stream.
func TestReadTailPayloadStreams(t *testing.T) {
	other := newHistory(t, 6, 40)
	otherOrigin := testOrigin
	otherOrigin[0] ^= 0xff
	var app valueLog
	for range 4 {
		app.add(t, []byte("plain"))
	}
	// Backups stored as values: of app itself up to LSN 4 (two segments,
	// as --append makes them), and of another database.
	ownBackup := cat(app.segment(t, 0, 2, testOrigin, "foo", false), app.segment(t, 2, 4, testOrigin, "foo", false))
	otherBackup := raw(t, stream.Header{Origin: otherOrigin, Name: "other", Created: testCreated}, other.end(0, 6), other.block(1, 6))
	for _, inner := range []struct {
		name   string
		backup []byte
		seg1   int64 // length of its first segment
		frame1 int64 // length of its first frame
	}{
		{"own history", ownBackup, int64(len(app.segment(t, 0, 2, testOrigin, "foo", false))), int64(len(app.frames[0]))},
		{"another database", otherBackup, int64(len(otherBackup)), int64(len(other.frames[0]))},
	} {
		log := app
		log.frames, log.hash = append([][]byte(nil), app.frames...), append([]txframe.Hash(nil), app.hash...)
		log.add(t, inner.backup)    // LSN 5
		log.add(t, []byte("after")) // LSN 6
		seg1 := log.segment(t, 0, 3, testOrigin, "foo", false)
		full := cat(seg1, log.segment(t, 3, 6, testOrigin, "foo", true))
		frame5 := int64(len(seg1)) + hdrLen + int64(len(log.frames[3]))
		value := frame5 + valueAt
		n := int64(len(inner.backup))
		for _, cut := range []struct {
			name string
			at   int64
		}{
			{"right after the stored backup's last end record", value + n},
			{"right after its first end record", value + inner.seg1},
			{"inside its end record", value + n - 40},
			{"inside its first header", value + 70},
			{"after its first header", value + hdrLen},
			{"after its first header and a whole frame", value + hdrLen + inner.frame1},
			{"inside its first frame", value + hdrLen + 20},
			{"right after its first header's magic", value + 4},
		} {
			t.Run(inner.name+"/"+cut.name, func(t *testing.T) {
				file := full[:cut.at]
				tail, err := readTail(file)
				if err != nil {
					t.Fatalf("ReadTail: %v", err)
				}
				want := stream.Tail{Header: stream.Header{Origin: testOrigin, Name: "foo", Created: testCreated, Base: 3, BaseHash: log.hash[3]},
					SegStart: int64(len(seg1)), Last: 4, LastHash: log.hash[4], Keep: frame5, Torn: cut.at - frame5}
				if tail != want {
					t.Fatalf("ReadTail = %+v\nwant %+v", tail, want)
				}
				appendLikeCLI(t, file, tail, log.frames, 6)
			})
		}
	}
}

// appendLikeCLI does what hot-backup --append does with a tail (keep Keep
// bytes, resume the open segment or start a new one, write the frames
// after Last, close) and checks that the file then reads as one stream
// through LSN last: an --append that succeeds leaves a file that verifies.
func appendLikeCLI(t *testing.T, file []byte, tail stream.Tail, frames [][]byte, last uint64) {
	t.Helper()
	buf := bytes.NewBuffer(bytes.Clone(file[:tail.Keep]))
	var w *stream.Writer
	if tail.Complete {
		hdr := tail.Header
		hdr.Base, hdr.BaseHash = tail.Last, tail.LastHash
		var err error
		if w, err = stream.NewWriter(buf, hdr); err != nil {
			t.Fatal(err)
		}
	} else {
		w = stream.ResumeWriter(buf, tail.Header, tail.Last, tail.LastHash, tail.Keep-tail.SegStart)
	}
	for _, f := range frames[tail.Last:last] {
		if err := w.WriteFrames(f); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	res := readAll(t, inputs(buf.Bytes()), stream.Options{})
	if res.err != nil || res.last != last {
		t.Fatalf("after the append the file reads to LSN %d: %v; want a stream through LSN %d", res.last, res.err, last)
	}
}

// TestReadTailStartOfFile: what --append may remove from a file holding no
// whole header. An interrupted hot-backup leaves its 140-byte header whole
// or, cut short, at least its fixed fields (magic, version, length); a
// crash that extended the file without writing it leaves zeros. Anything
// else is not shown to be hotpipe's and is refused, untouched.
func TestReadTailStartOfFile(t *testing.T) {
	h := newHistory(t, 3, 10)
	hdr := h.segment(t, 0, 3)[:hdrLen]
	badName := edit(hdr[:100], func(b []byte) { b[72] = 0 })
	for _, c := range []struct {
		name string
		file []byte
		torn bool
	}{
		{"HP", []byte("HP"), false},
		{"the magic alone", hdr[:4], false},
		{"seven bytes of the fixed fields", hdr[:7], false},
		{"the fixed fields", hdr[:8], true},
		{"60 bytes of a header", hdr[:60], true},
		{"all but the CRC's last byte", hdr[:hdrLen-1], true},
		{"a header start with a zero name length", badName, false},
		{"a header start with another version", edit(hdr[:60], func(b []byte) { b[4] = 2 }), false},
		{"zeros", make([]byte, 100), true},
		{"zeros, more than a header", make([]byte, 5000), true},
		{"zeros, more than 1 MiB", make([]byte, 1<<20+1), false},
		{"text", []byte("my notes\n"), false},
	} {
		t.Run(c.name, func(t *testing.T) {
			tail, err := readTail(c.file)
			if !c.torn {
				var se *stream.Error
				if !errors.Is(err, stream.ErrFormat) || !errors.As(err, &se) || se.Source != "f.backup" || se.Offset != 0 {
					t.Fatalf("ReadTail = %+v, %v; want ErrFormat at f.backup offset 0: not a hotpipe backup", tail, err)
				}
				return
			}
			if err != nil || tail != (stream.Tail{Torn: int64(len(c.file))}) {
				t.Fatalf("ReadTail = %+v, %v; want all %d bytes torn", tail, err, len(c.file))
			}
		})
	}
}
