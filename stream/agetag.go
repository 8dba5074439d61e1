package stream

import (
	"bufio"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"filippo.io/age"

	"github.com/hotpipe/hotpipe/txframe"
)

// An encrypted repository object carries one note in clear in its age
// header, a stanza that wraps no key:
//
//	-> hotpipe-end LSN TAG
//
// LSN is the object's last LSN and TAG (unpadded base64) is
// SHA-256("hotpipe end tag v1\n" || h(LSN)). A host that holds the
// database but no identity (the archive resuming, adopting an object whose
// answer was lost) compares it with its own h(LSN) without decrypting.
// The tag is a one-way function of a hash of the whole history up to LSN,
// so it confirms a guess only of every frame from LSN 1 on; h(LSN) itself,
// which would let a guess of the next object's frames alone be confirmed,
// is not shown. Identities skip the stanza, as they skip any of a type
// they do not know, so the object stays an ordinary age file.
const endTagType = NotePrefix + "end"

// EndTag is the note an encrypted repository object's header carries.
type EndTag struct {
	LSN uint64
	Tag [sha256.Size]byte
}

// NewEndTag returns the note for an object ending at lsn with hash h.
func NewEndTag(lsn uint64, h txframe.Hash) EndTag {
	d := sha256.New()
	d.Write([]byte("hotpipe end tag v1\n"))
	d.Write(h[:])
	t := EndTag{LSN: lsn}
	d.Sum(t.Tag[:0])
	return t
}

// Matches reports whether h is the hash the tag was made from at its LSN.
func (t EndTag) Matches(h txframe.Hash) bool { return NewEndTag(t.LSN, h) == t }

func (t EndTag) String() string {
	return fmt.Sprintf("%s %d %s", endTagType, t.LSN, base64.RawStdEncoding.EncodeToString(t.Tag[:]))
}

// Recipient returns an age recipient that writes the note into the header
// of a file encrypted with it beside the real recipients. like is one of
// those: the note takes its labels, which age requires to agree.
func (t EndTag) Recipient(like age.Recipient) age.Recipient {
	return endTagRecipient{t: t, like: like}
}

type endTagRecipient struct {
	t    EndTag
	like age.Recipient
}

func (r endTagRecipient) stanza() *age.Stanza {
	return &age.Stanza{Type: endTagType, Args: []string{
		strconv.FormatUint(r.t.LSN, 10), base64.RawStdEncoding.EncodeToString(r.t.Tag[:]),
	}}
}

func (r endTagRecipient) Wrap([]byte) ([]*age.Stanza, error) {
	return []*age.Stanza{r.stanza()}, nil
}

// WrapWithLabels gives like's labels.
func (r endTagRecipient) WrapWithLabels(fileKey []byte) ([]*age.Stanza, []string, error) {
	var labels []string
	if l, ok := r.like.(age.RecipientWithLabels); ok {
		var err error
		if _, labels, err = l.WrapWithLabels(fileKey); err != nil {
			return nil, nil, err
		}
	}
	return []*age.Stanza{r.stanza()}, labels, nil
}

// ErrNoEndTag means an age file has no hotpipe-end note (ReadEndTag).
var ErrNoEndTag = errors.New("no hotpipe-end note in its age header")

// maxAgeHeader bounds what ReadEndTag reads: a header of thousands of
// recipients fits.
const maxAgeHeader = 1 << 20

// ReadEndTag reads the header of the age file r, no more than that, and
// returns its hotpipe-end note. A header without one gives ErrNoEndTag;
// input that is no age file, or whose header does not parse, ErrDecrypt.
func ReadEndTag(r io.Reader) (EndTag, error) {
	br := bufio.NewReader(io.LimitReader(r, maxAgeHeader))
	head, err := br.Peek(len(ageMagic))
	if err != nil && err != io.EOF {
		return EndTag{}, err
	}
	if !IsAge(head) {
		return EndTag{}, fmt.Errorf("%w: not an age file", ErrDecrypt)
	}
	var c capture
	_, err = age.Decrypt(br, &c)
	var nomatch *age.NoIdentityMatchError
	if !errors.As(err, &nomatch) {
		return EndTag{}, fmt.Errorf("%w: age header: %v", ErrDecrypt, err)
	}
	var tags []EndTag
	for _, s := range c.stanzas {
		if s.Type != endTagType {
			continue
		}
		t, err := parseEndTag(s)
		if err != nil {
			return EndTag{}, err
		}
		tags = append(tags, t)
	}
	switch len(tags) {
	case 0:
		return EndTag{}, ErrNoEndTag
	case 1:
		return tags[0], nil
	}
	return EndTag{}, fmt.Errorf("%w: %d %s stanzas", ErrDecrypt, len(tags), endTagType)
}

// endTagOf returns the one valid hotpipe-end note among stanzas, nil when
// there is none.
func endTagOf(stanzas []*age.Stanza) *EndTag {
	var found *EndTag
	for _, s := range stanzas {
		if s.Type != endTagType {
			continue
		}
		t, err := parseEndTag(s)
		if err != nil || found != nil {
			return nil
		}
		found = &t
	}
	return found
}

func parseEndTag(s *age.Stanza) (EndTag, error) {
	bad := func(what string) (EndTag, error) {
		return EndTag{}, fmt.Errorf("%w: %s stanza: %s", ErrDecrypt, endTagType, what)
	}
	if len(s.Args) != 2 || len(s.Body) != 0 {
		return bad("not LSN TAG")
	}
	var t EndTag
	lsn, err := strconv.ParseUint(s.Args[0], 10, 64)
	if err != nil || lsn == 0 || s.Args[0] != strconv.FormatUint(lsn, 10) {
		return bad("LSN " + strconv.Quote(s.Args[0]))
	}
	tag, err := base64.RawStdEncoding.Strict().DecodeString(s.Args[1])
	if err != nil || len(tag) != len(t.Tag) {
		return bad("tag " + strconv.Quote(s.Args[1]))
	}
	t.LSN = lsn
	copy(t.Tag[:], tag)
	return t, nil
}

// recipientsOnly returns the stanza types that name recipients, not
// hotpipe's notes.
func recipientsOnly(types []string) []string {
	var out []string
	for _, t := range types {
		if !strings.HasPrefix(t, NotePrefix) {
			out = append(out, t)
		}
	}
	return out
}
