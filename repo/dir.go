package repo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// Permissions of what the directory store makes. Objects hold a database's
// contents, so they are private to their owner, as backup files are.
const (
	dirPerm  fs.FileMode = 0o700
	filePerm fs.FileMode = 0o600
)

// tempPrefix starts the name of an object being written. No valid name
// starts with ".", so a temp file is never listed, opened or overwritten as
// an object, and Cleanup can find it.
const tempPrefix = ".tmp-"

// copyBufferSize is the size of Create's copy buffer: large writes keep the
// number of system calls per gigabyte low.
const copyBufferSize = 1 << 20

// dirStore keeps each object as a file under root, at the object's name.
//
// Create writes a temp file beside the object, fsyncs it, and hard-links it
// to the object's name: link(2) fails with EEXIST where a name exists, so
// two writers can never replace each other's object (rename would), and the
// object appears whole or not at all. The temp name is then removed and the
// directory fsynced, so the object's name is durable before Create returns.
type dirStore struct {
	root string // absolute, clean
	fs   fileSystem
}

// newDirStore returns the store at root, which need not exist yet: Create
// makes it. root must not be something other than a directory.
func newDirStore(root string) (*dirStore, error) {
	fi, err := os.Stat(root)
	switch {
	case err == nil && !fi.IsDir():
		return nil, fmt.Errorf("%w %q: not a directory", ErrURL, root)
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("%s: %w", root, err)
	}
	return &dirStore{root: root, fs: osFS{}}, nil
}

// String returns the store's absolute path.
func (d *dirStore) String() string { return d.root }

// path returns the file of the object name.
func (d *dirStore) path(name string) string {
	return filepath.Join(d.root, filepath.FromSlash(name))
}

// errorf wraps err with the store, operation and name.
func (d *dirStore) errorf(op, name string, err error) error {
	return opError(d.root, op, name, err)
}

// Create stores r as the object name: see Store.Create.
func (d *dirStore) Create(ctx context.Context, name string, r io.Reader, size int64) error {
	if err := checkCreate(name, size); err != nil {
		return d.errorf("create", name, err)
	}
	if err := ctx.Err(); err != nil {
		return d.errorf("create", name, err)
	}
	path := d.path(name)
	dir := filepath.Dir(path)
	if err := d.mkdirAll(dir); err != nil {
		return d.errorf("create", name, fmt.Errorf("%w; no object was made", err))
	}
	tmp, err := d.fs.createTemp(dir)
	if err != nil {
		return d.errorf("create", name, err)
	}
	if err := writeTemp(ctx, tmp, r, size); err != nil {
		return d.errorf("create", name, d.discard(err, tmp.Name()))
	}
	if err := d.fs.link(tmp.Name(), path); err != nil && !linkedAnyway(tmp.Name(), path) {
		if errors.Is(err, fs.ErrExist) {
			err = ErrExist
		}
		return d.errorf("create", name, d.discard(err, tmp.Name()))
	}
	// The object is whole under its name. A temp name that cannot be
	// removed is a second link to it, harmless until Cleanup removes it.
	_ = os.Remove(tmp.Name())
	if err := d.fs.syncDir(dir); err != nil {
		// The name may not survive a crash: take it back rather than have
		// a reader (or this caller) count on it.
		if rerr := os.Remove(path); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
			return d.errorf("create", name, fmt.Errorf("fsync of the directory: %w; the object could not be removed (%v) and may not survive a crash", err, rerr))
		}
		return d.errorf("create", name, fmt.Errorf("fsync of the directory: %w; no object was made", err))
	}
	return nil
}

// checkCreate checks Create's name and size.
func checkCreate(name string, size int64) error {
	if err := CheckName(name); err != nil {
		return err
	}
	if size < -1 {
		return fmt.Errorf("%w: size %d", ErrSize, size)
	}
	return nil
}

// writeTemp copies r into tmp, checks that it yielded size bytes (unless
// size is -1), fsyncs and closes tmp.
func writeTemp(ctx context.Context, tmp tempFile, r io.Reader, size int64) error {
	src := io.Reader(ctxReader{ctx, r})
	if size >= 0 {
		src = io.LimitReader(src, size+1) // one byte more tells a longer r
	}
	// writerOnly hides *os.File's ReadFrom, whose fallback for a reader
	// that is not a file or socket copies 32 KiB at a time.
	n, err := io.CopyBuffer(writerOnly{tmp}, src, make([]byte, copyBufferSize))
	if err == nil && size >= 0 && n != size {
		err = sizeError(n, size)
	}
	if err == nil {
		if err = tmp.Sync(); err != nil {
			err = fmt.Errorf("fsync: %w", err)
		}
	}
	if cerr := tmp.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("close: %w", cerr)
	}
	return err
}

