package engine

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
)

const maxNameLen = 63

// ValidateName reports whether name may name a database: it must match
// ^[a-z0-9][a-z0-9_-]{0,62}$, which rules out path separators, "..",
// hidden names and NUL before any file is touched.
func ValidateName(name string) error {
	if len(name) == 0 || len(name) > maxNameLen {
		return fmt.Errorf("%w: %q: must be 1 to %d characters", ErrInvalidName, name, maxNameLen)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		ok := c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || i > 0 && (c == '_' || c == '-')
		if !ok {
			return fmt.Errorf("%w: %q: use lowercase letters, digits, '_' and '-', starting with a letter or digit", ErrInvalidName, name)
		}
	}
	return nil
}

// dbPath validates name and returns its directory under dataDir.
func dbPath(dataDir, name string) (string, error) {
	if err := ValidateName(name); err != nil {
		return "", err
	}
	return filepath.Join(dataDir, name), nil
}

// List returns the names of the databases under dataDir, sorted. A missing
// dataDir holds no databases.
func List(dataDir string) ([]string, error) {
	ents, err := os.ReadDir(dataDir)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range ents {
		if !e.IsDir() || ValidateName(e.Name()) != nil {
			continue
		}
		if _, err := os.Stat(filepath.Join(dataDir, e.Name(), metaFile)); err == nil {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	return names, nil
}
