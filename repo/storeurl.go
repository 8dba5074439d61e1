package repo

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/minio/minio-go/v7/pkg/s3utils"
)

// StoreOptions configure OpenStore. Code fills them from flags; the CLI
// starts from WithEnv, so the usual environment variables apply.
type StoreOptions struct {
	// S3 configures s3:// stores; a directory store ignores it.
	S3 S3Options
}

// S3Options configure an S3 store. Every field has a default.
type S3Options struct {
	// Endpoint is the S3 server: a URL (http://127.0.0.1:7070,
	// https://s3.example.com) or a host[:port], which means https. Empty
	// means AWS, https://s3.amazonaws.com. A custom endpoint is addressed
	// path-style (endpoint/bucket/key), which every S3-compatible server
	// serves; AWS is addressed as it asks (virtual-host style).
	Endpoint string
	// Region is the bucket's region; empty lets the client find it out
	// (from AWS), or means us-east-1.
	Region string
	// AccessKeyID and SecretAccessKey (and SessionToken, for temporary
	// credentials) are static credentials. When AccessKeyID is empty, the
	// credentials are read when needed from AWS_ACCESS_KEY_ID,
	// AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN, else from the shared
	// credentials file (~/.aws/credentials, AWS_PROFILE); with none,
	// requests are sent unsigned (anonymous).
	AccessKeyID     string
	SecretAccessKey Secret
	SessionToken    Secret
	// PartSize is the size of a multipart upload's parts: default
	// DefaultPartSize, at least MinPartSize.
	PartSize int64
	// Parallel is how many parts of one multipart upload are sent at a
	// time, each from its own buffer of PartSize bytes, the next read while
	// they are in flight: one Create holds up to Parallel × PartSize bytes
	// (64 MiB with the defaults). 1 sends one part at a time. Default
	// DefaultParallel, at most MaxParallel.
	Parallel int
	// MaxSinglePut is the largest object sent in one PUT, which a retry can
	// resend whole; larger ones, and ones of unknown size larger than
	// PartSize, go in parts. Default DefaultMaxSinglePut, at most
	// MaxSinglePutLimit.
	MaxSinglePut int64
	// MaxRetries is how many times one request is tried on a 5xx answer or
	// a network error, with exponential backoff; default minio-go's (10).
	MaxRetries int
	// Transport, if set, carries the requests (tests, proxies, custom TLS).
	Transport http.RoundTripper
}

// Defaults and limits of S3Options.
const (
	// DefaultPartSize: 16 MiB parts keep a 1 GiB object to 64 requests.
	DefaultPartSize = 16 << 20
	// DefaultParallel: 4 parts in flight, as minio-go's PutObject sends.
	DefaultParallel = 4
	// MaxParallel bounds Parallel: more parts in flight than that only
	// add memory.
	MaxParallel = 64
	// MinPartSize is S3's smallest part but the last (versitygw enforces it
	// too, with EntityTooSmall at completion).
	MinPartSize = 5 << 20
	// DefaultMaxSinglePut: objects up to 64 MiB go in one PUT, buffered in
	// memory so that minio-go can resend them on a retry: as much memory
	// as DefaultParallel parts of DefaultPartSize. Sending them as parallel
	// parts instead measured no faster on loopback (BenchmarkStore
	// -store.maxsingleput 16), and one PUT keeps the check of a lost
	// answer to one MD5.
	DefaultMaxSinglePut = 64 << 20
	// MaxSinglePutLimit is S3's largest single PUT (5 GiB).
	MaxSinglePutLimit = 5 << 30
)

// Secret is a credential: it formats as "[redacted]", so printing options
// never shows it.
type Secret string

// String returns "[redacted]", or "" for an empty secret.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return "[redacted]"
}

// GoString is String, for %#v.
func (s Secret) GoString() string { return s.String() }

