package repo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"time"

	"filippo.io/age"

	"github.com/hotpipe/hotpipe/backup"
	"github.com/hotpipe/hotpipe/engine"
	"github.com/hotpipe/hotpipe/stream"
	"github.com/hotpipe/hotpipe/txframe"
)

// ArchiveOptions tune the continuous archive.
type ArchiveOptions struct {
	// MaxDelay bounds how long a committed frame waits before the object
	// holding it is written: the recovery point objective. 0 means a
	// second.
	MaxDelay time.Duration
	// ObjectSize bounds an object's frames: once that many bytes of
	// frames wait, an object is written before MaxDelay is up, and a
	// backlog (an archive catching up) is cut into objects of at most
	// that many bytes of frames (or one frame, if larger). 0 means 64 MiB.
	ObjectSize int64
	// Stop, when closed, ends the archive gracefully: what is durable then
	// is written as a last object, and Archive returns nil. Cancelling
	// ctx instead aborts at once, leaving no partial object.
	Stop <-chan struct{}
	// Progress, if set, is called after each object and while waiting,
	// about every poll.
	Progress func(ArchiveProgress)
	// Written, if set, is called with each object once it is stored.
	Written func(Entry)
	// GiveUpAfter bounds how long the archive retries a repository
	// operation that fails with ErrUnavailable (the store is down, cut
	// off, or answering 5xx) before it returns that error. 0 means five
	// minutes; a negative value retries for ever.
	GiveUpAfter time.Duration
	// RetryWait is the first wait before a retry; each retry doubles it,
	// up to 30 s, with jitter. 0 means a second.
	RetryWait time.Duration
	// Retrying, if set, is called with each failure the archive retries,
	// before it waits.
	Retrying func(Retry)
	// Recipients, when set, encrypt each object with age to each of them
	// (see Name.Encrypted). The archive needs no identity: it resumes by
	// the note in clear in each object's header.
	Recipients []age.Recipient
}

// Retry is a failed repository operation the archive is about to try
// again.
type Retry struct {
	Attempt int           // attempts made so far
	Err     error         // the last attempt's error
	Wait    time.Duration // before the next attempt
}

// ArchiveProgress is how far the archive is behind its database.
type ArchiveProgress struct {
	DB           string
	Archived     uint64    // last LSN archived
	ArchivedTime time.Time // its commit time: the recovery point
	Durable      uint64    // the database's last durable LSN
	Lag          time.Duration
	Objects      int   // objects this run wrote
	Bytes        int64 // their bytes
}

// Lag in LSNs: durable at the source and not yet archived.
func (p ArchiveProgress) LagLSNs() uint64 { return p.Durable - min(p.Archived, p.Durable) }

// ErrAhead means the repository holds more of a history than the
// database it is asked to archive: it is not that history's source (an
// older copy, or one that went its own way). It is txframe.ErrHistory to
// errors.Is.
var ErrAhead = fmt.Errorf("the repository is ahead of the database (%w)", txframe.ErrHistory)

// ErrOtherArchive means another archive is writing the same database's
// history into the repository: two would write every frame twice, so the
// one that notices stops.
var ErrOtherArchive = errors.New("another archive is writing this database into the repository")

// archivePoll is how often a waiting archive looks at its database.
const archivePoll = 50 * time.Millisecond

// Archive follows db into the repository until ctx is cancelled or
// opts.Stop is closed: whenever a committed frame has waited MaxDelay, or
// ObjectSize bytes are waiting, the frames durable then become one
// object. It starts after the last LSN the repository holds of db's
// history from LSN 1 (checking that the hash there is db's, else
// txframe.ErrHistory), so that a restarted archive leaves no gap.
func (r *Repository) Archive(ctx context.Context, db *engine.DB, opts ArchiveOptions) error {
	if opts.MaxDelay <= 0 {
		opts.MaxDelay = time.Second
	}
	if opts.ObjectSize <= 0 {
		opts.ObjectSize = 64 << 20
	}
	if opts.GiveUpAfter == 0 {
		opts.GiveUpAfter = 5 * time.Minute
	}
	if opts.RetryWait <= 0 {
		opts.RetryWait = time.Second
	}
	a := &archiver{r: r, db: db, opts: opts}
	if err := a.retry(ctx, func(int) error { return a.resume(ctx) }); err != nil {
		return err
	}
	for {
		stopping, err := a.wait(ctx)
		if err != nil {
			return err
		}
		if err := a.cut(ctx); err != nil {
			return err
		}
		if stopping {
			return nil
		}
	}
}

type archiver struct {
	r      *Repository
	db     *engine.DB
	opts   ArchiveOptions
	origin txframe.Origin
	prog   ArchiveProgress
}

