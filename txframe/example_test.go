package txframe_test

import (
	"fmt"
	"log"

	"github.com/hotpipe/hotpipe/txframe"
)

// Frames are encoded one after another, each chained to the one before by
// its hash, and read back with Decode, which checks each frame's CRC.
func Example() {
	var log1 []byte
	var prev txframe.Hash // h(0): 32 zero bytes
	for lsn, value := range []string{"alice", "bob"} {
		var err error
		log1, prev, err = txframe.Append(log1, prev, uint64(lsn+1), int64(lsn+1)*1e9,
			[]txframe.Entry{{Op: txframe.OpPut, Key: []byte("user"), Value: []byte(value)}})
		if err != nil {
			log.Fatal(err)
		}
	}
	tip := txframe.Tip{}
	for f := range txframe.Frames(log1) {
		fr, _, err := txframe.Decode(f)
		if err != nil {
			log.Fatal(err)
		}
		h, _ := txframe.Peek(f)
		if err := txframe.VerifyChain(tip.Hash, f); err != nil {
			log.Fatal(err)
		}
		tip = txframe.Tip{LSN: h.LSN, Time: h.Time, Hash: h.Hash}
		fmt.Printf("LSN %d: %s = %s\n", fr.LSN, fr.Entries[0].Key, fr.Entries[0].Value)
	}
	fmt.Println("last hash is the chain's:", tip.Hash == prev)
	// Output:
	// LSN 1: user = alice
	// LSN 2: user = bob
	// last hash is the chain's: true
}