// WithEnv returns o with the fields it leaves empty filled from the
// environment, read through getenv (os.Getenv):
//
//	S3.Endpoint  HOTPIPE_S3_ENDPOINT, else AWS_ENDPOINT_URL_S3, else AWS_ENDPOINT_URL
//	S3.Region    HOTPIPE_S3_REGION, else AWS_REGION, else AWS_DEFAULT_REGION
//
// Credentials are not copied: an S3 store reads them from the environment
// and the shared credentials file itself (see S3Options.AccessKeyID).
func (o StoreOptions) WithEnv(getenv func(string) string) StoreOptions {
	first := func(keys ...string) string {
		for _, k := range keys {
			if v := strings.TrimSpace(getenv(k)); v != "" {
				return v
			}
		}
		return ""
	}
	if o.S3.Endpoint == "" {
		o.S3.Endpoint = first("HOTPIPE_S3_ENDPOINT", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL")
	}
	if o.S3.Region == "" {
		o.S3.Region = first("HOTPIPE_S3_REGION", "AWS_REGION", "AWS_DEFAULT_REGION")
	}
	return o
}

// OpenStore opens the store at a URL:
//
//	/abs/path, rel/path      a directory (local or NFS), made when first written
//	file:///abs/path         the same
//	s3://bucket[/prefix]     objects under prefix/ in an S3 bucket
//
// Anything else is refused with ErrURL before anything is touched. A
// relative path is made absolute; a path whose first segment looks like a
// URL scheme ("host:dir") must be written ./host:dir. Opening contacts no
// server: a missing bucket or refused credentials show at the first
// operation, as ErrNoBucket or ErrAccess.
func OpenStore(ctx context.Context, rawURL string, opts StoreOptions) (Store, error) {
	u, err := parseStoreURL(rawURL)
	if err != nil {
		return nil, err
	}
	if u.bucket != "" {
		return newS3Store(ctx, u.bucket, u.prefix, opts.S3)
	}
	return newDirStore(u.dir)
}

// storeURL is a parsed store URL: a directory, or a bucket and prefix.
type storeURL struct {
	dir    string // an absolute, clean path
	bucket string
	prefix string // "" or a valid name, without leading or trailing "/"
}

// parseStoreURL parses and checks a store URL (see OpenStore). Errors wrap
// ErrURL; they quote the URL unless it holds credentials.
func parseStoreURL(raw string) (storeURL, error) {
	bad := func(format string, args ...any) (storeURL, error) {
		return storeURL{}, fmt.Errorf("%w %q: %s", ErrURL, truncate(raw), fmt.Sprintf(format, args...))
	}
	if strings.TrimSpace(raw) == "" {
		return storeURL{}, fmt.Errorf("%w: empty", ErrURL)
	}
	if strings.ContainsFunc(raw, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return storeURL{}, fmt.Errorf("%w: contains control characters", ErrURL)
	}
	scheme, rest, hasScheme := cutScheme(raw)
	if !hasScheme {
		abs, err := filepath.Abs(raw)
		if err != nil {
			return bad("%v", err)
		}
		return storeURL{dir: abs}, nil
	}
	if !strings.HasPrefix(rest, "//") {
		return bad("a %s URL starts %s:// (a directory whose name has a colon is written ./%s)", scheme, scheme, truncate(raw))
	}
	u, err := url.Parse(raw)
	if err != nil {
		// url.Error quotes the URL, which may hold credentials.
		return storeURL{}, fmt.Errorf("%w: does not parse as a URL", ErrURL)
	}
	if u.User != nil {
		return storeURL{}, fmt.Errorf("%w: credentials do not belong in the URL; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY", ErrURL)
	}
	if u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return bad("query and fragment are not allowed")
	}
	switch strings.ToLower(scheme) {
	case "file":
		return parseFileURL(raw, u)
	case "s3":
		return parseS3URL(raw, u)
	}
	return bad("unsupported scheme %q: use a directory path, file:///path or s3://bucket/prefix", scheme)
}

// cutScheme splits "scheme:rest" when raw starts with a URL scheme of two
// or more characters (one letter is a Windows drive: C:\repo).
func cutScheme(raw string) (scheme, rest string, ok bool) {
	i := strings.IndexByte(raw, ':')
	if i < 2 {
		return "", "", false
	}
	for j := 0; j < i; j++ {
		c := raw[j]
		letter := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
		if !letter && (j == 0 || !('0' <= c && c <= '9' || c == '+' || c == '-' || c == '.')) {
			return "", "", false
		}
	}
	return raw[:i], raw[i+1:], true
}

// parseFileURL checks a file:// URL: local (no host but localhost) and
// absolute.
func parseFileURL(raw string, u *url.URL) (storeURL, error) {
	if u.Host != "" && u.Host != "localhost" {
		return storeURL{}, fmt.Errorf("%w %q: file URLs name a local path (file:///path); host %q is not allowed", ErrURL, truncate(raw), u.Host)
	}
	p := u.Path
	if runtime.GOOS == "windows" && len(p) >= 3 && p[0] == '/' && p[2] == ':' {
		p = p[1:] // file:///C:/repo
	}
	p = filepath.FromSlash(p)
	if !filepath.IsAbs(p) {
		return storeURL{}, fmt.Errorf("%w %q: a file URL's path must be absolute (file:///path)", ErrURL, truncate(raw))
	}
	return storeURL{dir: filepath.Clean(p)}, nil
}

// parseS3URL checks an s3:// URL: a valid bucket name and a prefix that is
// "" or a valid object name.
func parseS3URL(raw string, u *url.URL) (storeURL, error) {
	if u.Host == "" {
		return storeURL{}, fmt.Errorf("%w %q: no bucket: use s3://bucket/prefix", ErrURL, truncate(raw))
	}
	if u.Port() != "" || strings.Contains(u.Host, ":") {
		return storeURL{}, fmt.Errorf("%w %q: the endpoint is not part of the URL: set HOTPIPE_S3_ENDPOINT or AWS_ENDPOINT_URL", ErrURL, truncate(raw))
	}
	if err := s3utils.CheckValidBucketNameStrict(u.Host); err != nil {
		return storeURL{}, fmt.Errorf("%w %q: bucket name: %v", ErrURL, truncate(raw), err)
	}
	prefix := strings.TrimPrefix(u.Path, "/")
	prefix = strings.TrimSuffix(prefix, "/")
	if prefix != "" {
		if why := nameProblem(prefix); why != "" {
			return storeURL{}, fmt.Errorf("%w %q: prefix: %s", ErrURL, truncate(raw), why)
		}
		if len(prefix) >= MaxNameLen-1 {
			return storeURL{}, fmt.Errorf("%w %q: prefix leaves no room for names", ErrURL, truncate(raw))
		}
	}
	return storeURL{bucket: u.Host, prefix: prefix}, nil
}