// resume finds where the repository's copy of db's history ends and
// checks that it is db's.
func (a *archiver) resume(ctx context.Context) error {
	meta, err := a.db.Meta()
	if err != nil {
		return err
	}
	a.origin, a.prog.DB = meta.Origin, a.db.Name()
	c, err := a.r.Catalog(ctx, a.db.Name())
	if err != nil {
		return err
	}
	h := c.History(a.db.Name(), meta.Origin)
	if h == nil {
		return nil
	}
	last, lastTime := h.Restorable()
	if last == 0 {
		return nil
	}
	durable, hash, err := a.db.State()
	if err != nil {
		return err
	}
	if last > durable {
		return fmt.Errorf("%s: %w: it holds LSN %d of %s's history, the database ends at %d: archive the database it comes from, or into another repository",
			a.r, ErrAhead, last, a.db.Name(), durable)
	}
	if last < durable {
		if hash, err = a.db.HashAt(last); err != nil {
			return err
		}
	}
	end, err := a.r.lastEnd(ctx, h, last)
	if err != nil {
		return err
	}
	if err := end.same(hash, a.db.Name()); err != nil {
		return err
	}
	a.prog.Archived, a.prog.ArchivedTime = last, lastTime
	return nil
}

// lastEnd reads how an object of h ending at last ends.
func (r *Repository) lastEnd(ctx context.Context, h *History, last uint64) (objectEnd, error) {
	for _, e := range h.Objects {
		if e.Last == last {
			return r.end(ctx, e)
		}
	}
	return objectEnd{}, fmt.Errorf("%s: no object of %s ends at LSN %d", r, h.name(), last)
}

// wait returns once an object is due: a frame has waited MaxDelay (by its
// commit time, or since the archive saw it, whichever is earlier), or
// ObjectSize bytes are waiting, or Stop was closed (stopping).
func (a *archiver) wait(ctx context.Context) (stopping bool, err error) {
	var dueAt time.Time // zero while nothing waits
	base, err := a.db.Size()
	if err != nil {
		return false, err
	}
	for {
		if err := a.pause(ctx, dueAt); err != nil {
			return false, err
		}
		durable, _, err := a.db.State()
		if err != nil {
			return false, err
		}
		a.prog.Durable = durable
		if durable > a.prog.Archived && dueAt.IsZero() {
			t, err := commitTime(a.db, a.prog.Archived+1)
			if err != nil {
				return false, err
			}
			dueAt = minTime(t, time.Now()).Add(a.opts.MaxDelay)
		}
		a.report()
		select {
		case <-a.opts.Stop:
			return true, nil
		default:
		}
		if dueAt.IsZero() {
			continue
		}
		size, err := a.db.Size()
		if err != nil {
			return false, err
		}
		if !time.Now().Before(dueAt) || size-base >= a.opts.ObjectSize {
			return false, nil
		}
	}
}

// pause waits for something to look at: while nothing waits (dueAt is
// zero), a new durable frame or the next poll; once a frame waits, the
// next poll or dueAt, whichever is sooner, however fast frames come. It
// returns early when Stop is closed.
func (a *archiver) pause(ctx context.Context, dueAt time.Time) error {
	if dueAt.IsZero() {
		_, err := a.db.WaitDurable(ctx, a.prog.Archived, archivePoll)
		if ctx.Err() != nil {
			return stream.Stopped(ctx)
		}
		return err
	}
	t := time.NewTimer(min(archivePoll, time.Until(dueAt)))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return stream.Stopped(ctx)
	case <-a.opts.Stop:
	case <-t.C:
	}
	return nil
}

// cut writes what is durable and not yet archived, as objects of at most
// ObjectSize bytes of frames (or one frame, if larger).
func (a *archiver) cut(ctx context.Context) error {
	end, _, err := a.db.State()
	if err != nil {
		return err
	}
	for a.prog.Archived < end {
		last, err := lastWithin(a.db, a.prog.Archived+1, end, a.opts.ObjectSize)
		if err != nil {
			return err
		}
		if err := a.cutOne(ctx, last); err != nil {
			return err
		}
	}
	return nil
}

// lastWithin returns the last LSN, from first to end, such that the frames
// first..it take at most size bytes; first if its frame alone is larger.
// It reads the frames once, from the page cache as a rule: they were just
// written.
func lastWithin(db *engine.DB, first, end uint64, size int64) (uint64, error) {
	fr, err := db.Frames(first, end)
	if err != nil {
		return 0, err
	}
	defer fr.Close()
	var n int64
	last := first - 1
	for {
		block, err := fr.Next()
		if err == io.EOF {
			return end, nil
		}
		if err != nil {
			return 0, err
		}
		for f := range txframe.Frames(block) {
			if n += int64(len(f)); n > size && last >= first {
				return last, nil
			}
			last++
		}
	}
}

