package repo

import (
	"context"
	"fmt"
	"io"
	"slices"

	"filippo.io/age"

	"github.com/hotpipe/hotpipe/stream"
	"github.com/hotpipe/hotpipe/txframe"
)

// An encrypted object (Name.Encrypted) is an age file of its stream,
// whose header carries a hotpipe-end note in clear (stream.EndTag): its
// last LSN and a tag of the hash there. The archive and compact compare
// the note with a hash they hold, so a host with the database and only
// the recipients' public keys can resume an encrypted archive; everything
// else about the frames needs an identity.

// withEndTag returns recipients with the recipient that writes tag, the
// note of how the object ends, added; recipients itself is not changed.
func withEndTag(recipients []age.Recipient, tag stream.EndTag) []age.Recipient {
	return append(slices.Clip(recipients), tag.Recipient(recipients[0]))
}

// objectEnd is how an object ends, as read without decrypting it: h(Last)
// from a plain object's end record, the note of an encrypted one.
type objectEnd struct {
	key   string
	lsn   uint64
	plain bool
	hash  txframe.Hash // a plain object's
	tag   stream.EndTag
}

// end reads how the object e ends: one small read at its end, or of an
// encrypted object's header. It must end at the LSN its name says.
func (r *Repository) end(ctx context.Context, e Entry) (objectEnd, error) {
	o, err := r.store.Open(ctx, e.Key)
	if err != nil {
		return objectEnd{}, err
	}
	defer o.Close()
	end := objectEnd{key: r.String() + "/" + e.Key}
	var tail stream.Tail
	if e.Encrypted {
		end.tag, err = stream.ReadEndTag(io.NewSectionReader(o, 0, o.Size()))
		if err != nil {
			return objectEnd{}, fmt.Errorf("%s: %w", end.key, err)
		}
		end.lsn = end.tag.LSN
	} else {
		tail, err = stream.ReadTail(o, o.Size(), e.Key)
		if err != nil {
			return objectEnd{}, err
		}
		end.lsn, end.plain, end.hash, end.tag = tail.Last, true, tail.LastHash, stream.NewEndTag(tail.Last, tail.LastHash)
	}
	if end.lsn != e.Last || end.plain && !tail.Complete {
		return objectEnd{}, fmt.Errorf("%s: %w: it ends at LSN %d, its name says %d", end.key, stream.ErrEndMismatch, end.lsn, e.Last)
	}
	return end, nil
}

// same checks that ours, the hash of ourName at the object's last LSN, is
// the object's.
func (o objectEnd) same(ours txframe.Hash, ourName string) error {
	if o.tag.Matches(ours) {
		return nil
	}
	if o.plain {
		return txframe.SameHash(o.lsn, o.hash, ours, o.key, ourName)
	}
	return fmt.Errorf("%w at LSN %d: the hotpipe-end note of %s is not of %s's h = %s", txframe.ErrHistory, o.lsn, o.key, ourName, ours)
}
