package server

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/hotpipe/hotpipe/stream"
)

// Client calls a hotpipe server's API.
type Client struct {
	base  *url.URL
	token string
	http  *http.Client
}

// ClientOptions configure a Client.
type ClientOptions struct {
	// Token is the server's bearer token; empty sends none.
	Token string
	// TLS configures HTTPS (trusted CAs, a client certificate); nil uses
	// the system's roots.
	TLS *tls.Config
}

// NewClient returns a client of the server at addr: HOST:PORT (HTTP), or
// an http:// or https:// URL.
func NewClient(addr string, opts ClientOptions) (*Client, error) {
	if !strings.Contains(addr, "://") {
		addr = "http://" + addr
	}
	u, err := url.Parse(addr)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("%w: server address %q: give HOST:PORT or an http(s):// URL", errUsage, addr)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = opts.TLS
	return &Client{base: u, token: opts.Token, http: &http.Client{Transport: tr}}, nil
}

// String is the server's URL.
func (c *Client) String() string { return c.base.String() }

// BackupRequest says what a remote backup copies: as backup.Options.
type BackupRequest struct {
	Start, End uint64
	Follow     bool
	MaxRate    float64
}

// Backup asks the server for a backup stream of db. Read the stream to
// its end: the last Read reports how it ended, as the local backup would
// have (an error the server reported, with its exit code), or a stream cut
// on the way (stream.ErrTruncated). Result is valid after that.
func (c *Client) Backup(ctx context.Context, db string, req BackupRequest) (*Stream, error) {
	q := url.Values{}
	if req.Start > 1 {
		q.Set("start", strconv.FormatUint(req.Start, 10))
	}
	if req.End != 0 {
		q.Set("end", strconv.FormatUint(req.End, 10))
	}
	if req.Follow {
		q.Set("follow", "true")
	}
	if req.MaxRate != 0 {
		q.Set("max_rate", strconv.FormatFloat(req.MaxRate, 'f', -1, 64))
	}
	path := "/v1/databases/" + url.PathEscape(db) + "/backup"
	var resp *http.Response
	var err error
	if !req.Follow && req.MaxRate == 0 { // as the server, which sends these from the files
		resp, err = c.rawBackup(ctx, path, q)
	}
	if resp == nil && err == nil {
		resp, err = c.do(ctx, http.MethodGet, path, q, nil)
	}
	if err != nil {
		return nil, err
	}
	return &Stream{resp: resp, client: c}, nil
}

// getJSON GETs path and decodes its JSON answer into v.
func (c *Client) getJSON(ctx context.Context, path string, v any) error {
	return c.sendJSON(ctx, http.MethodGet, path, nil, v)
}

// do sends a request and returns a successful answer; an error answer
// becomes its error.
func (c *Client) do(ctx context.Context, method, path string, q url.Values, body io.Reader) (*http.Response, error) {
	u := *c.base
	u.Path += path
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return nil, err
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("server %s: %w", c, err)
	}
	if resp.StatusCode >= 300 {
		defer resp.Body.Close()
		return nil, answerError(resp, c.String())
	}
	return resp, nil
}

// answerError is the error of an error answer: the server's, with its exit
// code, or the status when the body says nothing.
func answerError(resp *http.Response, server string) error {
	var b ErrorBody
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&b); err != nil || b.Error.Message == "" {
		return &StatusError{Status: resp.StatusCode, Err: fmt.Errorf("server %s answered %s", server, resp.Status)}
	}
	return &StatusError{Status: resp.StatusCode, Err: remoteError(b.Error)}
}

// Stream is a backup stream coming from a server.
type Stream struct {
	resp   *http.Response
	client *Client
	result BackupResult
	done   error // how the stream ended, once it has
}

// Read reads the stream. At its end it returns io.EOF when the backup
// succeeded, the server's error when it reported one, and an error
// wrapping stream.ErrTruncated when the connection broke.
func (s *Stream) Read(p []byte) (int, error) {
	if s.done != nil {
		return 0, s.done
	}
	n, err := s.resp.Body.Read(p)
	if err != nil {
		s.done = s.end(err)
		err = s.done
	}
	return n, err
}

// end works out how the stream ended, from the body's last error and the
// trailers.
func (s *Stream) end(err error) error {
	if err != io.EOF {
		return fmt.Errorf("server %s: the connection broke: %w (%v)", s.client, stream.ErrTruncated, err)
	}
	result := s.resp.Trailer.Get(TrailerResult)
	if result != "" {
		_ = json.Unmarshal([]byte(result), &s.result) // a garbled result leaves zeros, and Ended false
	}
	if v := s.resp.Trailer.Get(TrailerError); v != "" {
		var e ErrorJSON
		if json.Unmarshal([]byte(v), &e) != nil || e.Message == "" {
			return fmt.Errorf("server %s: the stream ended with an error it did not say: %w", s.client, stream.ErrTruncated)
		}
		return remoteError(e)
	}
	// A backup that succeeded says so, and that it wrote its end record.
	// Without that (a proxy that drops trailers, a connection closed
	// without chunked framing) the end of the body proves nothing.
	if !s.result.Ended {
		return fmt.Errorf("server %s: the stream ended without the server's word that it is whole: %w", s.client, stream.ErrTruncated)
	}
	return io.EOF
}

// Result is what the server's backup wrote: valid once Read has returned
// io.EOF or the server's error.
func (s *Stream) Result() BackupResult { return s.result }

// Stop asks the server to end the stream as SIGINT ends the local
// command: a following backup with its end record, a plain one at a frame
// boundary. Read the stream on to its end.
func (s *Stream) Stop(ctx context.Context) error {
	id := s.resp.Header.Get(HeaderStream)
	if id == "" {
		return fmt.Errorf("server %s: the stream has no id to stop it by", s.client)
	}
	resp, err := s.client.do(ctx, http.MethodPost, "/v1/streams/"+url.PathEscape(id)+"/stop", nil, nil)
	if err != nil {
		return err
	}
	return resp.Body.Close()
}

// Close releases the connection.
func (s *Stream) Close() error { return s.resp.Body.Close() }
