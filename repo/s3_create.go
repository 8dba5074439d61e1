package repo

import (
	"bufio"
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/minio/minio-go/v7"
)

// Create stores r as the object name: see Store.Create. An object of known
// size up to MaxSinglePut, or of unknown size that turns out no larger than
// PartSize and MaxSinglePut, goes in one PUT; anything else in parts.
func (s *s3Store) Create(ctx context.Context, name string, r io.Reader, size int64) error {
	if err := checkCreate(name, size); err != nil {
		return s.errorf("create", name, err)
	}
	key, err := s.key(name)
	if err != nil {
		return s.errorf("create", name, err)
	}
	if size > s.opts.PartSize*maxParts {
		return s.errorf("create", name, fmt.Errorf("%w: %d bytes is more than %d parts of %d: raise the part size", ErrSize, size, maxParts, s.opts.PartSize))
	}
	src := bufio.NewReaderSize(ctxReader{ctx, r}, 64<<10)
	if size >= 0 && size <= s.opts.MaxSinglePut {
		body := make([]byte, size)
		if err := readPart(src, body, size, size); err != nil {
			return s.errorf("create", name, err)
		}
		return s.errorf("create", name, s.putSingle(ctx, key, body))
	}
	mem := make([]byte, s.opts.PartSize)
	if size >= 0 {
		first := mem[:min(s.opts.PartSize, size)]
		if err := readPart(src, first, int64(len(first)), size); err != nil {
			return s.errorf("create", name, err)
		}
		return s.errorf("create", name, s.putMultipart(ctx, key, first, mem, src, size))
	}
	n, err := io.ReadFull(src, mem)
	if err == nil {
		// A full part: one byte more says whether it is all there is.
		if _, perr := src.Peek(1); perr == io.EOF {
			err = io.ErrUnexpectedEOF
		}
	}
	switch {
	case err == nil:
		return s.errorf("create", name, s.putMultipart(ctx, key, mem, mem, src, size))
	case err != io.EOF && err != io.ErrUnexpectedEOF:
		return s.errorf("create", name, fmt.Errorf("reading the object: %w", err))
	case int64(n) <= s.opts.MaxSinglePut:
		return s.errorf("create", name, s.putSingle(ctx, key, mem[:n]))
	}
	return s.errorf("create", name, s.putMultipart(ctx, key, mem[:n], mem, src, size))
}

// readPart fills buf from src. done is the number of bytes of the object
// read once buf is full, want the number promised: a src that ends early,
// or holds more once done reaches want, fails with ErrSize.
func readPart(src *bufio.Reader, buf []byte, done, want int64) error {
	n, err := io.ReadFull(src, buf)
	switch {
	case err == io.EOF || err == io.ErrUnexpectedEOF:
		return sizeError(done-int64(len(buf))+int64(n), want)
	case err != nil:
		return fmt.Errorf("reading the object: %w", err)
	}
	if done != want {
		return nil
	}
	switch _, err := src.Peek(1); {
	case err == nil:
		return sizeError(want+1, want)
	case err != io.EOF:
		return fmt.Errorf("reading the object: %w", err)
	}
	return nil
}

// putSingle stores body under key in one conditional PUT. The body is a
// bytes.Reader, which minio-go rewinds to resend on a retry (a body it
// cannot seek it sends once, never a truncated copy).
//
// A PUT whose answer was lost (a cut connection) and that minio-go retried
// finds its own object: 412. Only then is the stored object compared with
// body (ETag = MD5, and size), and a match is this Create's success.
func (s *s3Store) putSingle(ctx context.Context, key string, body []byte) error {
	rd := &seekCounter{Reader: bytes.NewReader(body)}
	o := minio.PutObjectOptions{}
	o.SetMatchETagExcept("*")
	_, err := s.core.PutObject(ctx, s.bucket, key, rd, int64(len(body)), "", "", o)
	if err == nil {
		return nil
	}
	if preconditionFailed(err) {
		if rd.seeks > 1 {
			sum := md5.Sum(body)
			if s.holds(ctx, key, hex.EncodeToString(sum[:]), int64(len(body))) {
				return nil
			}
		}
		return ErrExist
	}
	return s.mapErr(ctx, err)
}

// seekCounter counts the rewinds of a PUT body: one per attempt.
type seekCounter struct {
	*bytes.Reader
	seeks int
}

