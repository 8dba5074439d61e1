package engine_test

import (
	"fmt"
	"log"
	"os"

	"github.com/hotpipe/hotpipe/engine"
	"github.com/hotpipe/hotpipe/txframe"
)

// An application creates a database, commits transactions (each durable when
// Commit returns) and reads them back.
func Example() {
	dataDir, err := os.MkdirTemp("", "engine-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dataDir)

	if _, err := engine.Create(dataDir, "shop", engine.CreateOptions{}); err != nil {
		log.Fatal(err)
	}
	db, err := engine.Open(dataDir, "shop", engine.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	lsn, err := db.Commit([]txframe.Entry{
		{Op: txframe.OpPut, Key: []byte("user:1"), Value: []byte("alice")},
		{Op: txframe.OpPut, Key: []byte("user:2"), Value: []byte("bob")},
	})
	if err != nil {
		log.Fatal(err)
	}
	if _, err := db.Commit([]txframe.Entry{{Op: txframe.OpDelete, Key: []byte("user:2")}}); err != nil {
		log.Fatal(err)
	}
	v, err := db.Get([]byte("user:1"))
	if err != nil {
		log.Fatal(err)
	}
	last, _, err := db.State()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("first commit at LSN %d; user:1 = %s; last LSN %d\n", lsn, v, last)
	// Output: first commit at LSN 1; user:1 = alice; last LSN 2
}
