package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/hotpipe/hotpipe/txframe"
)

const (
	metaFile    = "META"
	metaVersion = 2        // 2: finished segments are sealed, DURABLE slots carry flags
	maxMetaSize = 64 << 10 // bounds what a damaged META makes Open read
)

// Origin names a database's history (see txframe.Origin). A restored copy
// keeps the origin of the history it copies.
type Origin = txframe.Origin

// NewOrigin returns a fresh random origin id.
func NewOrigin() Origin { return txframe.NewOrigin() }

// ParseOrigin parses the form produced by Origin.String.
func ParseOrigin(s string) (Origin, error) { return txframe.ParseOrigin(s) }

// Meta is a database's metadata, kept in META and replaced atomically.
type Meta struct {
	Version int       `json:"version"`
	Name    string    `json:"name"`
	Origin  Origin    `json:"origin"`
	Created time.Time `json:"created"`
	Replica bool      `json:"replica"`
	// SegmentSize is where the writer starts a new segment file, chosen
	// when the database is created; 0 means DefaultSegmentSize.
	SegmentSize int64 `json:"segment_size,omitempty"`
	// Restoring marks a database filled by a full restore that has not
	// completed: it stays a replica until a restore (--append) completes it.
	Restoring bool `json:"restoring,omitempty"`
}

func readMeta(dir string) (Meta, error) {
	var m Meta
	path := filepath.Join(dir, metaFile)
	f, err := os.Open(path)
	if err != nil {
		return m, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxMetaSize+1))
	if err != nil {
		return m, err
	}
	if len(b) > maxMetaSize {
		return m, &CorruptionError{Path: path, Err: fmt.Errorf("metadata larger than %d bytes", maxMetaSize)}
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, &CorruptionError{Path: path, Err: err}
	}
	if m.Version == 1 {
		return m, &CorruptionError{Path: path, Err: errors.New("database format 1 is from an earlier hotpipe, whose segments are not sealed: back it up with that hotpipe and restore it with this one")}
	}
	if m.Version != metaVersion {
		return m, &CorruptionError{Path: path, Err: fmt.Errorf("unsupported metadata version %d", m.Version)}
	}
	return m, nil
}

func writeMeta(dir string, m Meta) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(dir, metaFile), append(b, '\n'))
}
