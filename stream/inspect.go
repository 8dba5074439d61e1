package stream

import (
	"context"
	"io"
)

// SegmentInfo is one segment of a stream as a listing shows it: where its
// header is, the header, what its end record says and whether it has one.
type SegmentInfo struct {
	Segment
	// Complete reports that the segment has its end record. A segment
	// without one (the last of a file an interrupted backup left) has
	// End filled in from its whole frames: First..Last, Frames, LastHash
	// and Length up to the last whole frame read.
	Complete bool
}

// List lists the segments of the stream file f of size bytes, named name in
// errors. A file of whole segments is listed from its headers and end
// records alone, walking back from its end (O(segments) small reads, no
// frame read, and scanned is false). Any other file (compressed, torn, or
// not whole segments, encrypted) is scanned forward from offset 0 as
// ListReader does with opts, and scanned is true. List reads f only
// through ReadAt, so it needs no seek and shares f with other readers.
//
// The error is nil, or the first problem a scan met (a *Error: a torn last
// segment is ErrTruncated, and is listed as not Complete), or the cause of
// ctx's cancellation; segs holds what was listed before it either way.
func List(ctx context.Context, f io.ReaderAt, size int64, name string, opts Options) (segs []SegmentInfo, scanned bool, err error) {
	if err := Stopped(ctx); err != nil {
		return nil, false, err
	}
	if whole, ok := walkSegments(f, size); ok {
		segs = make([]SegmentInfo, len(whole))
		for i, s := range whole {
			segs[i] = SegmentInfo{Segment: s, Complete: true}
		}
		return segs, false, nil
	}
	segs, err = ListReader(ctx, io.NewSectionReader(f, 0, max(size, 0)), name, opts)
	return segs, true, err
}

// ListReader lists the segments of the stream read from r (decrypted with
// opts.Identities when it is age, decompressed when it is xz, gzip, bzip2
// or zstd), named name in errors, by reading every
// record and frame with a Reader: the way to list a pipe or a compressed
// file. Frames are checked as they are read, so a listing that ends
// without error is of a stream that verifies on its own.
//
// A segment that overlaps the segments before it lists its end record
// when it has one; its frames before its end record count only the ones
// new to the stream (a Reader yields no others).
//
// The error is nil, the first problem met (a *Error), or the cause of
// ctx's cancellation, checked between records; segs holds what was listed
// before it.
func ListReader(ctx context.Context, r io.Reader, name string, opts Options) ([]SegmentInfo, error) {
	var segs []SegmentInfo
	rd := NewReader([]Input{{Name: name, R: r}}, opts)
	for {
		if err := Stopped(ctx); err != nil {
			return segs, err
		}
		ev, err := rd.Next()
		if err == io.EOF {
			return segs, nil
		}
		if err != nil {
			if err := Stopped(ctx); err != nil {
				return segs, err
			}
			return segs, err
		}
		switch ev.Kind {
		case KindHeader:
			h := ev.Header
			open := End{First: h.Base + 1, Last: h.Base, LastHash: h.BaseHash, Length: HeaderSize}
			segs = append(segs, SegmentInfo{Segment: Segment{Offset: ev.Offset, Header: h, End: open}})
		case KindFrames:
			e := &segs[len(segs)-1].End
			e.Last, e.LastHash = ev.Last, ev.LastHash
			e.Frames += ev.Last - ev.First + 1
			e.Length += uint64(len(ev.Frames))
		case KindEnd:
			s := &segs[len(segs)-1]
			s.End, s.Complete = ev.End, true
		}
	}
}
