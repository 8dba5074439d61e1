package stream

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"filippo.io/age"
)

// Re-keying an age file gives it a new header and keeps the rest:
//
//	old: header(old recipients' stanzas, notes, MAC) nonce chunk*
//	new: header(notes, new recipients' stanzas, MAC)  nonce chunk*  (copied byte for byte)
//
// The payload is sealed with a key derived from the 16-byte file key and
// the nonce, so wrapping the same file key for new recipients, under a
// header MAC (HMAC-SHA256 keyed by HKDF-SHA256(file key, "header") over the
// header up to and including "---"), makes a file they decrypt, without
// decrypting or re-encrypting a byte of the payload.

// NotePrefix begins the type of a stanza that is one of hotpipe's own
// plaintext notes in an age header (the end of a repository object, say),
// not a file key wrapped for a recipient. Rekey carries notes over.
const NotePrefix = "hotpipe-"

// ErrNotAge means an input Rekey was given is not an age file. It comes
// wrapped with ErrDecrypt: an input that should be encrypted and is not.
var ErrNotAge = errors.New("not an age file")

// RekeyOptions says whose key opens the old header and whom the new one is
// for.
type RekeyOptions struct {
	// Identities are tried on the old header's stanzas; one must unwrap
	// the file key.
	Identities []age.Identity
	// Recipients are whom the new header wraps the file key for, at least
	// one. age's rules for using them together hold: post-quantum and
	// classic recipients are not mixed.
	Recipients []age.Recipient
}

// RekeyResult is what Rekey read and wrote, also when it failed part way.
// Its Verify checks a copy of the output.
type RekeyResult struct {
	OldHeader int64    // bytes of the header read
	NewHeader int64    // bytes of the header written
	Payload   int64    // bytes copied after the header: the nonce and the sealed chunks
	Notes     []string // types of the hotpipe- stanzas carried over, in order
	header    []byte   // the header written
	fileKey   []byte
}

// Rekey reads the age file src and writes to dst the same file for new
// recipients: the file key unwrapped from src's header with one of
// opts.Identities, wrapped anew for each of opts.Recipients after src's
// note stanzas (NotePrefix), in their order; src's other stanzas are
// dropped; the nonce and payload are copied as they are. A recipient in
// opts.Recipients may write notes of its own (a new hotpipe-end, say):
// they follow the carried ones. Nothing is
// written before the new header is made and checked with age's own parser.
//
// Rekey authenticates the header, not the payload, which it does not
// decrypt: run the result's Verify on what was written before relying on
// it (and before deleting src). Errors: src not age, ErrNotAge with
// ErrDecrypt; no identity matching, *EncryptedError; a damaged header,
// ErrDecrypt; a payload whose length no age file has, *DecryptError;
// unusable recipients, ErrRecipient. ctx is checked between reads.
func Rekey(ctx context.Context, dst io.Writer, src io.Reader, opts RekeyOptions) (RekeyResult, error) {
	var res RekeyResult
	if len(opts.Recipients) == 0 {
		return res, fmt.Errorf("%w: re-keying needs at least one new recipient", ErrRecipient)
	}
	cr := &countingReader{r: src}
	br := bufio.NewReaderSize(cr, 64<<10)
	old, fileKey, err := openHeader(br, cr, opts.Identities)
	res.OldHeader = int64(len(old))
	if err != nil {
		return res, err
	}
	notes := noteStanzas(old)
	hdr, err := newHeader(fileKey, notes, opts.Recipients)
	if err != nil {
		return res, err
	}
	for _, s := range notes {
		res.Notes = append(res.Notes, s.Type)
	}
	if err := Stopped(ctx); err != nil {
		return res, err
	}
	if _, err := dst.Write(hdr); err != nil {
		return res, err
	}
	res.NewHeader, res.header, res.fileKey = int64(len(hdr)), hdr, fileKey
	res.Payload, err = copyPayload(ctx, dst, br)
	if err != nil {
		return res, err
	}
	return res, checkPayloadSize(res.OldHeader, res.Payload)
}

