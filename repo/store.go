package repo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"strings"
	"time"
)

// Store is a flat namespace of immutable objects: the storage under a
// repository. Names are relative, slash-separated paths (see CheckName);
// every method checks its name before anything is touched. A Store is safe
// for concurrent use by several goroutines, and several processes may share
// one: Create is the only way an object comes to be, and it never replaces
// one.
//
// A name may not be both an object and a directory of other objects ("a/b"
// and "a/b/c"): a directory cannot hold both, nor can S3 servers that store
// objects as files, such as versitygw's posix backend. Naming schemes keep
// objects at the leaves.
type Store interface {
	// Create stores what r yields as the object name. It is create-only: if
	// name exists, Create fails with an error wrapping ErrExist and the
	// object is untouched. It is atomic: the object appears whole, or not at
	// all, to every reader and after a crash. size is the number of bytes r
	// yields, or -1 when unknown; an r that yields another number fails with
	// ErrSize. A failed Create leaves no object behind, and no temp file or
	// incomplete upload unless the error says so (Cleanup removes those).
	Create(ctx context.Context, name string, r io.Reader, size int64) error

	// Open opens the object name for reading: ErrNotExist if it does not
	// exist. Reads never mix two objects: an open object of a directory
	// store stays readable after Delete; on S3, a read after the object was
	// deleted (or deleted and created again) fails with ErrNotExist.
	Open(ctx context.Context, name string) (Object, error)

	// List yields the objects whose names start with prefix and sort after
	// startAfter (use "" for no bound), in byte order of their names, with
	// their sizes. It reads the store as it goes, so memory does not grow
	// with the number of objects. An error ends the sequence: it is yielded
	// with a zero Info. Nothing is read from modification times.
	List(ctx context.Context, prefix, startAfter string) iter.Seq2[Info, error]

	// Delete removes the object name. Deleting a name that does not exist
	// returns nil: deletion is idempotent, as on S3, which does not say
	// whether a key existed.
	Delete(ctx context.Context, name string) error

	// Cleanup removes what failed Creates left behind (temp files,
	// incomplete multipart uploads) that was started longer than olderThan
	// ago, and returns how many it removed. olderThan must exceed the
	// longest a live Create can take, or Cleanup fails it.
	Cleanup(ctx context.Context, olderThan time.Duration) (int, error)

	// String returns the store's URL: a directory's absolute path, or
	// s3://bucket/prefix. It never includes credentials.
	String() string
}

// Object is an open object: Read streams it from the start, ReadAt reads
// any range (without moving Read's offset), Size is its length in bytes.
// ReadAt may be called from several goroutines at once.
type Object interface {
	io.ReadCloser
	io.ReaderAt
	Size() int64
}

// Info describes an object in a listing.
type Info struct {
	Name string // as given to Create
	Size int64  // in bytes
}

// Errors of every Store. Each is wrapped with the store, the operation and
// the name; test for them with errors.Is.
var (
	// ErrExist means Create found an object of that name: it was not
	// replaced.
	ErrExist = errors.New("object already exists")
	// ErrNotExist means there is no object of that name.
	ErrNotExist = errors.New("object does not exist")
	// ErrName means a name that CheckName refuses.
	ErrName = errors.New("invalid object name")
	// ErrSize means the reader given to Create yielded more or fewer bytes
	// than the size given with it.
	ErrSize = errors.New("object size does not match")
	// ErrURL means a store URL that OpenStore cannot use.
	ErrURL = errors.New("invalid store URL")
	// ErrNoBucket means the S3 bucket does not exist.
	ErrNoBucket = errors.New("bucket does not exist")
	// ErrAccess means the storage refused the credentials, or their region,
	// or did not let them do what was asked.
	ErrAccess = errors.New("access denied")
	// ErrUnavailable means the storage could not be reached or kept
	// failing (S3 5xx answers, cut connections) after retries.
	ErrUnavailable = errors.New("storage unavailable")
)

// Limits of a name. A name is a relative path on every filesystem the
// directory store runs on and an S3 key that needs no escaping beyond URL
// encoding.
const (
	// MaxNameLen is S3's limit on a key. An S3 store's prefix counts
	// against it too: Create refuses a name too long to fit after it.
	MaxNameLen = 1024
	// maxSegmentLen is NAME_MAX of common filesystems (ext4, XFS, APFS,
	// NTFS): a longer segment cannot be a file or directory name.
	maxSegmentLen = 255
)

// CheckName reports whether name can name an object: 1 to MaxNameLen bytes
// of segments separated by "/", each segment 1 to 255 bytes of ASCII letters,
// digits and "-_.~+=,@", not starting with "." (so no "." or "..", no hidden
// or temp files of the directory store). Leading, trailing and doubled
// slashes, spaces, backslashes and control, non-ASCII and shell or Windows
// special characters are refused. The error wraps ErrName and says why.
//
// Names that differ only in case are two objects on S3 and Linux but one
// file on macOS and Windows: naming schemes use one case.
func CheckName(name string) error {
	if why := nameProblem(name); why != "" {
		return fmt.Errorf("%w %q: %s", ErrName, truncate(name), why)
	}
	return nil
}

// nameProblem returns why name is refused, or "".
func nameProblem(name string) string {
	switch {
	case name == "":
		return "empty"
	case len(name) > MaxNameLen:
		return fmt.Sprintf("%d bytes, more than %d", len(name), MaxNameLen)
	}
	for seg := range strings.SplitSeq(name, "/") {
		switch {
		case seg == "":
			return "empty path segment (leading, trailing or doubled /)"
		case len(seg) > maxSegmentLen:
			return fmt.Sprintf("path segment of %d bytes, more than %d", len(seg), maxSegmentLen)
		case seg[0] == '.':
			return "path segment starts with \".\""
		}
		for i := 0; i < len(seg); i++ {
			if !nameByte(seg[i]) {
				return fmt.Sprintf("byte %#02x is not allowed", seg[i])
			}
		}
	}
	return ""
}

// nameByte reports whether c may appear in a name segment.
func nameByte(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("-_.~+=,@", c) >= 0
}

// checkPrefix checks a List prefix or startAfter bound: "" or any string a
// name could start with, so nothing odd reaches a path or a request.
func checkPrefix(what, s string) error {
	if s == "" {
		return nil
	}
	if len(s) > MaxNameLen {
		return fmt.Errorf("%w: %s of %d bytes, more than %d", ErrName, what, len(s), MaxNameLen)
	}
	// A prefix may end in "/" or inside a segment: check it as a name
	// with the last segment completed.
	probe := s
	if strings.HasSuffix(probe, "/") {
		probe += "x"
	}
	if why := nameProblem(probe); why != "" {
		return fmt.Errorf("%w: %s %q: %s", ErrName, what, truncate(s), why)
	}
	return nil
}

// opError wraps err with a store, an operation and the name it was about
// ("" for none): "/srv/repo: create db/x: object already exists".
func opError(store, op, name string, err error) error {
	if name == "" {
		return fmt.Errorf("%s: %s: %w", store, op, err)
	}
	return fmt.Errorf("%s: %s %s: %w", store, op, name, err)
}

// truncate shortens a refused name for an error message.
func truncate(s string) string {
	const max = 80
	if len(s) <= max {
		return s
	}
	return s[:max] + "..."
}