// sizeError says how the bytes a reader yielded differ from the size given.
func sizeError(got, want int64) error {
	if got > want {
		return fmt.Errorf("%w: the reader yielded more than the %d bytes given", ErrSize, want)
	}
	return fmt.Errorf("%w: the reader yielded %d bytes, not the %d given", ErrSize, got, want)
}

// discard removes the temp file of a failed Create and says in err what it
// left behind.
func (d *dirStore) discard(err error, tmp string) error {
	if rerr := os.Remove(tmp); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
		return fmt.Errorf("%w; no object was made, and the temp file %s could not be removed (%v): Cleanup removes it", err, tmp, rerr)
	}
	return fmt.Errorf("%w; no object was made", err)
}

// linkedAnyway reports whether a link that failed made path a link to tmp
// all the same: over NFS, a retransmitted LINK whose first try succeeded
// answers EEXIST.
func linkedAnyway(tmp, path string) bool {
	a, err := os.Stat(tmp)
	if err != nil {
		return false
	}
	b, err := os.Stat(path)
	return err == nil && os.SameFile(a, b)
}

// mkdirAll makes dir and its missing parents, fsyncing each new
// directory's parent so that its name is durable.
func (d *dirStore) mkdirAll(dir string) error {
	fi, err := os.Stat(dir)
	if err == nil {
		if !fi.IsDir() {
			return fmt.Errorf("%s is a file, not a directory: a name cannot be both an object and a directory", dir)
		}
		return nil
	}
	parent := filepath.Dir(dir)
	if parent != dir {
		if err := d.mkdirAll(parent); err != nil {
			return err
		}
	}
	// A racing Create may make it first; fsync the parent all the same,
	// since that Create may not have done so yet.
	if err := os.Mkdir(dir, dirPerm); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	if err := d.fs.syncDir(parent); err != nil {
		// Take the directory back (if still empty), so that the next
		// Create makes it again and fsyncs its parent; otherwise it would
		// find it and count on a name that may not survive a crash.
		_ = os.Remove(dir)
		return fmt.Errorf("fsync of %s: %w", parent, err)
	}
	return nil
}

// Open opens the object name: see Store.Open.
func (d *dirStore) Open(ctx context.Context, name string) (Object, error) {
	if err := CheckName(name); err != nil {
		return nil, d.errorf("open", name, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, d.errorf("open", name, err)
	}
	f, err := os.Open(d.path(name))
	if err != nil {
		if notExist(err) {
			err = ErrNotExist
		}
		return nil, d.errorf("open", name, err)
	}
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = ErrNotExist // a directory of other objects
	}
	if err != nil {
		_ = f.Close() // read-only: nothing to lose
		return nil, d.errorf("open", name, err)
	}
	return &fileObject{File: f, size: fi.Size()}, nil
}

// notExist reports whether err means a path does not exist, including a
// path through a file (ENOTDIR), which is not an object either.
func notExist(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || isNotDir(err)
}

// fileObject is an open object of a directory store. Objects are
// immutable, so the size read at Open holds.
type fileObject struct {
	*os.File
	size int64
}

// Size returns the object's length in bytes.
func (o *fileObject) Size() int64 { return o.size }

// Delete removes the object name: see Store.Delete. The directory is not
// fsynced: a deletion a crash undoes brings back a whole object, which the
// caller deleted as redundant. Emptied directories are left in place, as a
// racing Create may be about to write into one.
func (d *dirStore) Delete(ctx context.Context, name string) error {
	if err := CheckName(name); err != nil {
		return d.errorf("delete", name, err)
	}
	if err := ctx.Err(); err != nil {
		return d.errorf("delete", name, err)
	}
	path := d.path(name)
	fi, err := os.Lstat(path)
	switch {
	case err != nil && notExist(err):
		return nil
	case err != nil:
		return d.errorf("delete", name, err)
	case fi.IsDir():
		return nil // a directory of other objects, not an object
	}
	if err := os.Remove(path); err != nil && !notExist(err) {
		return d.errorf("delete", name, err)
	}
	return nil
}

// writerOnly is an io.Writer and nothing else.
type writerOnly struct{ io.Writer }

// ctxReader is r that fails once ctx is done, so a Create from a reader
// that never ends can be cancelled between reads.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
