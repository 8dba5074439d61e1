package main

import (
	"errors"
	"fmt"
	"io"
	"syscall"

	"filippo.io/age"

	"github.com/hotpipe/hotpipe/backup"
)

// checkRemoteRecipients refuses, before the server is asked, recipients
// age cannot encrypt to together (post-quantum beside classic ones), as
// the local backup refuses them.
func checkRemoteRecipients(db string, recipients []age.Recipient) error {
	if len(recipients) == 0 {
		return nil
	}
	if _, err := age.Encrypt(io.Discard, recipients...); err != nil {
		return backupError(fmt.Errorf("%w: recipients: %v", backup.ErrOptions, err), db, "")
	}
	return nil
}

// sealedOutput is where hot-backup --addr writes the server's stream on
// stdout: w itself, or with recipients an age writer to them, which the
// client encrypts into (the stream crosses the network in clear, which
// the token and TLS protect; the keys are the client's). seal writes the
// last chunk: call it only once the stream has ended whole, so that a
// stream stopped early reads as truncated, as the local backup's does.
func sealedOutput(w io.Writer, recipients []age.Recipient) (out io.Writer, seal func() error, err error) {
	if len(recipients) == 0 {
		return w, func() error { return nil }, nil
	}
	enc, err := age.Encrypt(w, recipients...) // writes the age header
	if errors.Is(err, syscall.EPIPE) {
		return nil, nil, errBrokenPipe
	}
	if err != nil {
		return nil, nil, fmt.Errorf("hot-backup: writing the age header: %w", err)
	}
	return enc, enc.Close, nil
}