func (c *seekCounter) Seek(off int64, whence int) (int64, error) {
	c.seeks++
	return c.Reader.Seek(off, whence)
}

// holds reports whether key is an object of that ETag and size.
func (s *s3Store) holds(ctx context.Context, key, etag string, size int64) bool {
	st, err := s.mc.StatObject(ctx, s.bucket, key, minio.StatObjectOptions{})
	return err == nil && strings.Trim(st.ETag, `"`) == etag && st.Size == size
}

// preconditionFailed reports whether err is S3's answer to a conditional
// request whose condition failed (If-None-Match: * on an existing key).
func preconditionFailed(err error) bool {
	resp := minio.ToErrorResponse(err)
	return resp.Code == "PreconditionFailed" || resp.StatusCode == 412
}

// maxParts is S3's limit on the parts of one upload: with PartSize parts,
// it bounds an object's size (156 GiB with the default 16 MiB).
const maxParts = 10000

// putMultipart stores first and the rest of src under key as a multipart
// upload completed with If-None-Match: *, up to Parallel parts in flight
// at a time (see sendParts). On any failure it aborts the upload; if even
// that fails, the error says so and Cleanup aborts it later.
func (s *s3Store) putMultipart(ctx context.Context, key string, first, mem []byte, src *bufio.Reader, size int64) (err error) {
	// A name that exists fails now rather than after the upload; the
	// completion's condition still decides a race.
	if _, serr := s.mc.StatObject(ctx, s.bucket, key, minio.StatObjectOptions{}); serr == nil {
		return ErrExist
	}
	id, err := s.core.NewMultipartUpload(ctx, s.bucket, key, minio.PutObjectOptions{})
	if err != nil {
		return s.mapErr(ctx, err)
	}
	defer func() {
		if err != nil {
			err = s.abort(ctx, key, id, err)
		}
	}()
	up := upload{key: key, id: id}
	if err := s.sendParts(ctx, &up, first, mem, src, size); err != nil {
		return err
	}
	return s.complete(ctx, &up)
}

// sendParts uploads first (the start of mem) and the rest of src as the
// parts of up, up to Parallel at a time, each from its own buffer: mem,
// then up to Parallel-1 more of its size, made when needed. A part is read
// while the others are in flight. On the first failure (a part's, or
// reading src's) it reads no more, cancels the parts in flight and returns
// that error. It returns only once no part is in flight; on success up
// holds the parts in order.
func (s *s3Store) sendParts(ctx context.Context, up *upload, first, mem []byte, src *bufio.Reader, size int64) error {
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex // guards firstErr and etags
		etags  []string   // of part i+1, once sent
		lens   []int      // of part i+1
		failed = make(chan struct{})
		// firstErr, once set, closes failed and cancels the parts in
		// flight, whose own errors (context canceled) are then ignored.
		firstErr error
	)
	fail := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		if firstErr == nil {
			firstErr = err
			close(failed)
			cancel()
		}
	}
	free := make(chan []byte, s.opts.Parallel) // buffers of parts sent
	made := 1                                  // buffers so far, mem the first
	buffer := func() []byte {
		select {
		case <-failed:
			return nil
		case b := <-free:
			return b
		default:
		}
		if made < s.opts.Parallel {
			made++
			return make([]byte, len(mem))
		}
		select {
		case <-failed:
			return nil
		case b := <-free:
			return b
		}
	}
	done := int64(0) // bytes read
	for buf := first; ; {
		n := len(lens) + 1 // the part number
		if n > maxParts {
			fail(fmt.Errorf("%w: more than %d parts of %d bytes: raise the part size", ErrSize, maxParts, len(mem)))
			break
		}
		mu.Lock()
		etags = append(etags, "")
		mu.Unlock()
		lens = append(lens, len(buf))
		done += int64(len(buf))
		wg.Add(1)
		go func(buf []byte) { // buf, not the loop's, which the loop changes
			defer wg.Done()
			p, err := s.core.PutObjectPart(pctx, s.bucket, up.key, up.id, n, bytes.NewReader(buf), int64(len(buf)), minio.PutObjectPartOptions{})
			if err != nil {
				fail(s.mapErr(ctx, err))
				return
			}
			mu.Lock()
			etags[n-1] = p.ETag
			mu.Unlock()
			free <- buf[:cap(buf)]
		}(buf)
		next, last, err := nextPart(src, buffer, done, size)
		if err != nil {
			fail(err)
		}
		if last || next == nil {
			break
		}
		buf = next
	}
	wg.Wait()
	if firstErr != nil { // every writer is done
		return firstErr
	}
	for i, etag := range etags {
		up.add(etag, lens[i])
	}
	return nil
}