// openHeader reads the age header from br, which reads cr (age parses
// straight from a *bufio.Reader it is given, so br stops right after the
// header), and returns it with the file key one of ids unwraps from it.
func openHeader(br *bufio.Reader, cr *countingReader, ids []age.Identity) ([]byte, []byte, error) {
	head, err := br.Peek(len(ageMagic))
	if err != nil && err != io.EOF {
		return nil, nil, err
	}
	if !IsAge(head) {
		return nil, nil, fmt.Errorf("%w: %w (it does not begin with %q)", ErrDecrypt, ErrNotAge, strings.TrimSpace(string(ageMagic)))
	}
	old, err := age.ExtractHeader(br)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: age header: %w", ErrDecrypt, err)
	}
	if read := cr.n - int64(br.Buffered()); read != int64(len(old)) {
		// age's parser takes only canonical headers, which marshal back
		// to the bytes they came from.
		return old, nil, fmt.Errorf("%w: age header of %d bytes reads back as %d", ErrDecrypt, read, len(old))
	}
	if len(ids) == 0 {
		return old, nil, &EncryptedError{Recipients: stanzaTypes(old)}
	}
	fileKey, err := age.DecryptHeader(old, ids...)
	var nomatch *age.NoIdentityMatchError
	switch {
	case errors.As(err, &nomatch):
		return old, nil, &EncryptedError{Recipients: nomatch.StanzaTypes, Tried: len(ids), Err: err}
	case err != nil:
		return old, nil, fmt.Errorf("%w: age header: %w", ErrDecrypt, err)
	}
	return old, fileKey, nil
}

// stanzas returns the stanzas of hdr, a header age parsed before.
func stanzas(hdr []byte) []*age.Stanza {
	var c capture
	age.DecryptHeader(hdr, &c) // c matches none: the error is expected
	return c.stanzas
}

// capture is an identity that matches no stanza and keeps those it saw.
type capture struct{ stanzas []*age.Stanza }

func (c *capture) Unwrap(s []*age.Stanza) ([]byte, error) {
	c.stanzas = s
	return nil, age.ErrIncorrectIdentity
}

// stanzaTypes returns the type of each stanza of hdr.
func stanzaTypes(hdr []byte) []string {
	var types []string
	for _, s := range stanzas(hdr) {
		types = append(types, s.Type)
	}
	return types
}

// noteStanzas returns the stanzas of hdr that are hotpipe's notes, in order.
func noteStanzas(hdr []byte) []*age.Stanza {
	var notes []*age.Stanza
	for _, s := range stanzas(hdr) {
		if strings.HasPrefix(s.Type, NotePrefix) {
			notes = append(notes, s)
		}
	}
	return notes
}

// newHeader returns an age header that holds notes and then fileKey
// wrapped for each of rs. age.Encrypt marshals it, through recipients that
// wrap fileKey in place of the random key Encrypt draws, and checks that
// rs may be used together; the MAC Encrypt computed with its own key is
// then replaced by the MAC under fileKey. Before it is returned, age parses
// the header, finds it canonical, and checks its MAC with fileKey.
func newHeader(fileKey []byte, notes []*age.Stanza, rs []age.Recipient) ([]byte, error) {
	wrap := make([]age.Recipient, len(rs))
	for i, r := range rs {
		wrap[i] = &fixedKey{r: r, fileKey: fileKey}
	}
	wrap[0].(*fixedKey).notes = notes
	var buf bytes.Buffer
	if _, err := age.Encrypt(&buf, wrap...); err != nil { // writes the header and the nonce
		return nil, fmt.Errorf("%w: new recipients: %w", ErrRecipient, err)
	}
	b := buf.Bytes()[:max(buf.Len()-ageNonce, 0)]
	mac := bytes.LastIndex(b, []byte("\n--- "))
	if mac < 0 || !bytes.HasSuffix(b, []byte("\n")) {
		return nil, fmt.Errorf("age wrote a header without a MAC line")
	}
	body := b[:mac+len("\n---")]
	hdr := append(slices.Clip(body), " "+base64.RawStdEncoding.EncodeToString(headerMAC(fileKey, body))+"\n"...)
	if err := checkHeader(hdr, fileKey, notes); err != nil {
		return nil, fmt.Errorf("the new age header does not check: %w", err)
	}
	return hdr, nil
}

// headerMAC is age's header MAC: HMAC-SHA256 over body, the header up to
// and including "---", keyed by HKDF-SHA256(fileKey, no salt, "header").
func headerMAC(fileKey, body []byte) []byte {
	key, err := hkdf.Key(sha256.New, fileKey, nil, "header", 32)
	if err != nil {
		panic("stream: HKDF-SHA256 refused a 32-byte key: " + err.Error()) // only past 255*32 bytes
	}
	h := hmac.New(sha256.New, key)
	h.Write(body)
	return h.Sum(nil)
}

// checkHeader has age parse hdr and check its MAC with fileKey, and
// checks that hdr is canonical (marshals back to itself) and begins with
// notes, unchanged.
func checkHeader(hdr, fileKey []byte, notes []*age.Stanza) error {
	if _, err := age.DecryptHeader(hdr, age.NewInjectedFileKeyIdentity(fileKey)); err != nil {
		return err
	}
	again, err := age.ExtractHeader(bytes.NewReader(hdr))
	if err != nil || !bytes.Equal(again, hdr) {
		return fmt.Errorf("it does not marshal back to itself (%v)", err)
	}
	got := stanzas(hdr)
	for i, n := range notes {
		if i >= len(got) || got[i].Type != n.Type || !slices.Equal(got[i].Args, n.Args) || !bytes.Equal(got[i].Body, n.Body) {
			return fmt.Errorf("stanza %d is not the note %s", i, n.Type)
		}
	}
	return nil
}

