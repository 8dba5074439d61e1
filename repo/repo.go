package repo

import (
	"context"
	"fmt"
	"io"

	"github.com/hotpipe/hotpipe/backup"
	"github.com/hotpipe/hotpipe/engine"
	"github.com/hotpipe/hotpipe/stream"
	"github.com/hotpipe/hotpipe/txframe"
)

// Repository is a backup repository in a store.
type Repository struct {
	store Store
}

// New returns the repository kept in s.
func New(s Store) *Repository { return &Repository{store: s} }

// Store returns the repository's store.
func (r *Repository) Store() Store { return r.store }

// String names the repository by its store's URL.
func (r *Repository) String() string { return r.store.String() }

// Catalog lists the repository: every history, or db's only when db is
// not empty.
func (r *Repository) Catalog(ctx context.Context, db string) (*Catalog, error) {
	prefix, err := dbPrefix(db)
	if err != nil {
		return nil, err
	}
	var c Catalog
	for info, err := range r.store.List(ctx, prefix, "") {
		if err != nil {
			return nil, err
		}
		c.Add(info.Name, info.Size)
	}
	c.Sort()
	return &c, nil
}

// dbPrefix is the prefix of db's objects, "" (every object) for no db.
func dbPrefix(db string) (string, error) {
	if db == "" {
		return "", nil
	}
	if err := engine.ValidateName(db); err != nil {
		return "", err
	}
	return db + "/", nil
}

// put writes frames n.First..n.Last of db into the new object n, as one
// stream segment, and returns its entry. The object is created only
// whole: a failure leaves none. An encrypted one (opts.Recipients; n says
// so) carries the note of how it ends.
func (r *Repository) put(ctx context.Context, db *engine.DB, n Name, opts backup.Options) (Entry, backup.Result, error) {
	key := n.String()
	if n.Encrypted != (len(opts.Recipients) > 0) {
		return Entry{}, backup.Result{}, fmt.Errorf("%s: %s: encrypted is %v, with %d recipients", r, key, n.Encrypted, len(opts.Recipients))
	}
	if n.Encrypted {
		h, err := db.HashAt(n.Last)
		if err != nil {
			return Entry{}, backup.Result{}, err
		}
		opts.Recipients = withEndTag(opts.Recipients, stream.NewEndTag(n.Last, h))
	}
	opts.Start, opts.End, opts.Follow = n.First, n.Last, false
	pr, pw := io.Pipe()
	var res backup.Result
	done := make(chan error, 1)
	go func() {
		var err error
		res, err = backup.Backup(ctx, db, pw, opts)
		pw.CloseWithError(err)
		done <- err
	}()
	counted := &countingReader{r: pr}
	err := r.store.Create(ctx, key, counted, -1)
	pr.CloseWithError(fmt.Errorf("%s: %w", key, errStopped(err)))
	if berr := <-done; berr != nil && err == nil {
		err = fmt.Errorf("%s: %s: %w", r, key, berr)
	}
	if err != nil { // the store's errors name it and the object
		return Entry{}, res, err
	}
	return Entry{Name: n, Key: key, Size: counted.n}, res, nil
}

// errStopped is what the backup feeding a Create sees once Create has
// returned: its error, or, after success, that nothing more is read.
func errStopped(err error) error {
	if err != nil {
		return err
	}
	return io.ErrClosedPipe
}

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

// nameFor makes the name of an object of db's frames first..last, reading
// their commit times from db.
func nameFor(db *engine.DB, origin txframe.Origin, first, last uint64) (Name, error) {
	t1, err := commitTime(db, first)
	if err != nil {
		return Name{}, err
	}
	t2, err := commitTime(db, last)
	if err != nil {
		return Name{}, err
	}
	return Name{DB: db.Name(), Origin: origin, First: first, Last: last, FirstTime: t1, LastTime: t2}, nil
}
