package engine

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

const (
	metaFile    = "META"
	metaVersion = 2        // 2: finished segments are sealed, DURABLE slots carry flags
	maxMetaSize = 64 << 10 // bounds what a damaged META makes Open read
)

// Origin names a database's history: 128 random bits made when the history
// begins. A restored copy keeps the origin of the history it copies.
type Origin [16]byte

// NewOrigin returns a fresh random origin id.
func NewOrigin() Origin {
	var o Origin
	if _, err := rand.Read(o[:]); err != nil {
		panic("engine: crypto/rand failed: " + err.Error()) // never fails on supported platforms
	}
	return o
}

// String returns the origin in lowercase hex.
func (o Origin) String() string { return hex.EncodeToString(o[:]) }

// IsZero reports whether o is unset.
func (o Origin) IsZero() bool { return o == Origin{} }

// ParseOrigin parses the form produced by Origin.String.
func ParseOrigin(s string) (Origin, error) {
	var o Origin
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != len(o) {
		return o, fmt.Errorf("origin %q is not 32 hex digits", s)
	}
	copy(o[:], b)
	return o, nil
}

// MarshalText implements encoding.TextMarshaler.
func (o Origin) MarshalText() ([]byte, error) { return []byte(o.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (o *Origin) UnmarshalText(b []byte) error {
	p, err := ParseOrigin(string(b))
	*o = p
	return err
}

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