// fixedKey is a recipient that wraps fileKey, whatever key it is given,
// after the stanzas notes, keeping the labels of r (see
// age.RecipientWithLabels).
type fixedKey struct {
	r       age.Recipient
	fileKey []byte
	notes   []*age.Stanza
}

func (f *fixedKey) WrapWithLabels([]byte) ([]*age.Stanza, []string, error) {
	var (
		s      []*age.Stanza
		labels []string
		err    error
	)
	if r, ok := f.r.(age.RecipientWithLabels); ok {
		s, labels, err = r.WrapWithLabels(f.fileKey)
	} else {
		s, err = f.r.Wrap(f.fileKey)
	}
	if err != nil {
		return nil, nil, err
	}
	return append(slices.Clone(f.notes), s...), labels, nil
}

func (f *fixedKey) Wrap(fileKey []byte) ([]*age.Stanza, error) {
	s, _, err := f.WrapWithLabels(fileKey)
	return s, err
}

// copyPayload copies the rest of br (the nonce and the chunks) to dst,
// checking ctx between reads, and returns the bytes copied.
func copyPayload(ctx context.Context, dst io.Writer, br *bufio.Reader) (int64, error) {
	buf := make([]byte, 256<<10)
	var n int64
	for {
		if err := Stopped(ctx); err != nil {
			return n, err
		}
		k, rerr := br.Read(buf)
		if k > 0 {
			w, err := dst.Write(buf[:k])
			n += int64(w)
			if err != nil {
				return n, err
			}
		}
		switch {
		case rerr == io.EOF:
			return n, nil
		case rerr != nil:
			return n, rerr
		}
	}
}

// checkPayloadSize refuses a payload (nonce and chunks, after a header of
// hdr bytes) whose length no age file has: no nonce, no chunk, or a last
// chunk too short to hold its tag (age's rule: every chunk but the last
// full, the last non-empty unless it is the only one).
func checkPayloadSize(hdr, payload int64) error {
	if payload < ageNonce {
		return fmt.Errorf("%w: the age nonce at offset %d is cut short (%d of %d bytes)", ErrDecrypt, hdr, payload, ageNonce)
	}
	const enc = ageChunk + ageChunkTag
	chunks := payload - ageNonce
	last := max((chunks+enc-1)/enc-1, 0)
	tail := chunks - last*enc // bytes of the last chunk
	if chunks == 0 || tail < ageChunkTag || tail == ageChunkTag && last > 0 {
		return &DecryptError{Chunk: last, Offset: hdr + ageNonce + last*enc,
			Err: fmt.Errorf("the payload is cut short: %d bytes of chunks is not a length age writes", chunks)}
	}
	return nil
}

// Verify reads src, a copy of what Rekey wrote, and checks it whole: the
// header Rekey wrote, then every payload chunk decrypted and authenticated
// with the file key, through to the chunk sealed as the last and nothing
// after it. It needs none of the new recipients' identities. A header that
// differs is ErrDecrypt; a damaged, cut or missing chunk is *DecryptError.
// ctx is checked between chunks.
func (r RekeyResult) Verify(ctx context.Context, src io.Reader) error {
	if r.header == nil {
		return errors.New("stream: Verify of a Rekey that wrote no header")
	}
	got := make([]byte, len(r.header))
	if n, err := io.ReadFull(src, got); err != nil {
		return fmt.Errorf("%w: the age header is cut short at offset %d of %d: %w", ErrDecrypt, n, len(got), err)
	}
	if !bytes.Equal(got, r.header) {
		i := 0
		for got[i] == r.header[i] {
			i++
		}
		return fmt.Errorf("%w: the age header differs from the one written, at offset %d", ErrDecrypt, i)
	}
	plain, err := age.Decrypt(io.MultiReader(bytes.NewReader(got), src), age.NewInjectedFileKeyIdentity(r.fileKey))
	if err != nil {
		return fmt.Errorf("%w: after the age header (offset %d): %w", ErrDecrypt, len(got), err)
	}
	ar := &ageReader{r: plain, payload: int64(len(got)) + ageNonce}
	buf := make([]byte, ageChunk)
	for {
		if err := Stopped(ctx); err != nil {
			return err
		}
		if _, err := ar.Read(buf); err == io.EOF {
			return nil
		} else if err != nil {
			return err
		}
	}
}
