package server

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/textproto"
	"net/url"
	"os"
	"slices"
	"strconv"
	"sync/atomic"
	"time"
)

// rawBackup sends a backup's GET on a connection of its own instead of
// through net/http's transport, so that the chunks of the answer can be
// spliced from the socket into a pipe (Stream.WriteTo) without passing
// through user space: net/http reads every body through its own buffer.
// It is used for plain HTTP without a proxy, and returns nil, nil when it
// is not (the caller then uses the transport). An error answer is the
// error, as do makes it.
func (c *Client) rawBackup(ctx context.Context, path string, q url.Values) (*http.Response, error) {
	if !rawSplice || c.base.Scheme != "http" {
		return nil, nil
	}
	u := *c.base
	u.Path += path
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	if p, err := http.ProxyFromEnvironment(req); err != nil || p != nil {
		return nil, nil
	}
	req.Close = true // the connection is the stream's alone
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), "80")
	}
	d := net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	conn, err := d.DialContext(ctx, "tcp", host)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("server %s: %w", c, err)
	}
	body := &rawBody{conn: conn, br: bufio.NewReaderSize(conn, 4<<10)}
	body.stop = context.AfterFunc(ctx, func() { body.closed.Store(true); conn.Close() })
	resp, err := body.start(req)
	if err != nil {
		body.Close()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("server %s: %w", c, err)
	}
	if resp.StatusCode >= 300 {
		defer body.Close()
		return nil, answerError(resp, c.String())
	}
	if !slices.Equal(resp.TransferEncoding, []string{"chunked"}) {
		resp.Body = struct {
			io.Reader
			io.Closer
		}{resp.Body, body}
		return resp, nil
	}
	body.resp, resp.Body = resp, body
	return resp, nil
}

// rawBody is a chunked answer read from its own connection: Read reads
// it, spliceTo splices it into a pipe; at its end the trailers are put in
// the answer's Trailer, as net/http puts them.
type rawBody struct {
	conn   net.Conn
	br     *bufio.Reader
	resp   *http.Response
	left   int64 // bytes left of the current chunk
	inside bool  // in a chunk, whose CRLF is still to be read
	err    error // how the body ended, once it has
	stop   func() bool
	closed atomic.Bool // by Close or the context: no more waiting
}

// start writes req and reads the answer's status and header.
func (b *rawBody) start(req *http.Request) (*http.Response, error) {
	if err := req.Write(b.conn); err != nil {
		return nil, err
	}
	return http.ReadResponse(b.br, req)
}

// maxChunkLine bounds a chunk's size line, as net/http's does.
const maxChunkLine = 4096

// next reads up to the next chunk's bytes, or the trailers after the last
// chunk (io.EOF).
func (b *rawBody) next() error {
	if b.err != nil {
		return b.err
	}
	b.err = b.readNext()
	return b.err
}

func (b *rawBody) readNext() error {
	if b.inside {
		var crlf [2]byte
		if _, err := io.ReadFull(b.br, crlf[:]); err != nil {
			return noEOF(err)
		}
		if crlf != [2]byte{'\r', '\n'} {
			return errors.New("malformed chunked encoding: no CRLF after a chunk")
		}
		b.inside = false
	}
	line, err := b.br.ReadSlice('\n')
	if err != nil || len(line) > maxChunkLine {
		if err == nil || err == bufio.ErrBufferFull {
			err = errors.New("malformed chunked encoding: chunk size line too long")
		}
		return noEOF(err)
	}
	line = bytes.TrimRight(line, "\r\n")
	if i := bytes.IndexByte(line, ';'); i >= 0 {
		line = line[:i] // chunk extensions: none are sent, any are ignored
	}
	n, err := strconv.ParseInt(string(bytes.TrimSpace(line)), 16, 64)
	if err != nil || n < 0 {
		return fmt.Errorf("malformed chunked encoding: chunk size %q", line)
	}
	if n == 0 {
		h, err := textproto.NewReader(b.br).ReadMIMEHeader()
		if err != nil {
			return noEOF(err)
		}
		if b.resp != nil {
			b.resp.Trailer = http.Header(h)
		}
		return io.EOF
	}
	b.left, b.inside = n, true
	return nil
}

// noEOF makes an end of the connection inside the body unexpected.
func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

func (b *rawBody) Read(p []byte) (int, error) {
	if b.left == 0 {
		if err := b.next(); err != nil {
			return 0, err
		}
	}
	n, err := b.br.Read(p[:min(int64(len(p)), b.left)])
	b.left -= int64(n)
	if err != nil {
		b.err = noEOF(err)
		return n, b.err
	}
	return n, nil
}

// Close releases the connection.
func (b *rawBody) Close() error {
	if b.stop != nil {
		b.stop()
	}
	b.closed.Store(true)
	return b.conn.Close()
}

// WriteTo writes the rest of the stream to w: spliced from the socket
// when w is a pipe and the stream came on a connection of its own, else
// copied through a 1 MiB buffer. It ends as Read does, but for io.EOF,
// which is a nil error; an error writing w is returned as it is.
func (s *Stream) WriteTo(w io.Writer) (int64, error) {
	if s.done != nil {
		return 0, s.ended()
	}
	var n int64
	var rerr, werr error
	if b, ok := s.resp.Body.(*rawBody); ok {
		if f, ok := w.(*os.File); ok && isPipe(f) {
			n, rerr, werr = b.spliceTo(f)
		} else {
			n, rerr, werr = copySides(b, w)
		}
	} else {
		n, rerr, werr = copySides(s.resp.Body, w)
	}
	if werr != nil {
		return n, werr
	}
	s.done = s.end(rerr)
	return n, s.ended()
}

// copySides copies r to w through a 1 MiB buffer, and says which side
// failed: readErr is io.EOF at r's end.
func copySides(r io.Reader, w io.Writer) (n int64, readErr, writeErr error) {
	buf := make([]byte, 1<<20)
	for {
		k, rerr := r.Read(buf)
		if k > 0 {
			m, werr := w.Write(buf[:k])
			n += int64(m)
			if werr != nil {
				return n, nil, werr
			}
		}
		if rerr != nil {
			return n, rerr, nil
		}
	}
}

// ended is how the stream ended, for WriteTo: nil when whole.
func (s *Stream) ended() error {
	if s.done == io.EOF {
		return nil
	}
	return s.done
}

// isPipe reports whether f is a pipe.
func isPipe(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeNamedPipe != 0
}
