package repo

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/minio/minio-go/v7"
)

// maxResumes bounds how many times one read of an S3 object starts again
// after its connection broke mid-body (minio-go retries a request that
// fails before its body starts; nothing retries a body cut short).
const maxResumes = 3

// s3Object is an open S3 object. Every GET carries If-Match with the ETag
// Open saw, so an object deleted and created again under the name while it
// is read fails the read (ErrNotExist) instead of mixing two objects.
type s3Object struct {
	ctx  context.Context
	s    *s3Store
	name string
	key  string
	etag string
	size int64

	off  int64         // Read's offset
	body io.ReadCloser // Read's open GET from off, or nil
}

// Size returns the object's length in bytes.
func (o *s3Object) Size() int64 { return o.size }

// get starts a GET of bytes [off, end) of the object.
func (o *s3Object) get(off, end int64) (io.ReadCloser, error) {
	opts := minio.GetObjectOptions{}
	if err := opts.SetMatchETag(o.etag); err != nil {
		return nil, err
	}
	if off > 0 || end < o.size {
		if err := opts.SetRange(off, end-1); err != nil {
			return nil, err
		}
	}
	body, _, _, err := o.s.core.GetObject(o.ctx, o.s.bucket, o.key, opts)
	if err != nil {
		return nil, o.readError(err)
	}
	return body, nil
}

// readError maps a GET's error, saying the object went away if it did.
func (o *s3Object) readError(err error) error {
	if preconditionFailed(err) || minio.ToErrorResponse(err).Code == "NoSuchKey" {
		err = fmt.Errorf("%w: deleted or replaced while open", ErrNotExist)
	} else {
		err = o.s.mapErr(o.ctx, err)
	}
	return o.s.errorf("read", o.name, err)
}

// Read reads the object from its start, in one GET that is started again
// from where it broke, up to maxResumes times.
func (o *s3Object) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for resumes := 0; ; resumes++ {
		if o.off >= o.size {
			return 0, io.EOF
		}
		if o.body == nil {
			body, err := o.get(o.off, o.size)
			if err != nil {
				return 0, err
			}
			o.body = body
		}
		n, err := o.body.Read(p[:min(int64(len(p)), o.size-o.off)])
		o.off += int64(n)
		if err == io.EOF && o.off < o.size {
			err = io.ErrUnexpectedEOF
		}
		if err != nil {
			_ = o.body.Close() // a read-only body: nothing to lose
			o.body = nil
		}
		switch {
		case n > 0 || err == nil || err == io.EOF:
			return n, nil // an error shows again at the next Read, if it lasts
		case o.ctx.Err() != nil:
			return 0, o.s.errorf("read", o.name, o.ctx.Err())
		case resumes == maxResumes:
			return 0, o.s.errorf("read", o.name, fmt.Errorf("%w: at byte %d of %d, after %d resumes: %v", ErrUnavailable, o.off, o.size, resumes, err))
		}
	}
}

// ReadAt reads len(p) bytes from off, or up to the end with io.EOF, in one
// ranged GET (started again from where it broke, up to maxResumes times).
// It does not move Read's offset and is safe to call concurrently.
func (o *s3Object) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, o.s.errorf("read", o.name, errors.New("negative offset"))
	}
	if off >= o.size {
		if len(p) == 0 {
			return 0, nil
		}
		return 0, io.EOF
	}
	want := min(int64(len(p)), o.size-off)
	done := int64(0)
	for resumes := 0; done < want; resumes++ {
		body, err := o.get(off+done, off+want)
		if err != nil {
			return int(done), err
		}
		n, err := io.ReadFull(body, p[done:want])
		_ = body.Close() // a read-only body: nothing to lose
		done += int64(n)
		switch {
		case err == nil:
		case o.ctx.Err() != nil:
			return int(done), o.s.errorf("read", o.name, o.ctx.Err())
		case resumes == maxResumes:
			return int(done), o.s.errorf("read", o.name, fmt.Errorf("%w: at byte %d of %d, after %d resumes: %v", ErrUnavailable, off+done, o.size, resumes, err))
		}
	}
	if want < int64(len(p)) {
		return int(want), io.EOF
	}
	return int(want), nil
}

// Close ends the open GET, if any.
func (o *s3Object) Close() error {
	if o.body != nil {
		err := o.body.Close()
		o.body = nil
		return err
	}
	return nil
}
