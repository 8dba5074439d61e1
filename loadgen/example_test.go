package loadgen_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/hotpipe/hotpipe/engine"
	"github.com/hotpipe/hotpipe/loadgen"
)

// A test or a demo fills a database with a known workload.
func Example() {
	dataDir, err := os.MkdirTemp("", "loadgen-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dataDir)
	if _, err := engine.Create(dataDir, "foo", engine.CreateOptions{}); err != nil {
		log.Fatal(err)
	}
	db, err := engine.Open(dataDir, "foo", engine.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	w := loadgen.Workload{Seed: 1, Entries: 1, ValueSize: 8}
	last, err := loadgen.Run(context.Background(), db, w, loadgen.Options{Txs: 1000, Workers: 64})
	if err != nil {
		log.Fatal(err)
	}
	v, _ := db.Get([]byte("key00000999"))
	fmt.Println("last LSN", last, "value of the last key", string(v) == string(w.Tx(999)[0].Value))
	// Output: last LSN 1000 value of the last key true
}
