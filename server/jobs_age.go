package server

import (
	"fmt"
	"io"

	"filippo.io/age"

	"github.com/hotpipe/hotpipe/stream"
)

// Limits of a job's recipients: a few public keys, each a line. They
// bound what one request makes the server parse, within maxJobBody.
const (
	// maxJobRecipients bounds the recipients of one job.
	maxJobRecipients = 64
	// maxRecipientLen bounds one recipient: an ssh-rsa key of 16384 bits
	// in authorized_keys form is under 3 KiB.
	maxRecipientLen = 8 << 10
)

// jobRecipients parses a job request's recipients (nil when it has none):
// public keys as hot-backup --recipient takes them, each named by its
// index in errors (never by its text, which may be a secret key pasted in
// the wrong place). A bad one, too many, or a job that cannot encrypt is
// a usage error, answered 400 before the job starts.
func jobRecipients(req JobRequest) ([]age.Recipient, error) {
	if len(req.Recipients) == 0 {
		return nil, nil
	}
	usage := func(format string, args ...any) error {
		return fmt.Errorf("%w: job of %s: %s", errUsage, req.DB, fmt.Sprintf(format, args...))
	}
	switch {
	case len(req.Recipients) > maxJobRecipients:
		return nil, usage("%d recipients: give at most %d", len(req.Recipients), maxJobRecipients)
	case req.Append:
		return nil, usage("recipients: append cannot add to an encrypted backup: age seals a file's last chunk, which only a private key could reopen; " +
			"back up what is new into a new file instead")
	}
	rs := make([]age.Recipient, 0, len(req.Recipients))
	for i, s := range req.Recipients {
		where := fmt.Sprintf("recipients[%d]", i)
		if len(s) > maxRecipientLen {
			return nil, usage("%s: %v: longer than %d bytes", where, stream.ErrRecipient, maxRecipientLen)
		}
		r, err := stream.ParseRecipient(s, where)
		if err != nil {
			return nil, fmt.Errorf("%w: job of %s: %w", errUsage, req.DB, err)
		}
		rs = append(rs, r)
	}
	if _, err := age.Encrypt(io.Discard, rs...); err != nil { // age refuses to mix post-quantum and classic recipients
		return nil, usage("recipients: %v", err)
	}
	return rs, nil
}
