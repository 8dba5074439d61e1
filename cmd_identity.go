package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"filippo.io/age"
	"github.com/urfave/cli/v2"

	"github.com/hotpipe/hotpipe/stream"
)

// identityFlag is --identity: the keys that decrypt age-encrypted input.
func identityFlag() cli.Flag {
	return &cli.StringSliceFlag{Name: "identity", EnvVars: []string{"HOTPIPE_IDENTITY"},
		Usage: "decrypt age-encrypted input with the keys in `FILE` (age or ssh-ed25519/ssh-rsa private key; repeatable)"}
}

// identities reads the --identity files. A file that holds no usable key
// is a usage error: the command line named the wrong file.
func identities(c *cli.Context) ([]age.Identity, error) {
	var ids []age.Identity
	for _, path := range c.StringSlice("identity") {
		if path == "" { // HOTPIPE_IDENTITY set empty: none
			continue
		}
		got, err := stream.ReadIdentityFile(path)
		if errors.Is(err, stream.ErrIdentity) {
			return nil, fmt.Errorf("%w: --identity: %w", errUsage, err)
		}
		if err != nil {
			return nil, fmt.Errorf("--identity: %w", err)
		}
		ids = append(ids, got...)
	}
	return ids, nil
}

// identityHint adds to an error about encrypted input without a key what
// gives one.
func identityHint(err error) error {
	if !errors.Is(err, stream.ErrNoIdentity) {
		return err
	}
	return &hinted{err: err, hint: "give --identity FILE (or HOTPIPE_IDENTITY) holding the key of one of its recipients"}
}

// hinted is an error and what to do about it.
type hinted struct {
	err  error
	hint string
}

func (h *hinted) Error() string { return h.err.Error() + "; " + h.hint }
func (h *hinted) Unwrap() error { return h.err }

// encryptedJSON is what inspect shows of an age-encrypted file it cannot
// decrypt: the type of each recipient stanza in its header, and its size
// (-1 for a pipe). Nothing else in the file can be read without a key.
type encryptedJSON struct {
	Recipients []string `json:"recipients"`
	Bytes      int64    `json:"bytes"`
	// LastLSN is where a repository object ends, from the note in clear
	// in its header (docs/FORMAT.md); absent for other files.
	LastLSN *uint64 `json:"last_lsn,omitempty"`
}

// inspectEncryptedReport is what inspect --json prints for such a file.
type inspectEncryptedReport struct {
	head
	File      string         `json:"file"`
	Encrypted *encryptedJSON `json:"encrypted"`
	Segments  []segmentInfo  `json:"segments"`
}

// encryptedInfo returns what err says of an encrypted file it could not
// list, fi's.
func encryptedInfo(err error, fi os.FileInfo) (*encryptedJSON, bool) {
	var ee *stream.EncryptedError
	if !errors.As(err, &ee) {
		return nil, false
	}
	size := int64(-1)
	if fi.Mode().IsRegular() {
		size = fi.Size()
	}
	enc := &encryptedJSON{Recipients: append([]string{}, ee.Recipients...), Bytes: size}
	if ee.End != nil {
		enc.LastLSN = &ee.End.LSN
	}
	return enc, true
}

// inspectEncrypted shows an encrypted file without its key, and returns
// err (exit 3, with the hint): the segments stay unlisted.
func (e *env) inspectEncrypted(name string, enc *encryptedJSON, err error) error {
	if e.asJSON {
		e.report = &inspectEncryptedReport{File: jsonFile(name), Encrypted: enc, Segments: []segmentInfo{}}
		return err
	}
	size := ""
	if enc.Bytes >= 0 {
		size = fmt.Sprintf(", %d bytes", enc.Bytes)
	}
	if enc.LastLSN != nil {
		size += fmt.Sprintf(", ending at LSN %d (its header's hotpipe-end note)", *enc.LastLSN)
	}
	fmt.Fprintf(e.stdout, "%s: encrypted with age to %d recipient(s) (%s)%s; segments not listed without --identity\n",
		shown(name), len(enc.Recipients), strings.Join(enc.Recipients, ", "), size)
	return err
}
