package repo

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func TestParseStoreURL(t *testing.T) {
	abs := func(p string) string {
		a, err := filepath.Abs(p)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	root := "/srv/backups"
	if runtime.GOOS == "windows" {
		root = `C:\srv\backups`
	}
	cases := []struct {
		name string
		in   string
		want storeURL
	}{
		{"absolute path", root, storeURL{dir: root}},
		{"relative path", "backups/db", storeURL{dir: abs("backups/db")}},
		{"dot path with a colon", "./host:dir", storeURL{dir: abs("host:dir")}},
		{"bucket only", "s3://bkt", storeURL{bucket: "bkt"}},
		{"bucket and slash", "s3://bkt/", storeURL{bucket: "bkt"}},
		{"prefix", "s3://my-bkt.1/a/b", storeURL{bucket: "my-bkt.1", prefix: "a/b"}},
		{"prefix with a trailing slash", "s3://bkt/a/b/", storeURL{bucket: "bkt", prefix: "a/b"}},
		{"scheme in capitals", "S3://bkt/p", storeURL{bucket: "bkt", prefix: "p"}},
	}
	if runtime.GOOS != "windows" {
		cases = append(cases,
			struct {
				name string
				in   string
				want storeURL
			}{"file URL", "file:///srv/backups/", storeURL{dir: "/srv/backups"}},
			struct {
				name string
				in   string
				want storeURL
			}{"file URL on localhost", "file://localhost/srv/x", storeURL{dir: "/srv/x"}},
		)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := parseStoreURL(c.in)
			if err != nil || got != c.want {
				t.Errorf("parseStoreURL(%q) = %+v, %v; want %+v", c.in, got, err, c.want)
			}
		})
	}
}

func TestParseStoreURLRefuses(t *testing.T) {
	cases := []struct {
		name, in, saying string
	}{
		{"empty", "", "empty"},
		{"blank", "  ", "empty"},
		{"control character", "/srv/\x00x", "control characters"},
		{"unknown scheme", "gs://bkt/p", `unsupported scheme "gs"`},
		{"http", "http://host/p", `unsupported scheme "http"`},
		{"scheme without slashes", "s3:bkt/p", "starts s3://"},
		{"no bucket", "s3:///p", "no bucket"},
		{"bad bucket", "s3://Bkt/p", "bucket name"},
		{"short bucket", "s3://b/p", "bucket name"},
		{"bucket with port", "s3://bkt:9000/p", "HOTPIPE_S3_ENDPOINT"},
		{"bad prefix", "s3://bkt/a//b", "prefix"},
		{"dot prefix", "s3://bkt/../x", "prefix"},
		{"space in prefix", "s3://bkt/a%20b", "prefix"},
		{"query", "s3://bkt/p?region=x", "query"},
		{"fragment", "s3://bkt/p#x", "fragment"},
		{"file URL with host", "file://server/share", "host"},
		{"relative file URL", "file://./x", "host"},
		{"long prefix", "s3://bkt/" + strings.Repeat("a/", 520), "prefix"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := parseStoreURL(c.in)
			if !errors.Is(err, ErrURL) || !strings.Contains(err.Error(), c.saying) {
				t.Errorf("parseStoreURL(%q) = %v, want ErrURL saying %q", c.in, err, c.saying)
			}
		})
	}
}

// TestURLCredentialsNeverShown: a URL or endpoint with credentials in it
// is refused without quoting it.
func TestURLCredentialsNeverShown(t *testing.T) {
	const secret = "s3cr3t-Value"
	for _, in := range []string{"s3://AKIA:" + secret + "@bkt/p", "file://u:" + secret + "@localhost/x", "s3://AKIA:" + secret + "@bkt/%zz"} {
		_, err := OpenStore(context.Background(), in, StoreOptions{})
		if !errors.Is(err, ErrURL) || strings.Contains(err.Error(), secret) {
			t.Errorf("OpenStore of a URL with credentials = %v, want ErrURL without the secret", err)
		}
	}
	_, err := OpenStore(context.Background(), "s3://bkt/p", StoreOptions{S3: S3Options{Endpoint: "http://k:" + secret + "@127.0.0.1:1"}})
	if !errors.Is(err, ErrURL) || strings.Contains(err.Error(), secret) {
		t.Errorf("an endpoint with credentials = %v, want ErrURL without the secret", err)
	}
	o := S3Options{AccessKeyID: "AKIA", SecretAccessKey: secret, SessionToken: secret}
	for _, format := range []string{"%v", "%+v", "%#v", "%s"} {
		if s := fmt.Sprintf(format, StoreOptions{S3: o}); strings.Contains(s, secret) {
			t.Errorf("Sprintf(%q, options) shows the secret: %s", format, s)
		}
	}
}