// upload is a multipart upload's parts so far.
type upload struct {
	key, id string
	parts   []minio.CompletePart
	md5s    []byte // the parts' MD5s, for the object's ETag
	size    int64
}

// add records a part sent.
func (u *upload) add(etag string, n int) {
	u.parts = append(u.parts, minio.CompletePart{PartNumber: len(u.parts) + 1, ETag: etag})
	if sum, err := hex.DecodeString(strings.Trim(etag, `"`)); err == nil {
		u.md5s = append(u.md5s, sum...)
	}
	u.size += int64(n)
}

// etag returns the ETag S3 gives the completed object: the MD5 of the
// parts' MD5s, "-", and the number of parts.
func (u *upload) etag() string {
	sum := md5.Sum(u.md5s)
	return fmt.Sprintf("%s-%d", hex.EncodeToString(sum[:]), len(u.parts))
}

// complete completes the upload with If-None-Match: *. A 412 means the
// name exists, unless our own completion landed and its answer was lost
// (then minio-go retried it): then the upload is gone and the object has
// the upload's ETag and size.
func (s *s3Store) complete(ctx context.Context, u *upload) error {
	o := minio.PutObjectOptions{}
	o.SetMatchETagExcept("*")
	_, err := s.core.CompleteMultipartUpload(ctx, s.bucket, u.key, u.id, u.parts, o)
	switch {
	case err == nil:
		return nil
	case !preconditionFailed(err):
		return s.mapErr(ctx, err)
	case s.uploadGone(ctx, u.key, u.id) && s.holds(ctx, u.key, u.etag(), u.size):
		return nil
	}
	return ErrExist
}

// nextPart reads the next part into a buffer from buffer, and reports
// whether the part just sent was the last instead. done is the bytes read
// so far. With a known size the last part is the one that reaches it; with
// an unknown one, the one src ends in. A nil buffer (a failure elsewhere)
// makes it return nil, false, nil: nothing more is read.
func nextPart(src *bufio.Reader, buffer func() []byte, done, size int64) (buf []byte, last bool, err error) {
	if size >= 0 {
		if done == size {
			return nil, true, nil
		}
		if buf = buffer(); buf == nil {
			return nil, false, nil
		}
		buf = buf[:min(int64(len(buf)), size-done)]
		return buf, false, readPart(src, buf, done+int64(len(buf)), size)
	}
	if buf = buffer(); buf == nil {
		return nil, false, nil
	}
	if _, err := src.Peek(1); err == io.EOF {
		return nil, true, nil
	} else if err != nil {
		return nil, false, fmt.Errorf("reading the object: %w", err)
	}
	n, err := io.ReadFull(src, buf)
	if err != nil && err != io.ErrUnexpectedEOF {
		return nil, false, fmt.Errorf("reading the object: %w", err)
	}
	return buf[:n], false, nil
}

// uploadGone reports whether the multipart upload id no longer exists.
func (s *s3Store) uploadGone(ctx context.Context, key, id string) bool {
	_, err := s.core.ListObjectParts(ctx, s.bucket, key, id, 0, 1)
	return minio.ToErrorResponse(err).Code == "NoSuchUpload"
}

// abortTimeout bounds aborting a failed upload, which runs even when the
// Create's context is done.
const abortTimeout = 30 * time.Second

// abort aborts the multipart upload id after cause and returns cause,
// saying so if the upload is left behind.
func (s *s3Store) abort(ctx context.Context, key, id string, cause error) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), abortTimeout)
	defer cancel()
	err := s.core.AbortMultipartUpload(ctx, s.bucket, key, id)
	if err != nil && minio.ToErrorResponse(err).Code != "NoSuchUpload" {
		return fmt.Errorf("%w; no object was made, and the incomplete upload %s could not be aborted (%v): Cleanup aborts it", cause, id, s.mapErr(ctx, err))
	}
	return fmt.Errorf("%w; no object was made", cause)
}
