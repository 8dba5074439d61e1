package repo

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// errInjected is the failure faultFS injects.
var errInjected = errors.New("injected I/O error")

// faultFS is the operating system's file system with one failure injected:
// a write after some bytes, a file fsync, the link, or a directory fsync.
type faultFS struct {
	osFS
	failWriteAfter int  // fail the write that would pass this many bytes; <0: never
	failSync       bool // fail the temp file's fsync
	failLink       bool // fail link with an I/O error
	linkThenExist  bool // link, then answer EEXIST (a retransmitted NFS LINK)
	failSyncDir    string
}

func (f *faultFS) createTemp(dir string) (tempFile, error) {
	t, err := f.osFS.createTemp(dir)
	if err != nil {
		return nil, err
	}
	return &faultFile{tempFile: t, fs: f, left: f.failWriteAfter}, nil
}

func (f *faultFS) link(oldname, newname string) error {
	switch {
	case f.failLink:
		return &os.LinkError{Op: "link", Old: oldname, New: newname, Err: errInjected}
	case f.linkThenExist:
		if err := f.osFS.link(oldname, newname); err != nil {
			return err
		}
		return &os.LinkError{Op: "link", Old: oldname, New: newname, Err: fs.ErrExist}
	}
	return f.osFS.link(oldname, newname)
}

func (f *faultFS) syncDir(dir string) error {
	if dir == f.failSyncDir {
		return errInjected
	}
	return f.osFS.syncDir(dir)
}

// faultFile is a temp file that writes part of a buffer and then fails, as
// a disk that fills up does, or fails its fsync.
type faultFile struct {
	tempFile
	fs   *faultFS
	left int
}

func (f *faultFile) Write(p []byte) (int, error) {
	if f.left < 0 {
		return f.tempFile.Write(p)
	}
	if len(p) > f.left {
		n, _ := f.tempFile.Write(p[:f.left])
		f.left = 0
		return n, errInjected
	}
	f.left -= len(p)
	return f.tempFile.Write(p)
}

func (f *faultFile) Sync() error {
	if f.fs.failSync {
		return errInjected
	}
	return f.tempFile.Sync()
}

