package repo

import (
	"crypto/rand"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
)

// fileSystem is what the directory store's Create asks of the operating
// system beyond reading: temp files, links and directory fsyncs. Tests put
// one in that fails the next write, fsync or link.
type fileSystem interface {
	// createTemp creates a new temp file in dir, named tempPrefix + random.
	createTemp(dir string) (tempFile, error)
	// link makes newname a hard link to oldname, failing with an error
	// wrapping fs.ErrExist when newname exists.
	link(oldname, newname string) error
	// syncDir makes dir's entries durable.
	syncDir(dir string) error
}

// tempFile is a temp file being written.
type tempFile interface {
	io.Writer
	Sync() error
	Close() error
	Name() string
}

// osFS is the operating system's file system.
type osFS struct{}

func (osFS) createTemp(dir string) (tempFile, error) {
	var b [12]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	path := filepath.Join(dir, tempPrefix+hex.EncodeToString(b[:]))
	return os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, filePerm)
}

func (osFS) link(oldname, newname string) error { return os.Link(oldname, newname) }

func (osFS) syncDir(dir string) error { return syncDir(dir) }
