// Command copydb copies database SRC to DST in DATADIR through hotpipe's
// packages alone: what `hotpipe hot-backup SRC | hotpipe hot-restore DST`
// does, in one process, while SRC's writers go on committing.
//
//	go run ./examples/copydb DATADIR SRC DST
package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"os"

	"github.com/hotpipe/hotpipe/backup"
	"github.com/hotpipe/hotpipe/engine"
	"github.com/hotpipe/hotpipe/replica"
	"github.com/hotpipe/hotpipe/stream"
)

func main() {
	if len(os.Args) != 4 {
		log.Fatal("usage: copydb DATADIR SRC DST")
	}
	st, err := copyDB(context.Background(), os.Args[1], os.Args[2], os.Args[3])
	if err != nil {
		log.Fatal(err)
	}
	fmt.Fprintf(os.Stdout, "%s: LSN %d, h %s\n", os.Args[3], st.LSN, st.Hash) // the result is this program's data
}

// copyDB backs src up into a pipe and restores dst from the other end.
func copyDB(ctx context.Context, dataDir, src, dst string) (*replica.State, error) {
	db, err := engine.Open(dataDir, src, engine.Options{ReadOnly: true}) // a lock-free reader
	if err != nil {
		return nil, err
	}
	defer db.Close()
	pr, pw := io.Pipe()
	go func() {
		_, err := backup.Backup(ctx, db, pw, backup.Options{}) // LSN 1 to the last durable one
		pw.CloseWithError(err)
	}()
	r := stream.NewReader([]stream.Input{{Name: src, R: pr}}, stream.Options{})
	res, err := replica.Restore(ctx, dataDir, dst, r, replica.Options{}) // every frame verified first
	// A failed restore stops the backup too.
	pr.CloseWithError(err)
	return res.State, err
}
