package stream

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"filippo.io/age"
	"filippo.io/age/agessh"
)

// ErrRecipient means a recipient (a public key a backup is encrypted to)
// that cannot be used: not a key age knows, a secret key given in its
// place, or a recipients file that names none. It is wrapped in a
// *RecipientError saying where.
var ErrRecipient = errors.New("not an age recipient")

// maxRecipientsFile bounds what ParseRecipients reads (age's own limit):
// a recipients file is a few lines, and a larger one is a mistake.
const maxRecipientsFile = 16 << 20

// maxRecipientLine bounds one line: an ssh-rsa key of 16384 bits is under
// 3 KiB, and the scanner's buffer never grows past this.
const maxRecipientLine = 64 << 10

// RecipientError says which recipient was refused: the source (a file's
// name, or "--recipient") and, in a file, the line. It wraps ErrRecipient,
// and the reason when there is one.
type RecipientError struct {
	Source string
	Line   int // 1-based; 0 when Source is not a file
	Reason string
	Err    error // the reason from the age library, if any
}

// Error names the source, the line and the reason; never the key itself,
// which may be a secret key pasted in the wrong place.
func (e *RecipientError) Error() string {
	where := e.Source
	if e.Line > 0 {
		where = fmt.Sprintf("%s, line %d", e.Source, e.Line)
	}
	if e.Err != nil {
		return fmt.Sprintf("%s: %v: %s: %v", where, ErrRecipient, e.Reason, e.Err)
	}
	return fmt.Sprintf("%s: %v: %s", where, ErrRecipient, e.Reason)
}

// Unwrap returns ErrRecipient and the age library's reason.
func (e *RecipientError) Unwrap() []error { return []error{ErrRecipient, e.Err} }

// ParseRecipient parses one public key to encrypt to: an age X25519
// recipient (age1...), a post-quantum hybrid one (age1pq1...), or an SSH
// public key (ssh-ed25519 ..., ssh-rsa ...) as in authorized_keys. source
// names where it came from, for the error.
func ParseRecipient(s, source string) (age.Recipient, error) {
	return parseRecipient(strings.TrimSpace(s), source, 0)
}

func parseRecipient(s, source string, line int) (age.Recipient, error) {
	refuse := func(reason string, err error) error {
		return &RecipientError{Source: source, Line: line, Reason: reason, Err: err}
	}
	var r age.Recipient
	var err error
	switch {
	case strings.HasPrefix(s, "AGE-SECRET-KEY-"):
		return nil, refuse("this is a secret key (an identity): give its public key (age-keygen -y prints it) and keep the secret key off the backup host", nil)
	case strings.HasPrefix(s, "-----BEGIN"):
		return nil, refuse("this is a private key file: give the public key (the .pub file)", nil)
	case strings.HasPrefix(s, "age1pq1"):
		r, err = age.ParseHybridRecipient(s)
	case strings.HasPrefix(s, "age1"):
		r, err = age.ParseX25519Recipient(s)
	case strings.HasPrefix(s, "ssh-"):
		r, err = agessh.ParseRecipient(s)
	case strings.HasPrefix(s, "ecdsa-") || strings.HasPrefix(s, "sk-"):
		return nil, refuse("age encrypts to ssh-ed25519 and ssh-rsa keys only, not "+strings.Fields(s)[0], nil)
	case s == "":
		return nil, refuse("empty", nil)
	default:
		return nil, refuse("unknown key type: want an age public key (age1...) or an SSH public key (ssh-ed25519, ssh-rsa)", nil)
	}
	if err != nil {
		return nil, refuse("malformed key", err)
	}
	return r, nil
}

// ParseRecipients parses a recipients file in the age format: one
// recipient (as ParseRecipient takes it) a line; blank lines and lines
// starting with # are ignored. A file that names no recipient is refused,
// since encrypting to nobody would make a backup nobody can read. name
// names the file in errors.
func ParseRecipients(r io.Reader, name string) ([]age.Recipient, error) {
	lr := &io.LimitedReader{R: r, N: maxRecipientsFile + 1}
	sc := bufio.NewScanner(lr)
	sc.Buffer(make([]byte, 0, 4096), maxRecipientLine)
	var rs []age.Recipient
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if !utf8.ValidString(line) {
			return nil, &RecipientError{Source: name, Line: n, Reason: "not valid UTF-8"}
		}
		rec, err := parseRecipient(line, name, n)
		if err != nil {
			return nil, err
		}
		rs = append(rs, rec)
	}
	if err := sc.Err(); err != nil {
		return nil, &RecipientError{Source: name, Line: n + 1, Reason: "unreadable", Err: err}
	}
	if lr.N == 0 {
		return nil, &RecipientError{Source: name, Reason: fmt.Sprintf("longer than %d MiB: not a recipients file", maxRecipientsFile>>20)}
	}
	if len(rs) == 0 {
		return nil, &RecipientError{Source: name, Reason: "no recipients in it (only blank lines and # comments)"}
	}
	return rs, nil
}
