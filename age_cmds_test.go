package main

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/pem"
	"os"
	"strings"

	"filippo.io/age"
	"filippo.io/age/agessh"
	"github.com/rogpeppe/go-internal/testscript"
	"golang.org/x/crypto/ssh"
)

// cmdAgeKey writes a new private key to NAME and its public key (a
// recipient, one line) to NAME.pub: an age X25519 key, or with -ssh an
// OpenSSH ssh-ed25519 key, or with -ecdsa an ecdsa one (a type age cannot
// use).
//
//	agekey [-ssh|-ecdsa] NAME
func cmdAgeKey(ts *testscript.TestScript, neg bool, args []string) {
	kind := ""
	if len(args) == 2 {
		kind, args = args[0], args[1:]
	}
	if neg || len(args) != 1 || (kind != "" && kind != "-ssh" && kind != "-ecdsa") {
		ts.Fatalf("usage: agekey [-ssh|-ecdsa] NAME")
	}
	var priv, pub string
	switch kind {
	case "":
		id, err := age.GenerateX25519Identity()
		ts.Check(err)
		priv, pub = "# an age key\n"+id.String()+"\n", id.Recipient().String()
	default:
		var key any
		var err error
		if kind == "-ssh" {
			_, key, err = ed25519.GenerateKey(rand.Reader)
		} else {
			key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		}
		ts.Check(err)
		block, err := ssh.MarshalPrivateKey(key, "")
		ts.Check(err)
		signer, err := ssh.NewSignerFromKey(key)
		ts.Check(err)
		priv, pub = string(pem.EncodeToMemory(block)), strings.TrimSpace(string(ssh.MarshalAuthorizedKey(signer.PublicKey())))
	}
	ts.Check(os.WriteFile(ts.MkAbs(args[0]), []byte(priv), 0o600))
	ts.Check(os.WriteFile(ts.MkAbs(args[0]+".pub"), []byte(pub+"\n"), 0o644))
}

// cmdAgeEnc encrypts file IN with age to the recipients in the files PUB
// (as agekey writes them), into OUT.
//
//	ageenc IN OUT PUB...
func cmdAgeEnc(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 3 {
		ts.Fatalf("usage: ageenc IN OUT PUB...")
	}
	var to []age.Recipient
	for _, p := range args[2:] {
		line := strings.TrimSpace(ts.ReadFile(p))
		var r age.Recipient
		var err error
		if strings.HasPrefix(line, "ssh-") {
			r, err = agessh.ParseRecipient(line)
		} else {
			r, err = age.ParseX25519Recipient(line)
		}
		ts.Check(err)
		to = append(to, r)
	}
	in, err := os.ReadFile(ts.MkAbs(args[0]))
	ts.Check(err)
	out, err := os.Create(ts.MkAbs(args[1]))
	ts.Check(err)
	w, err := age.Encrypt(out, to...)
	ts.Check(err)
	_, err = w.Write(in)
	ts.Check(err)
	ts.Check(w.Close())
	ts.Check(out.Close())
}
