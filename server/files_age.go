package server

import (
	"fmt"
	"io"
	"os"

	"github.com/hotpipe/hotpipe/stream"
)

// EncryptedFileError refuses to verify a file of the backup directory
// that is encrypted with age: the server holds no identities (a backup
// host should hold only public keys), so it cannot read the frames, and
// an answer without them must not look like a verified file. It wraps
// stream.ErrNoIdentity, an integrity error (exit 3, answered 422).
type EncryptedFileError struct {
	Name string // the file, as the client names it
}

// Error says what the file is and how to verify it where its key is.
func (e *EncryptedFileError) Error() string {
	return fmt.Sprintf("%s is encrypted (age), and the server holds no identities to decrypt it, so it cannot verify it: "+
		"copy it from the server's backup directory and verify it where its key is: hotpipe verify %s --identity FILE", e.Name, e.Name)
}

// Unwrap returns stream.ErrNoIdentity.
func (e *EncryptedFileError) Unwrap() error { return stream.ErrNoIdentity }

// refuseEncrypted returns an *EncryptedFileError when f, the file name of
// the backup directory, begins as an age file.
func refuseEncrypted(f *os.File, name string) error {
	head := make([]byte, 32)
	n, err := f.ReadAt(head, 0)
	if err != nil && err != io.EOF {
		return fmt.Errorf("read %s: %w", name, err)
	}
	if stream.IsAge(head[:n]) {
		return &EncryptedFileError{Name: name}
	}
	return nil
}
