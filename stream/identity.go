package stream

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"filippo.io/age"
	"filippo.io/age/agessh"
	"golang.org/x/crypto/ssh"
)

// MaxIdentityFile bounds an identity file: keys are a few hundred bytes
// (an ssh-rsa key a few KiB), so anything larger is not one, and is not
// read into memory.
const MaxIdentityFile = 1 << 20

// ErrIdentity means an identity file holds no key hotpipe can use.
var ErrIdentity = errors.New("not an identity file")

// ReadIdentityFile reads the identities in the file at path (see
// ParseIdentities).
func ReadIdentityFile(path string) ([]age.Identity, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ParseIdentities(f, path)
}

// ParseIdentities reads an identity file, named name in errors: age X25519
// keys (AGE-SECRET-KEY-1... lines; # comments and blank lines are
// skipped), or one unencrypted OpenSSH private key, ssh-ed25519 or ssh-rsa.
// At most MaxIdentityFile bytes are read.
func ParseIdentities(r io.Reader, name string) ([]age.Identity, error) {
	b, err := io.ReadAll(io.LimitReader(r, MaxIdentityFile+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if len(b) > MaxIdentityFile {
		return nil, fmt.Errorf("%w: %s is larger than %d bytes", ErrIdentity, name, MaxIdentityFile)
	}
	if bytes.Contains(b, []byte("-----BEGIN")) {
		return sshIdentity(b, name)
	}
	ids, err := age.ParseIdentities(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v (expected age keys, AGE-SECRET-KEY-1..., or an ssh-ed25519 or ssh-rsa private key)",
			ErrIdentity, name, err)
	}
	return ids, nil
}

// sshIdentity reads an OpenSSH private key.
func sshIdentity(pem []byte, name string) ([]age.Identity, error) {
	id, err := agessh.ParseIdentity(pem)
	var missing *ssh.PassphraseMissingError
	switch {
	case errors.As(err, &missing):
		return nil, fmt.Errorf("%w: %s is protected by a passphrase; give an unencrypted copy of the key, or an age key", ErrIdentity, name)
	case err != nil:
		return nil, fmt.Errorf("%w: %s: %v (ssh keys of type ssh-ed25519 and ssh-rsa are read)", ErrIdentity, name, err)
	}
	return []age.Identity{id}, nil
}
