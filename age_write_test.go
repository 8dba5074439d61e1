package main

import (
	"io"
	"os"

	"filippo.io/age"
	"github.com/rogpeppe/go-internal/testscript"
)

// cmdAgeDecrypt decrypts an age file with the identities in a file, as the
// age CLI would, so that scenarios can check what hot-backup encrypted:
//
//	agedecrypt IDENTITIES IN OUT
//
// With !, decryption must fail (OUT is then not written).
func cmdAgeDecrypt(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 3 {
		ts.Fatalf("usage: agedecrypt IDENTITIES IN OUT")
	}
	idf, err := os.Open(ts.MkAbs(args[0]))
	ts.Check(err)
	defer idf.Close()
	ids, err := age.ParseIdentities(idf)
	ts.Check(err)
	in, err := os.Open(ts.MkAbs(args[1]))
	ts.Check(err)
	defer in.Close()
	r, err := age.Decrypt(in, ids...)
	var plain []byte
	if err == nil {
		plain, err = io.ReadAll(r)
	}
	switch {
	case neg && err == nil:
		ts.Fatalf("agedecrypt: %s decrypted whole", args[1])
	case neg:
		ts.Logf("agedecrypt: %v", err)
		return
	}
	ts.Check(err)
	ts.Check(os.WriteFile(ts.MkAbs(args[2]), plain, 0o600))
}
