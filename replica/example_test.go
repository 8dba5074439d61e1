package replica_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"os"

	"github.com/hotpipe/hotpipe/engine"
	"github.com/hotpipe/hotpipe/replica"
	"github.com/hotpipe/hotpipe/stream"
	"github.com/hotpipe/hotpipe/txframe"
)

// An application restores a database from a backup stream it reads from
// an io.Reader: a file, a pipe, an HTTP body. Here the stream is made in
// memory from a database of three transactions.
func Example() {
	dir, err := os.MkdirTemp("", "replica-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	backup := backupOf(dir, "foo", "hello", "hej", "hallo")

	in := []stream.Input{{Name: "foo.backup", R: bytes.NewReader(backup)}}
	res, err := replica.Restore(context.Background(), dir, "bar", stream.NewReader(in, stream.Options{}), replica.Options{
		Progress: func(p replica.Progress) { fmt.Printf("progress: LSN %d, %d frames\n", p.Last, p.Frames) },
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("applied LSN %d..%d; bar is at LSN %d, replica %v\n", res.First, res.Last, res.State.LSN, res.State.Replica)

	bar, err := engine.Open(dir, "bar", engine.Options{ReadOnly: true})
	if err != nil {
		log.Fatal(err)
	}
	defer bar.Close()
	v, err := bar.Get([]byte("greeting"))
	fmt.Printf("greeting = %s (%v)\n", v, err)
	// Output:
	// progress: LSN 3, 3 frames
	// applied LSN 1..3; bar is at LSN 3, replica false
	// greeting = hallo (<nil>)
}

// backupOf creates database name in dir, commits each greeting in a
// transaction of its own, and returns a stream of all its frames, as
// hot-backup writes it.
func backupOf(dir, name string, greetings ...string) []byte {
	if _, err := engine.Create(dir, name, engine.CreateOptions{}); err != nil {
		log.Fatal(err)
	}
	db, err := engine.Open(dir, name, engine.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	for _, g := range greetings {
		if _, err := db.Commit([]txframe.Entry{{Op: txframe.OpPut, Key: []byte("greeting"), Value: []byte(g)}}); err != nil {
			log.Fatal(err)
		}
	}
	m, err := db.Meta()
	if err != nil {
		log.Fatal(err)
	}
	var buf bytes.Buffer
	w, err := stream.NewWriter(&buf, stream.Header{Origin: m.Origin, Name: name, Created: m.Created})
	if err != nil {
		log.Fatal(err)
	}
	frames, err := db.Frames(1, 0)
	if err != nil {
		log.Fatal(err)
	}
	defer frames.Close()
	for {
		block, err := frames.Next()
		if err == io.EOF {
			break
		}
		if err == nil {
			err = w.WriteFrames(block)
		}
		if err != nil {
			log.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		log.Fatal(err)
	}
	return buf.Bytes()
}
