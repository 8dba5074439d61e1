package stream

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"filippo.io/age"
)

// An age v1 file (age-encryption.org/v1) is a header, a 16-byte nonce and
// a payload of chunks:
//
//	"age-encryption.org/v1\n", one stanza per recipient ("-> TYPE args\n"
//	and its base64 body), "--- " MAC "\n"   (the header, at most 2 MiB)
//	nonce [16]byte
//	chunk*: 64 KiB of ciphertext + a 16-byte Poly1305 tag each; the last
//	        chunk is shorter, or full and flagged as the last
//
// Each chunk is authenticated before any of its plaintext is returned, and
// the last one is marked, so a reader never sees a byte of a damaged,
// reordered or missing chunk, and a file cut at a chunk boundary is told
// from a whole one.
var ageMagic = []byte("age-encryption.org/v1\n")

const (
	ageChunk    = 64 << 10 // plaintext bytes per payload chunk
	ageChunkTag = 16       // the Poly1305 tag after each chunk
	ageNonce    = 16       // the payload nonce after the header
)

var (
	// ErrNoIdentity means an input is encrypted with age and no identity
	// given decrypts it: none was given, or none holds the key of one of
	// its recipients. It comes as an *EncryptedError, which names the
	// recipients' types.
	ErrNoIdentity = errors.New("no identity given decrypts it")
	// ErrDecrypt means encrypted input failed authentication: its header
	// or a payload chunk is damaged, cut short or out of order. Nothing
	// from a chunk that failed is read.
	ErrDecrypt = errors.New("encrypted input is damaged")
)

// EncryptedError is an age-encrypted input that cannot be decrypted with
// the identities given. It wraps ErrNoIdentity and, when identities were
// tried, age's *age.NoIdentityMatchError.
type EncryptedError struct {
	Recipients []string // the type of each recipient stanza, in the header's order
	Tried      int      // identities tried
	Err        error
	// End is the hotpipe-end note of the header (an encrypted repository
	// object's), nil when it has none.
	End *EndTag
}

func (e *EncryptedError) Error() string {
	what := fmt.Sprintf("encrypted with age to %d recipient(s) (%s)", len(e.Recipients), strings.Join(e.Recipients, ", "))
	if e.Tried == 0 {
		return what + ", and no identity was given"
	}
	return fmt.Sprintf("%s, and none of the %d identities given holds the key of one of them", what, e.Tried)
}

// Unwrap returns ErrNoIdentity and age's error, when there is one.
func (e *EncryptedError) Unwrap() []error {
	if e.Err == nil {
		return []error{ErrNoIdentity}
	}
	return []error{ErrNoIdentity, e.Err}
}

// IsAge reports whether head, the first bytes of an input, opens an age
// file.
func IsAge(head []byte) bool { return bytes.HasPrefix(head, ageMagic) }

// open returns a reader of the stream bytes of one input: decrypted when it
// is age (with ids), then decompressed when it is xz, gzip, bzip2 or zstd.
func open(r io.Reader, ids []age.Identity, xzDictMax int) (io.Reader, error) {
	cr := &countingReader{r: r}
	br := bufio.NewReaderSize(cr, 64<<10)
	head, err := br.Peek(len(ageMagic))
	if err != nil && err != io.EOF {
		return nil, err
	}
	if !IsAge(head) {
		return decompress(br, xzDictMax)
	}
	plain, err := decrypt(br, cr, ids)
	if err != nil {
		return nil, err
	}
	return decompress(plain, xzDictMax)
}

// decrypt reads the age header from br, which reads cr, and returns a
// reader of the plaintext, decrypted ahead of it in batches on another
// core (see ahead): a restore checks and writes one batch while the next
// is decrypted. br is handed to age as it is (age uses a
// *bufio.Reader it is given), so what br has taken from cr tells where the
// header ended.
func decrypt(br *bufio.Reader, cr *countingReader, ids []age.Identity) (io.Reader, error) {
	// c, tried after ids, sees the stanzas when none of ids matches.
	var c capture
	plain, err := age.Decrypt(br, append(slices.Clip(ids), &c)...)
	var nomatch *age.NoIdentityMatchError
	switch {
	case errors.As(err, &nomatch):
		ee := &EncryptedError{Recipients: recipientsOnly(nomatch.StanzaTypes), Tried: len(ids), End: endTagOf(c.stanzas)}
		if len(ids) > 0 {
			ee.Err = err
		}
		return nil, ee
	case err != nil && len(ids) == 0: // a header that does not parse: nothing to say about it without a key
		return nil, &EncryptedError{}
	case err != nil:
		return nil, fmt.Errorf("%w: age header: %w", ErrDecrypt, err)
	}
	return newAhead(&ageReader{r: plain, payload: cr.n - int64(br.Buffered())}), nil
}

// ageReader is age's plaintext reader, whose errors say which chunk failed
// and where it starts in the ciphertext.
type ageReader struct {
	r       io.Reader
	payload int64 // offset of the first chunk: header and nonce
	plain   int64 // plaintext returned
	err     error
}

func (a *ageReader) Read(p []byte) (int, error) {
	if a.err != nil {
		return 0, a.err
	}
	n, err := a.r.Read(p)
	a.plain += int64(n)
	switch {
	case err == io.EOF:
		a.err = err
	case err != nil:
		// Chunks are read whole, so all plaintext so far is of the chunks
		// before the one that failed.
		chunk := a.plain / ageChunk
		a.err = &DecryptError{Chunk: chunk, Offset: a.payload + chunk*(ageChunk+ageChunkTag), Err: err}
	}
	return n, a.err
}

// DecryptError is a payload chunk of an age input that failed: damaged,
// out of order, cut short or missing. It wraps ErrDecrypt and age's error.
type DecryptError struct {
	Chunk  int64 // its index, from 0
	Offset int64 // where it starts in the encrypted input
	Err    error
}

func (e *DecryptError) Error() string {
	return fmt.Sprintf("%v: age payload chunk %d, at offset %d of the encrypted input: %v", ErrDecrypt, e.Chunk, e.Offset, e.Err)
}

// Unwrap returns ErrDecrypt and age's error.
func (e *DecryptError) Unwrap() []error { return []error{ErrDecrypt, e.Err} }

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// Open returns a reader of the stream bytes of one input as a Reader
// reads them: decrypted with opts.Identities when it is age, then
// decompressed when it is xz, gzip, bzip2 or zstd (bounded by
// opts.XZDictMax; 0 means DefaultXZDictMax). A client that sends a stream
// on (a remote restore) reads its inputs with it.
func Open(r io.Reader, opts Options) (io.Reader, error) {
	if opts.XZDictMax == 0 {
		opts.XZDictMax = DefaultXZDictMax
	}
	return open(r, opts.Identities, opts.XZDictMax)
}
