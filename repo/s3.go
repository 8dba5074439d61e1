package repo

import (
	"context"
	"fmt"
	"iter"
	"net/url"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// s3Store keeps each object as the key prefix/name in a bucket.
//
// Create is create-only through If-None-Match: * on the request that makes
// the object appear: the single PUT, or CompleteMultipartUpload. minio-go's
// own multipart PutObject does not send it there, so it is never used; nor
// is CopyObject, whose If-None-Match some servers (versitygw) ignore.
type s3Store struct {
	mc       *minio.Client
	core     minio.Core
	bucket   string
	base     string // the prefix and "/", or "" at the bucket's root
	url      string // s3://bucket/prefix
	endpoint string // the server's URL, for error messages
	region   string
	opts     S3Options
}

// newS3Store returns the store of bucket/prefix. It contacts no server.
func newS3Store(_ context.Context, bucket, prefix string, o S3Options) (*s3Store, error) {
	if o.PartSize == 0 {
		o.PartSize = DefaultPartSize
	}
	if o.MaxSinglePut == 0 {
		o.MaxSinglePut = DefaultMaxSinglePut
	}
	if o.Parallel == 0 {
		o.Parallel = DefaultParallel
	}
	switch {
	case o.PartSize < MinPartSize:
		return nil, fmt.Errorf("%w: S3 part size %d is below the minimum %d", ErrURL, o.PartSize, MinPartSize)
	case o.MaxSinglePut < 0 || o.MaxSinglePut > MaxSinglePutLimit:
		return nil, fmt.Errorf("%w: S3 single PUT limit %d is outside 0..%d", ErrURL, o.MaxSinglePut, int64(MaxSinglePutLimit))
	case o.Parallel < 0 || o.Parallel > MaxParallel:
		return nil, fmt.Errorf("%w: S3 parts in flight %d is outside 1..%d", ErrURL, o.Parallel, MaxParallel)
	case o.MaxRetries < 0:
		return nil, fmt.Errorf("%w: S3 retries %d", ErrURL, o.MaxRetries)
	}
	host, secure, custom, err := parseEndpoint(o.Endpoint)
	if err != nil {
		return nil, err
	}
	var creds *credentials.Credentials
	if o.AccessKeyID != "" {
		creds = credentials.NewStaticV4(o.AccessKeyID, string(o.SecretAccessKey), string(o.SessionToken))
	} else {
		creds = credentials.NewChainCredentials([]credentials.Provider{&credentials.EnvAWS{}, &credentials.FileAWSCredentials{}})
	}
	lookup := minio.BucketLookupAuto
	if custom {
		lookup = minio.BucketLookupPath
	}
	mc, err := minio.New(host, &minio.Options{
		Creds:        creds,
		Secure:       secure,
		Region:       o.Region,
		BucketLookup: lookup,
		Transport:    o.Transport,
		MaxRetries:   o.MaxRetries,
	})
	if err != nil {
		return nil, fmt.Errorf("%w: S3 endpoint %s: %v", ErrURL, host, err)
	}
	s := &s3Store{
		mc: mc, core: minio.Core{Client: mc}, bucket: bucket, url: "s3://" + bucket,
		endpoint: mc.EndpointURL().String(), region: o.Region, opts: o,
	}
	if prefix != "" {
		s.base = prefix + "/"
		s.url += "/" + prefix
	}
	return s, nil
}

// parseEndpoint parses S3Options.Endpoint into minio-go's host[:port] and
// whether it is https, and whether it is a custom (not AWS's) endpoint.
func parseEndpoint(ep string) (host string, secure, custom bool, err error) {
	if ep == "" {
		return "s3.amazonaws.com", true, false, nil
	}
	bad := func(why string) (string, bool, bool, error) {
		return "", false, false, fmt.Errorf("%w: S3 endpoint: %s", ErrURL, why)
	}
	if !strings.Contains(ep, "://") {
		ep = "https://" + ep
	}
	u, err := url.Parse(ep)
	switch {
	case err != nil:
		return bad("does not parse as a URL") // url.Error would quote it
	case u.User != nil:
		return bad("credentials do not belong in the endpoint; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
	case u.Scheme != "http" && u.Scheme != "https":
		return bad(fmt.Sprintf("scheme %q: use http:// or https://", u.Scheme))
	case u.Host == "":
		return bad(fmt.Sprintf("%q has no host", ep))
	case strings.Trim(u.Path, "/") != "" || u.RawQuery != "" || u.Fragment != "":
		return bad(fmt.Sprintf("%q: give only scheme, host and port", ep))
	}
	return u.Host, u.Scheme == "https", true, nil
}

// String returns s3://bucket/prefix.
func (s *s3Store) String() string { return s.url }

// key returns the object name's key, checking that it fits S3's limit.
func (s *s3Store) key(name string) (string, error) {
	k := s.base + name
	if len(k) > MaxNameLen {
		return "", fmt.Errorf("%w: with the prefix the key is %d bytes, more than S3's %d", ErrName, len(k), MaxNameLen)
	}
	return k, nil
}

// errorf wraps err with the store, operation and name; nil stays nil.
func (s *s3Store) errorf(op, name string, err error) error {
	if err == nil {
		return nil
	}
	return opError(s.url, op, name, err)
}

// Open opens the object name: see Store.Open. Its reads use ctx.
func (s *s3Store) Open(ctx context.Context, name string) (Object, error) {
	if err := CheckName(name); err != nil {
		return nil, s.errorf("open", name, err)
	}
	key, err := s.key(name)
	if err != nil {
		return nil, s.errorf("open", name, err)
	}
	st, err := s.stat(ctx, key)
	if err != nil {
		return nil, s.errorf("open", name, s.mapErr(ctx, err))
	}
	return &s3Object{ctx: ctx, s: s, name: name, key: key, etag: st.ETag, size: st.Size}, nil
}

// stat returns the size and ETag of key. A HEAD's answer has no body, so
// minio-go guesses its error code from the status: 404 reads as NoSuchKey
// whether the key, the bucket or (on versitygw) the access key is missing,
// and a wrong region is a bare 400. For those a GET, whose answer names
// the error, says which.
func (s *s3Store) stat(ctx context.Context, key string) (minio.ObjectInfo, error) {
	st, err := s.mc.StatObject(ctx, s.bucket, key, minio.StatObjectOptions{})
	if code := minio.ToErrorResponse(err).StatusCode; code != 404 && code != 400 {
		return st, err
	}
	body, info, _, err := s.core.GetObject(ctx, s.bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return minio.ObjectInfo{}, err
	}
	_ = body.Close() // created since the HEAD: its size and ETag are all we need
	return info, nil
}

// List yields the objects under prefix after startAfter in byte order: see
// Store.List. S3 lists keys in byte (UTF-8 binary) order, a page of up to
// 1000 at a time; a server that does not is caught, not trusted. Keys
// under the store's prefix that are not valid names (directory markers,
// other tools' files) are passed over.
func (s *s3Store) List(ctx context.Context, prefix, startAfter string) iter.Seq2[Info, error] {
	return func(yield func(Info, error) bool) {
		for _, c := range []struct{ what, s string }{{"prefix", prefix}, {"start-after", startAfter}} {
			if err := checkPrefix(c.what, c.s); err != nil {
				yield(Info{}, s.errorf("list", prefix, err))
				return
			}
		}
		noOwner := false
		opts := minio.ListObjectsOptions{Prefix: s.base + prefix, Recursive: true, FetchOwner: &noOwner}
		if startAfter != "" {
			opts.StartAfter = s.base + startAfter
		}
		last := startAfter
		// The iterator form runs no goroutine, so stopping early leaks
		// nothing; it ends quietly when ctx is done, hence the check after.
		for oi := range s.mc.ListObjectsIter(ctx, s.bucket, opts) {
			if oi.Err != nil {
				yield(Info{}, s.errorf("list", prefix, s.mapErr(ctx, oi.Err)))
				return
			}
			name := strings.TrimPrefix(oi.Key, s.base)
			if nameProblem(name) != "" {
				continue
			}
			if name <= last {
				yield(Info{}, s.errorf("list", prefix, fmt.Errorf("%s listed %q after %q: not in byte order", s.endpoint, name, last)))
				return
			}
			last = name
			if !yield(Info{Name: name, Size: oi.Size}, nil) {
				return
			}
		}
		if err := ctx.Err(); err != nil {
			yield(Info{}, s.errorf("list", prefix, err))
		}
	}
}

// Delete removes the object name: see Store.Delete.
func (s *s3Store) Delete(ctx context.Context, name string) error {
	if err := CheckName(name); err != nil {
		return s.errorf("delete", name, err)
	}
	key, err := s.key(name)
	if err != nil {
		return s.errorf("delete", name, err)
	}
	err = s.mc.RemoveObject(ctx, s.bucket, key, minio.RemoveObjectOptions{})
	if err != nil && minio.ToErrorResponse(err).Code != "NoSuchKey" {
		return s.errorf("delete", name, s.mapErr(ctx, err))
	}
	return nil
}

// Cleanup aborts the incomplete multipart uploads under the store's prefix
// (the whole bucket's, for a store at its root) initiated more than
// olderThan ago by the server's clock: see Store.Cleanup. It pages through
// the uploads itself: minio-go's ListIncompleteUploads runs a goroutine
// that stopping early can leave blocked.
func (s *s3Store) Cleanup(ctx context.Context, olderThan time.Duration) (int, error) {
	removed := 0
	var keyMarker, idMarker string
	for {
		res, err := s.core.ListMultipartUploads(ctx, s.bucket, s.base, keyMarker, idMarker, "", 1000)
		if err != nil {
			return removed, s.errorf("cleanup", "", s.mapErr(ctx, err))
		}
		for _, u := range res.Uploads {
			if time.Since(u.Initiated) < olderThan {
				continue
			}
			err := s.core.AbortMultipartUpload(ctx, s.bucket, u.Key, u.UploadID)
			if err != nil && minio.ToErrorResponse(err).Code != "NoSuchUpload" {
				return removed, s.errorf("cleanup", strings.TrimPrefix(u.Key, s.base), s.mapErr(ctx, err))
			}
			removed++
		}
		if !res.IsTruncated || (res.NextKeyMarker == keyMarker && res.NextUploadIDMarker == idMarker) {
			return removed, nil
		}
		keyMarker, idMarker = res.NextKeyMarker, res.NextUploadIDMarker
	}
}