// cutOne writes frames Archived+1..last as one object.
func (a *archiver) cutOne(ctx context.Context, last uint64) error {
	n, err := nameFor(a.db, a.origin, a.prog.Archived+1, last)
	if err != nil {
		return err
	}
	n.Kind, n.Encrypted = Archive, len(a.opts.Recipients) > 0
	var e Entry
	err = a.retry(ctx, func(attempt int) error {
		var err error
		e, _, err = a.r.put(ctx, a.db, n, backup.Options{Recipients: a.opts.Recipients})
		switch {
		case errors.Is(err, ErrExist) && attempt > 1:
			e, err = a.adopt(ctx, n)
		case errors.Is(err, ErrExist):
			err = fmt.Errorf("%s: %w: %s exists already; this one stops", a.r, ErrOtherArchive, n)
		}
		return err
	})
	if err != nil {
		return err
	}
	if err := a.retry(ctx, func(int) error { return a.alone(ctx, e) }); err != nil {
		return err
	}
	a.prog.Archived, a.prog.ArchivedTime = n.Last, n.LastTime
	a.prog.Objects++
	a.prog.Bytes += e.Size
	a.report()
	if a.opts.Written != nil {
		a.opts.Written(e)
	}
	return nil
}

// adopt takes the object n as this archive's own when an attempt to
// create it failed, and a later one found it: the failed attempt's
// request arrived although its answer was lost. Its last hash must be
// db's there.
func (a *archiver) adopt(ctx context.Context, n Name) (Entry, error) {
	e := Entry{Name: n, Key: n.String()}
	o, err := a.r.store.Open(ctx, e.Key)
	if err != nil {
		return Entry{}, fmt.Errorf("%s: %s: %w", a.r, e.Key, err)
	}
	e.Size = o.Size()
	o.Close()
	theirs, err := a.r.end(ctx, e)
	if err != nil {
		return Entry{}, err
	}
	ours, err := a.db.HashAt(n.Last)
	if err != nil {
		return Entry{}, err
	}
	return e, theirs.same(ours, a.db.Name())
}

// retry runs op until it succeeds, fails with an error other than
// ErrUnavailable, or has failed for opts.GiveUpAfter: then the error says
// how long and how often it was tried. It waits between attempts, longer
// each time.
func (a *archiver) retry(ctx context.Context, op func(attempt int) error) error {
	var first time.Time
	next := a.opts.RetryWait
	for attempt := 1; ; attempt++ {
		err := op(attempt)
		if err == nil || !errors.Is(err, ErrUnavailable) || ctx.Err() != nil {
			return err
		}
		if first.IsZero() {
			first = time.Now()
		}
		wait := jitter(next)
		next = min(2*next, maxRetryWait)
		if tried := time.Since(first); a.opts.GiveUpAfter > 0 && tried+wait > a.opts.GiveUpAfter {
			return fmt.Errorf("archiving %s: gave up after %d attempts over %s: %w", a.db.Name(), attempt, tried.Round(time.Millisecond), err)
		}
		if a.opts.Retrying != nil {
			a.opts.Retrying(Retry{Attempt: attempt, Err: err, Wait: wait})
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return stream.Stopped(ctx)
		case <-t.C:
		}
	}
}

// maxRetryWait bounds the wait between two attempts.
const maxRetryWait = 30 * time.Second

// jitter returns d give or take a quarter, so that archives that failed
// together do not retry together.
func jitter(d time.Duration) time.Duration {
	return d - d/4 + rand.N(d/2+1)
}

// alone checks that no other archive object holds any of e's LSNs, as
// another archiver of the same database would have written: one listing
// from e's first LSN on.
func (a *archiver) alone(ctx context.Context, e Entry) error {
	prefix := Prefix(e.DB, e.Origin)
	after := prefix + fmt.Sprintf("%020d~", e.First-1) // past every name of First-1
	for info, err := range a.r.store.List(ctx, prefix, after) {
		if err != nil {
			return err
		}
		n, err := ParseName(info.Name)
		if err != nil || n.Kind != Archive || info.Name == e.Key {
			continue
		}
		if n.First > e.Last {
			break
		}
		return fmt.Errorf("%s: %w: %s holds LSNs this one just wrote (%s); this one stops", a.r, ErrOtherArchive, info.Name, e.Key)
	}
	return nil
}

// report hands the progress to opts.Progress, with the lag: how long ago
// the last frame archived was committed, when frames wait after it (they
// were all committed after it).
func (a *archiver) report() {
	if a.opts.Progress == nil {
		return
	}
	p := a.prog
	if p.Durable > p.Archived && !p.ArchivedTime.IsZero() {
		p.Lag = max(time.Since(p.ArchivedTime), 0)
	}
	a.opts.Progress(p)
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
