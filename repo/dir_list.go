package repo

import (
	"context"
	"errors"
	"io/fs"
	"iter"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// List yields the objects under prefix after startAfter in byte order: see
// Store.List.
//
// It walks the tree depth first, one directory in memory at a time along
// the current path. Byte order of whole names comes from sorting a
// directory's entries with a directory's name followed by "/": every name
// under directory "a" starts with "a/", so "a.b" (0x2e) comes before all of
// them and "a0" (0x30) after. Subtrees that cannot hold a name with the
// prefix, or hold only names up to startAfter, are not read.
func (d *dirStore) List(ctx context.Context, prefix, startAfter string) iter.Seq2[Info, error] {
	return func(yield func(Info, error) bool) {
		for _, c := range []struct{ what, s string }{{"prefix", prefix}, {"start-after", startAfter}} {
			if err := checkPrefix(c.what, c.s); err != nil {
				yield(Info{}, d.errorf("list", prefix, err))
				return
			}
		}
		w := walker{ctx: ctx, d: d, prefix: prefix, after: startAfter, yield: yield}
		w.dir("")
	}
}

// walker is one List's walk.
type walker struct {
	ctx           context.Context
	d             *dirStore
	prefix, after string
	yield         func(Info, error) bool
}

// entry is a directory entry keyed for byte order of whole names.
type entry struct {
	key string // the name, with "/" appended for a directory
	e   fs.DirEntry
}

// dir yields the objects of directory rel ("" or ending in "/") and below,
// and reports whether the walk goes on.
func (w *walker) dir(rel string) bool {
	if err := w.ctx.Err(); err != nil {
		return w.fail(rel, err)
	}
	des, err := os.ReadDir(filepath.Join(w.d.root, filepath.FromSlash(rel)))
	if err != nil {
		if notExist(err) {
			return true // no store yet, or a directory just emptied and removed
		}
		return w.fail(rel, err)
	}
	entries := make([]entry, 0, len(des))
	for _, de := range des {
		if nameProblem(de.Name()) != "" {
			continue // temp and hidden files, and what the store never names
		}
		key := de.Name()
		if de.IsDir() {
			key += "/"
		}
		entries = append(entries, entry{key, de})
	}
	slices.SortFunc(entries, func(a, b entry) int { return strings.Compare(a.key, b.key) })
	for _, en := range entries {
		name := rel + en.key
		if en.e.IsDir() {
			if !w.mayHold(name) {
				continue
			}
			if !w.dir(name) {
				return false
			}
			continue
		}
		if !en.e.Type().IsRegular() || !strings.HasPrefix(name, w.prefix) || name <= w.after {
			continue
		}
		fi, err := en.e.Info()
		if err != nil {
			if notExist(err) {
				continue // deleted since the directory was read
			}
			return w.fail(name, err)
		}
		if !w.yield(Info{Name: name, Size: fi.Size()}, nil) {
			return false
		}
	}
	return true
}

// mayHold reports whether directory dir ("x/y/") can hold a name that has
// the prefix and sorts after startAfter.
func (w *walker) mayHold(dir string) bool {
	if !strings.HasPrefix(dir, w.prefix) && !strings.HasPrefix(w.prefix, dir) {
		return false
	}
	// Every name below dir starts with dir. If startAfter does not, the
	// two differ within dir's length, so all of them sort on one side of
	// startAfter: the side dir is on.
	return strings.HasPrefix(w.after, dir) || dir > w.after
}

// fail yields an error about rel and ends the walk.
func (w *walker) fail(rel string, err error) bool {
	w.yield(Info{}, w.d.errorf("list", rel, err))
	return false
}

// Cleanup removes temp files of failed Creates last written more than
// olderThan ago: see Store.Cleanup. A live Create writes its temp file as
// it copies, so only one stalled for olderThan can lose it.
func (d *dirStore) Cleanup(ctx context.Context, olderThan time.Duration) (int, error) {
	cutoff := time.Now().Add(-olderThan)
	removed := 0
	err := filepath.WalkDir(d.root, func(path string, de fs.DirEntry, err error) error {
		if err != nil {
			if notExist(err) {
				return nil // no store yet, or removed while walked
			}
			return err
		}
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
		if de.IsDir() || !strings.HasPrefix(de.Name(), tempPrefix) {
			return nil
		}
		fi, err := de.Info()
		if err != nil {
			if notExist(err) {
				return nil
			}
			return err
		}
		if fi.ModTime().After(cutoff) {
			return nil
		}
		if err := os.Remove(path); err != nil && !notExist(err) {
			return err
		}
		removed++
		return nil
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return removed, d.errorf("cleanup", "", err)
	}
	return removed, nil
}