func TestParseEndpoint(t *testing.T) {
	cases := []struct {
		in             string
		host           string
		secure, custom bool
		bad            bool
	}{
		{in: "", host: "s3.amazonaws.com", secure: true},
		{in: "http://127.0.0.1:7070", host: "127.0.0.1:7070", custom: true},
		{in: "https://s3.example.com/", host: "s3.example.com", secure: true, custom: true},
		{in: "minio.local:9000", host: "minio.local:9000", secure: true, custom: true},
		{in: "ftp://x", bad: true},
		{in: "http://host/path", bad: true},
		{in: "http://", bad: true},
	}
	for _, c := range cases {
		host, secure, custom, err := parseEndpoint(c.in)
		if c.bad {
			if !errors.Is(err, ErrURL) {
				t.Errorf("parseEndpoint(%q) = %v, want ErrURL", c.in, err)
			}
			continue
		}
		if err != nil || host != c.host || secure != c.secure || custom != c.custom {
			t.Errorf("parseEndpoint(%q) = %q, %v, %v, %v; want %q, %v, %v", c.in, host, secure, custom, err, c.host, c.secure, c.custom)
		}
	}
}

func TestWithEnv(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	cases := []struct {
		name             string
		given            S3Options
		env              map[string]string
		endpoint, region string
	}{
		{"nothing", S3Options{}, nil, "", ""},
		{"hotpipe first", S3Options{}, map[string]string{
			"HOTPIPE_S3_ENDPOINT": "http://a", "AWS_ENDPOINT_URL_S3": "http://b", "AWS_ENDPOINT_URL": "http://c",
			"HOTPIPE_S3_REGION": "r1", "AWS_REGION": "r2", "AWS_DEFAULT_REGION": "r3",
		}, "http://a", "r1"},
		{"AWS S3 endpoint next", S3Options{}, map[string]string{
			"AWS_ENDPOINT_URL_S3": "http://b", "AWS_ENDPOINT_URL": "http://c", "AWS_REGION": "r2", "AWS_DEFAULT_REGION": "r3",
		}, "http://b", "r2"},
		{"AWS general last", S3Options{}, map[string]string{"AWS_ENDPOINT_URL": "http://c", "AWS_DEFAULT_REGION": "r3"}, "http://c", "r3"},
		{"options win", S3Options{Endpoint: "http://x", Region: "rx"}, map[string]string{"HOTPIPE_S3_ENDPOINT": "http://a", "AWS_REGION": "r2"}, "http://x", "rx"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := StoreOptions{S3: c.given}.WithEnv(env(c.env)).S3
			if got.Endpoint != c.endpoint || got.Region != c.region {
				t.Errorf("endpoint %q region %q; want %q %q", got.Endpoint, got.Region, c.endpoint, c.region)
			}
		})
	}
}

func TestS3OptionsChecked(t *testing.T) {
	for _, o := range []S3Options{{PartSize: MinPartSize - 1}, {MaxSinglePut: -1}, {MaxSinglePut: MaxSinglePutLimit + 1}, {Parallel: -1}, {Parallel: MaxParallel + 1}, {MaxRetries: -1}} {
		if _, err := OpenStore(context.Background(), "s3://bkt", StoreOptions{S3: o}); !errors.Is(err, ErrURL) {
			t.Errorf("OpenStore with %+v = %v, want ErrURL", o, err)
		}
	}
}

// TestStoreString: String gives back a URL that opens the same store.
func TestStoreString(t *testing.T) {
	for in, want := range map[string]string{t.TempDir(): "", "s3://bkt": "s3://bkt", "s3://bkt/a/b/": "s3://bkt/a/b"} {
		st := mustOpen(t, in, StoreOptions{})
		if want != "" && st.String() != want {
			t.Errorf("%q: String = %q, want %q", in, st.String(), want)
		}
		u, err1 := parseStoreURL(in)
		again, err2 := parseStoreURL(st.String())
		if err1 != nil || err2 != nil || again != u {
			t.Errorf("%q opens %+v, its String %q opens %+v (%v, %v)", in, u, st.String(), again, err1, err2)
		}
	}
}

func TestCheckName(t *testing.T) {
	for _, name := range []string{"a", "db/0123abcd/00000000000000000001-00000000000000000100.archive", "A-Z_a.z~0+9=,@", strings.Repeat("x", 255), strings.Repeat("a/", 511) + "bc"} {
		if err := CheckName(name); err != nil {
			t.Errorf("CheckName(%q) = %v", name, err)
		}
	}
	for _, name := range badNames {
		if err := CheckName(name); !errors.Is(err, ErrName) {
			t.Errorf("CheckName(%q) = %v, want ErrName", name, err)
		}
	}
}
