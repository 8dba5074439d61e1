package repo

import (
	"path"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzCheckName: a name CheckName accepts is a clean, local, relative
// path of at most MaxNameLen bytes that no other spelling reaches, with no
// hidden segment; nothing it is given makes it panic.
func FuzzCheckName(f *testing.F) {
	for _, s := range append([]string{"a", "db/origin/1-2.archive", "a/b/c", "a.b", "a-", "~x", "a+b=c,d@e"}, badNames...) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		if CheckName(name) != nil {
			return
		}
		switch {
		case len(name) == 0 || len(name) > MaxNameLen:
			t.Fatalf("accepted %q of %d bytes", name, len(name))
		case path.Clean(name) != name:
			t.Fatalf("accepted %q, which cleans to %q", name, path.Clean(name))
		case !filepath.IsLocal(filepath.FromSlash(name)) || path.IsAbs(name):
			t.Fatalf("accepted %q, which is not a local relative path", name)
		case strings.HasPrefix(name, ".") || strings.Contains(name, "/."):
			t.Fatalf("accepted %q with a hidden segment", name)
		case strings.ContainsAny(name, "\\ :\x00"):
			t.Fatalf("accepted %q with a separator or special byte", name)
		}
		for i := 0; i < len(name); i++ {
			if name[i] < 0x21 || name[i] > 0x7e {
				t.Fatalf("accepted %q with byte %#x", name, name[i])
			}
		}
	})
}

// FuzzParseStoreURL: any string is refused or parsed without a panic; an
// S3 URL parses to a valid bucket and a prefix that is a valid name, and
// its String parses back to the same; nothing is quoted in an error that
// holds a URL's credentials.
func FuzzParseStoreURL(f *testing.F) {
	for _, s := range []string{"/srv/x", "rel/x", "file:///srv/x", "file://localhost/x", "s3://bkt", "s3://bkt/a/b/",
		"s3://k:secret@bkt/p", "s3:bkt", "gs://b/p", "s3://bkt/p?x#y", "s3://Bkt", "s3:///p", "C:\\x", "s3://bkt/%2e%2e/x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		u, err := parseStoreURL(raw)
		if err != nil {
			// The authority ends at the first "/", "?" or "#"; user
			// info is what comes before its last "@".
			if _, rest, ok := strings.Cut(raw, "://"); ok {
				if i := strings.IndexAny(rest, "/?#"); i >= 0 {
					rest = rest[:i]
				}
				if i := strings.LastIndex(rest, "@"); i > 8 && strings.Contains(err.Error(), rest[:i]) {
					t.Fatalf("error quotes the URL's user info: %v", err)
				}
			}
			return
		}
		if u.bucket == "" {
			if u.dir == "" || !filepath.IsAbs(u.dir) {
				t.Fatalf("%q: directory %q is not absolute", raw, u.dir)
			}
			return
		}
		if u.prefix != "" && CheckName(u.prefix) != nil {
			t.Fatalf("%q: prefix %q is not a valid name", raw, u.prefix)
		}
		s := "s3://" + u.bucket
		if u.prefix != "" {
			s += "/" + u.prefix
		}
		again, err := parseStoreURL(s)
		if err != nil || again != u {
			t.Fatalf("%q parses to %+v, whose URL %q parses to %+v, %v", raw, u, s, again, err)
		}
	})
}