// tempFiles returns the temp files under root.
func tempFiles(t *testing.T, root string) []string {
	t.Helper()
	var found []string
	err := filepath.WalkDir(root, func(path string, de fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if strings.HasPrefix(de.Name(), tempPrefix) {
			found = append(found, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}

// TestDirCreateFaults: a write, fsync or link that fails leaves no object
// and no temp file, and the error says so; a failed fsync of the directory
// takes the object back.
func TestDirCreateFaults(t *testing.T) {
	data := bytes.Repeat([]byte("frame"), 1<<19) // 2.5 MiB: several writes
	cases := []struct {
		name string
		fs   func(root string) *faultFS
	}{
		{"write fails midway", func(string) *faultFS { return &faultFS{failWriteAfter: 1<<20 + 7} }},
		{"first write fails", func(string) *faultFS { return &faultFS{failWriteAfter: 0} }},
		{"fsync fails", func(string) *faultFS { return &faultFS{failWriteAfter: -1, failSync: true} }},
		{"link fails", func(string) *faultFS { return &faultFS{failWriteAfter: -1, failLink: true} }},
		{"directory fsync fails", func(root string) *faultFS {
			return &faultFS{failWriteAfter: -1, failSyncDir: filepath.Join(root, "db")}
		}},
		{"fsync of a new directory's parent fails", func(root string) *faultFS {
			return &faultFS{failWriteAfter: -1, failSyncDir: root}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			root := filepath.Join(t.TempDir(), "repo")
			st := mustOpen(t, root, StoreOptions{}).(*dirStore)
			if c.name != "fsync of a new directory's parent fails" {
				if err := os.MkdirAll(filepath.Join(root, "db"), 0o700); err != nil {
					t.Fatal(err)
				}
			}
			st.fs = c.fs(root)
			err := st.Create(context.Background(), "db/obj", bytes.NewReader(data), int64(len(data)))
			if !errors.Is(err, errInjected) {
				t.Fatalf("Create = %v, want the injected error", err)
			}
			if !strings.Contains(err.Error(), "no object was made") {
				t.Errorf("the error does not say what was left: %v", err)
			}
			if _, err := st.Open(context.Background(), "db/obj"); !errors.Is(err, ErrNotExist) {
				t.Errorf("Open after the failed Create = %v, want ErrNotExist", err)
			}
			if tmp := tempFiles(t, root); len(tmp) != 0 {
				t.Errorf("temp files left: %v", tmp)
			}
			if c.fs(root).failSyncDir == root {
				// A directory whose name may not be durable is taken back,
				// so the next Create makes it and fsyncs its parent again.
				if _, err := os.Stat(filepath.Join(root, "db")); !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("the new directory is kept after its parent's fsync failed: %v", err)
				}
			}
			// With the fault gone, the name is free.
			st.fs = osFS{}
			if err := st.Create(context.Background(), "db/obj", bytes.NewReader(data), int64(len(data))); err != nil {
				t.Errorf("Create after the fault: %v", err)
			}
		})
	}
}

// TestDirLinkAnswersExistAfterLinking: over NFS a retransmitted LINK whose
// first try succeeded answers EEXIST; Create sees that the name is its own
// file and succeeds.
func TestDirLinkAnswersExistAfterLinking(t *testing.T) {
	root := filepath.Join(t.TempDir(), "repo")
	st := mustOpen(t, root, StoreOptions{}).(*dirStore)
	st.fs = &faultFS{failWriteAfter: -1, linkThenExist: true}
	if err := st.Create(context.Background(), "a/b", strings.NewReader("mine"), 4); err != nil {
		t.Fatalf("Create = %v, want success", err)
	}
	if got := readAll(t, st, "a/b"); string(got) != "mine" {
		t.Errorf("content %q", got)
	}
	if tmp := tempFiles(t, root); len(tmp) != 0 {
		t.Errorf("temp files left: %v", tmp)
	}
	// A real EEXIST is still one.
	st.fs = osFS{}
	if err := st.Create(context.Background(), "a/b", strings.NewReader("other"), 5); !errors.Is(err, ErrExist) {
		t.Errorf("second Create = %v, want ErrExist", err)
	}
}

// TestDirCreateMakesDirectories: Create makes the store's root and the
// object's directories, private to the owner, and the object is 0600.
func TestDirCreateMakesDirectories(t *testing.T) {
	root := filepath.Join(t.TempDir(), "a", "repo")
	st := mustOpen(t, root, StoreOptions{})
	if _, err := os.Stat(root); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("OpenStore made the root: %v", err)
	}
	if got := list(t, st, "", ""); len(got) != 0 {
		t.Errorf("List of a store not yet made = %v, want nothing", got)
	}
	if err := st.Create(context.Background(), "db/origin/obj", strings.NewReader("x"), 1); err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS == "windows" {
		return
	}
	for path, want := range map[string]fs.FileMode{
		root:                                fs.ModeDir | dirPerm,
		filepath.Join(root, "db", "origin"): fs.ModeDir | dirPerm,
		filepath.Join(root, "db", "origin", "obj"): filePerm,
	} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		// The umask may take bits away, never add them.
		if fi.Mode()&^want != 0 || !fi.Mode().IsDir() != !want.IsDir() {
			t.Errorf("%s: mode %v, want at most %v", path, fi.Mode(), want)
		}
	}
}

// TestDirNameAndDirectoryCollide: an object cannot be made where a
// directory of objects is, nor below an object.
func TestDirNameAndDirectoryCollide(t *testing.T) {
	st := mustOpen(t, t.TempDir(), StoreOptions{})
	ctx := context.Background()
	if err := st.Create(ctx, "a/b", strings.NewReader("x"), 1); err != nil {
		t.Fatal(err)
	}
	if err := st.Create(ctx, "a", strings.NewReader("y"), 1); !errors.Is(err, ErrExist) {
		t.Errorf("Create over a directory = %v, want ErrExist", err)
	}
	if err := st.Create(ctx, "a/b/c", strings.NewReader("y"), 1); err == nil {
		t.Error("Create below an object succeeded")
	}
	if err := st.Delete(ctx, "a"); err != nil {
		t.Errorf("Delete of a directory = %v, want nil (no such object)", err)
	}
	if got := readAll(t, st, "a/b"); string(got) != "x" {
		t.Errorf("a/b = %q", got)
	}
}

// TestDirListSkipsForeignFiles: temp files, hidden files, symbolic links
// and files with names the store never makes are not listed.
func TestDirListSkipsForeignFiles(t *testing.T) {
	root := t.TempDir()
	st := mustOpen(t, root, StoreOptions{})
	if err := st.Create(context.Background(), "db/obj", strings.NewReader("x"), 1); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{".tmp-abc", ".hidden", "sp ace", "db/.tmp-1"} {
		if err := os.WriteFile(filepath.Join(root, name), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(filepath.Join(root, "db", "obj"), filepath.Join(root, "db", "link")); err != nil && runtime.GOOS != "windows" {
		t.Fatal(err)
	}
	got := list(t, st, "", "")
	if len(got) != 1 || got[0] != (Info{Name: "db/obj", Size: 1}) {
		t.Errorf("List = %v, want only db/obj", got)
	}
}

// TestDirCleanupKeepsYoungTempFiles: Cleanup removes only temp files older
// than its age, never objects.
func TestDirCleanupKeepsYoungTempFiles(t *testing.T) {
	root := t.TempDir()
	st := mustOpen(t, root, StoreOptions{})
	if err := st.Create(context.Background(), "d/obj", strings.NewReader("x"), 1); err != nil {
		t.Fatal(err)
	}
	old, young := filepath.Join(root, "d", tempPrefix+"old"), filepath.Join(root, tempPrefix+"young")
	for _, p := range []string{old, young} {
		if err := os.WriteFile(p, []byte("half"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	then := time.Now().Add(-2 * time.Hour)
	if err := os.Chtimes(old, then, then); err != nil {
		t.Fatal(err)
	}
	n, err := st.Cleanup(context.Background(), time.Hour)
	if err != nil || n != 1 {
		t.Fatalf("Cleanup = %d, %v; want 1", n, err)
	}
	if _, err := os.Stat(old); !errors.Is(err, fs.ErrNotExist) {
		t.Error("the old temp file is still there")
	}
	if _, err := os.Stat(young); err != nil {
		t.Errorf("the young temp file was removed: %v", err)
	}
	if n, err := mustOpen(t, filepath.Join(root, "missing"), StoreOptions{}).Cleanup(context.Background(), 0); err != nil || n != 0 {
		t.Errorf("Cleanup of a store not yet made = %d, %v", n, err)
	}
}

// TestDirRootIsAFile: a root that is a file is refused at OpenStore.
func TestDirRootIsAFile(t *testing.T) {
	f := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(f, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenStore(context.Background(), f, StoreOptions{}); !errors.Is(err, ErrURL) {
		t.Errorf("OpenStore of a file = %v, want ErrURL", err)
	}
}
