package verify_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/hotpipe/hotpipe/engine"
	"github.com/hotpipe/hotpipe/stream"
	"github.com/hotpipe/hotpipe/txframe"
	"github.com/hotpipe/hotpipe/verify"
)

// backup returns a segment of the frames of LSNs base+1..last, chained
// from prev = h(base), as hot-backup writes it, and h(last).
func backup(base, last uint64, prev txframe.Hash) ([]byte, txframe.Hash, error) {
	var buf bytes.Buffer
	w, err := stream.NewWriter(&buf, stream.Header{Name: "foo", Created: time.Unix(1_800_000_000, 0), Base: base, BaseHash: prev})
	if err != nil {
		return nil, prev, err
	}
	for lsn := base + 1; lsn <= last; lsn++ {
		entry := txframe.Entry{Op: txframe.OpPut, Key: fmt.Appendf(nil, "user:%d", lsn), Value: []byte("alice")}
		commit := time.Unix(1_800_000_000+int64(lsn), 0).UnixNano()
		var frame []byte
		if frame, prev, err = txframe.Append(nil, prev, lsn, commit, []txframe.Entry{entry}); err != nil {
			return nil, prev, err
		}
		if err := w.WriteFrames(frame); err != nil {
			return nil, prev, err
		}
	}
	if err := w.Close(); err != nil { // the end record
		return nil, prev, err
	}
	return buf.Bytes(), prev, nil
}

// A full backup of three transactions and an increment of two, made in
// memory, verified as one stream; then the full backup cut short.
func Example() {
	full, h3, err := backup(0, 3, txframe.Hash{})
	if err != nil {
		log.Fatal(err)
	}
	inc, _, err := backup(3, 5, h3)
	if err != nil {
		log.Fatal(err)
	}
	inputs := []stream.Input{{Name: "full.backup", R: bytes.NewReader(full)}, {Name: "inc.backup", R: bytes.NewReader(inc)}}
	rep, err := verify.Stream(context.Background(), inputs, verify.Options{})
	if err != nil {
		log.Fatal(err) // only a cancelled context stops a check
	}
	for _, in := range rep.Inputs {
		fmt.Printf("%s: LSN %d..%d, %d frames\n", in.Source, in.First, in.Last, in.Frames)
	}
	fmt.Printf("ok %v: LSN %d..%d, %d frames, %d segments, %d bytes\n", rep.OK(), rep.First, rep.Last, rep.Frames, rep.Segments, rep.Bytes)
	fmt.Printf("commit times: %s .. %s\n", rep.FirstTime.Format(time.RFC3339), rep.LastTime.Format(time.RFC3339))
	fmt.Println("final hash:", rep.FinalHash)

	cut := []stream.Input{{Name: "cut.backup", R: bytes.NewReader(full[:len(full)-10])}}
	rep, err = verify.Stream(context.Background(), cut, verify.Options{
		OnFinding: func(f verify.Finding) {
			fmt.Printf("finding: %s offset %d (LSN %d), truncated: %v\n", f.Source, f.Offset, f.LSN, errors.Is(f, stream.ErrTruncated))
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("ok:", rep.OK(), "error is the finding's:", errors.Is(rep.Err(), stream.ErrTruncated))
	// Output:
	// full.backup: LSN 1..3, 3 frames
	// inc.backup: LSN 4..5, 2 frames
	// ok true: LSN 1..5, 5 frames, 2 segments, 850 bytes
	// commit times: 2027-01-15T08:00:01Z .. 2027-01-15T08:00:05Z
	// final hash: 555dec5998468ac93041b0237bad5df48f5b7dc39a5ab1388e312b3e28fd0488
	// finding: cut.backup offset 386 (LSN 4), truncated: true
	// ok: false error is the finding's: true
}

// A database checked with a display of its progress: the percentage of
// the bytes it will read and an ETA, known from the start. A database of
// a few MiB or more is reported on every MiB; this small one only at the
// end.
func ExampleDatabase() {
	dir, err := os.MkdirTemp("", "verify-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	if _, err := engine.Create(dir, "foo", engine.CreateOptions{}); err != nil {
		log.Fatal(err)
	}
	w, err := engine.Open(dir, "foo", engine.Options{})
	if err != nil {
		log.Fatal(err)
	}
	for i := range 3 {
		if _, err := w.Commit([]txframe.Entry{{Op: txframe.OpPut, Key: fmt.Appendf(nil, "user:%d", i), Value: []byte("alice")}}); err != nil {
			log.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		log.Fatal(err)
	}

	db, err := engine.Open(dir, "foo", engine.Options{ReadOnly: true}) // as db check does, beside a writer
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	start := time.Now()
	rep, err := verify.Database(context.Background(), db, verify.Options{
		Progress: func(p verify.Progress) {
			if p.TotalBytes == 0 || p.Bytes == 0 {
				return // nothing to show a share of yet
			}
			done := float64(p.Bytes) / float64(p.TotalBytes)
			eta := time.Duration(float64(time.Since(start)) * (1 - done) / done)
			fmt.Printf("LSN %d of %d, %.0f%%, ETA %s\n", p.LSN, p.End, 100*done, eta.Round(time.Second))
		},
	})
	if err != nil {
		log.Fatal(err) // cancelled, or a file could not be read
	}
	fmt.Printf("ok %v: LSN 1..%d, %d frames\n", rep.OK(), rep.Last, rep.Frames)
	// Output:
	// LSN 3 of 3, 100%, ETA 0s
	// ok true: LSN 1..3, 3 frames
}
