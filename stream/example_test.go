package stream_test

import (
	"bytes"
	"fmt"
	"io"
	"log"
	"time"

	"github.com/hotpipe/hotpipe/stream"
	"github.com/hotpipe/hotpipe/txframe"
)

// A segment is a header, blocks of frames and an end record; a Reader checks
// every frame's CRC and chained hash as it reads it back.
func Example() {
	var frames []byte
	var h txframe.Hash
	for lsn := uint64(1); lsn <= 3; lsn++ {
		var err error
		frames, h, err = txframe.Append(frames, h, lsn, int64(lsn)*1e9,
			[]txframe.Entry{{Op: txframe.OpPut, Key: []byte("k"), Value: []byte("v")}})
		if err != nil {
			log.Fatal(err)
		}
	}

	var buf bytes.Buffer
	w, err := stream.NewWriter(&buf, stream.Header{Origin: txframe.NewOrigin(), Name: "shop", Created: time.Now()})
	if err != nil {
		log.Fatal(err)
	}
	if err := w.WriteFrames(frames); err != nil {
		log.Fatal(err)
	}
	if err := w.Close(); err != nil { // the end record
		log.Fatal(err)
	}

	r := stream.NewReader([]stream.Input{{Name: "shop.backup", R: &buf}}, stream.Options{})
	for {
		ev, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			log.Fatal(err)
		}
		switch ev.Kind {
		case stream.KindHeader:
			fmt.Printf("segment of %s based at LSN %d\n", ev.Header.Name, ev.Header.Base)
		case stream.KindFrames:
			fmt.Printf("frames LSN %d..%d, verified\n", ev.First, ev.Last)
		case stream.KindEnd:
			fmt.Printf("end record: %d frames\n", ev.End.Frames)
		}
	}
	last, lastHash := r.Last()
	fmt.Println("last LSN", last, "hash matches:", lastHash == h)
	// Output:
	// segment of shop based at LSN 0
	// frames LSN 1..3, verified
	// end record: 3 frames
	// last LSN 3 hash matches: true
}
