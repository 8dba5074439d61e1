package backup

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"filippo.io/age"
)

// ErrEncrypted means a backup that cannot go through age: Append to an
// encrypted file, or a following backup with recipients. An age file ends
// in a chunk sealed as the last one, which only a private key could open
// to add to, and age seals whole 64 KiB chunks, so a following backup would
// hold up to 64 KiB of commits back from its reader while the database is
// idle. Back up what an encrypted file lacks into a new file with Start,
// or follow through an encrypted transport (ssh) instead.
var ErrEncrypted = errors.New("an encrypted backup cannot do this")

// ageMagic begins every age file (its header's version line).
var ageMagic = []byte("age-encryption.org/v1\n")

// checkRecipients refuses options age cannot serve: a following backup
// with recipients, and recipients that cannot be used together (age
// refuses to mix post-quantum and classic recipients).
func checkRecipients(opts Options) error {
	if len(opts.Recipients) == 0 {
		return nil
	}
	if opts.Follow {
		return fmt.Errorf("%w: %w: a following backup would stall: age seals 64 KiB chunks, so an idle stream holds commits back from its reader", ErrOptions, ErrEncrypted)
	}
	if _, err := age.Encrypt(io.Discard, opts.Recipients...); err != nil {
		return fmt.Errorf("%w: recipients: %v", ErrOptions, err)
	}
	return nil
}

// checkAppend refuses the options an append (Append, AppendFrom: fn)
// cannot take: a Start, since the file says where to start, and
// recipients, since it cannot add to an encrypted file and does not add
// plain frames to one. The Result says where the refused run would have
// started.
func checkAppend(fn string, opts Options) (Result, error) {
	if opts.Start > 1 {
		return Result{First: opts.Start}, fmt.Errorf("%w: %s starts where its file ends, not at a Start", ErrOptions, fn)
	}
	if len(opts.Recipients) == 0 {
		return Result{}, nil
	}
	return Result{First: 1}, fmt.Errorf("%w: %w: an age file ends in a chunk sealed as its last, which only a private key could reopen; back up what it lacks into a new file (Start after its last LSN)", ErrOptions, ErrEncrypted)
}

// encrypt has the job write its output through age to its recipients, if
// it has any: the age header now, then the stream in sealed chunks. seal
// writes the last chunk; without it the output reads as truncated.
func (j *job) encrypt() error {
	if len(j.opts.Recipients) == 0 {
		return nil
	}
	enc, err := age.Encrypt(j.out, j.opts.Recipients...)
	if err != nil {
		return j.writeErr(err)
	}
	j.out, j.enc = enc, enc
	return nil
}

// seal writes the last age chunk of an encrypted backup: after it, the
// output decrypts whole.
func (j *job) seal() error {
	if j.enc == nil {
		return nil
	}
	return j.writeErr(j.enc.Close())
}

// isEncrypted reports whether the file of o begins as an age file.
func isEncrypted(o *outFile) (bool, error) {
	head := make([]byte, len(ageMagic))
	n, err := o.f.ReadAt(head, 0)
	if err != nil && err != io.EOF {
		return false, err
	}
	return bytes.Equal(head[:n], ageMagic), nil
}

// encryptedFile is Append's refusal of an age file (when enc).
func encryptedFile(path string, enc bool) error {
	if !enc {
		return nil
	}
	return fmt.Errorf("cannot append to %s: %w: it is encrypted (age), and an age file ends in a chunk sealed as its last, which only a private key could reopen; back up what it lacks into a new file (Start after its last LSN)", path, ErrEncrypted)
}
