package backup_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"os"

	"github.com/hotpipe/hotpipe/backup"
	"github.com/hotpipe/hotpipe/engine"
	"github.com/hotpipe/hotpipe/stream"
	"github.com/hotpipe/hotpipe/txframe"
)

// An application backs up its own database into an io.Writer (here a
// buffer; a pipe or a file alike) while it keeps the
// database open for writing, and checks the backup with a stream reader,
// which verifies every frame's CRC and chained hash and the end record.
func Example() {
	dir, err := os.MkdirTemp("", "example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	if _, err := engine.Create(dir, "app", engine.CreateOptions{}); err != nil {
		log.Fatal(err)
	}
	db, err := engine.Open(dir, "app", engine.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	for _, user := range []string{"alice", "bob", "carol"} {
		put := txframe.Entry{Op: txframe.OpPut, Key: []byte("user:" + user), Value: []byte(user + "@example.com")}
		if _, err := db.Commit([]txframe.Entry{put}); err != nil {
			log.Fatal(err)
		}
	}

	var buf bytes.Buffer
	res, err := backup.Backup(context.Background(), db, &buf, backup.Options{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("backed up LSN %d..%d: %d frames, end record written: %v\n", res.First, res.Last, res.Frames, res.Ended)

	r := stream.NewReader([]stream.Input{{Name: "app.backup", R: &buf}}, stream.Options{})
	for {
		ev, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			log.Fatal(err) // a damaged or truncated backup
		}
		switch ev.Kind {
		case stream.KindFrames:
			for f := range txframe.Frames(ev.Frames) {
				tx, _, err := txframe.Decode(f)
				if err != nil {
					log.Fatal(err)
				}
				fmt.Printf("LSN %d: put %s\n", tx.LSN, tx.Entries[0].Key)
			}
		case stream.KindEnd:
			fmt.Printf("end record: %d frames, LSN %d..%d\n", ev.End.Frames, ev.End.First, ev.End.Last)
		}
	}
	// Output:
	// backed up LSN 1..3: 3 frames, end record written: true
	// LSN 1: put user:alice
	// LSN 2: put user:bob
	// LSN 3: put user:carol
	// end record: 3 frames, LSN 1..3
}
