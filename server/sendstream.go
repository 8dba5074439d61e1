package server

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
)

// sockStream writes a backup stream's body straight into the client's
// connection, taken over from net/http (http.Hijacker) after the answer's
// header, so that frame blocks can be sent from the segment files with
// sendfile(2) (sendRange) instead of being copied through user space:
// net/http's chunked writer takes only bytes, and its ReadFrom uses
// sendfile only for answers that are not chunked, which a stream, with its
// trailers, is.
//
// The body is what net/http would have written: HTTP/1.1 chunked
// encoding, one chunk for each Write of the stream (a frame block, the
// header, the end record), then the last chunk with the trailers. The
// answer says Connection: close, and the connection is closed after it.
type sockStream struct {
	conn net.Conn

	src   *os.File // the offered block's file, nil when none is offered
	off   int64
	block []byte

	crlf bool // a chunk's closing CRLF is owed, sent with what follows

	// send is sendRange, or nil once it refused: every block from then
	// on is written from its buffer. Tests replace it.
	send func(conn net.Conn, src *os.File, off int64, n int) (int, error)
	// sent, if set, is told of each block sent from its file (tests).
	sent func(n int)
}

// OfferRange notes where the next block lies (backup.RangeWriter).
func (s *sockStream) OfferRange(src *os.File, off int64, block []byte) {
	s.src, s.off, s.block = src, off, block
}

// Write sends p as one chunk: from its file when p is the block offered,
// else from p.
func (s *sockStream) Write(p []byte) (int, error) {
	src, off, block := s.src, s.off, s.block
	s.src, s.block = nil, nil
	if len(p) == 0 {
		return 0, nil
	}
	head := s.chunkHead(len(p))
	if s.send == nil || src == nil || len(p) != len(block) || &p[0] != &block[0] {
		return s.writeBufs(head, p)
	}
	if _, err := s.conn.Write(head); err != nil {
		return 0, err
	}
	n, err := s.send(s.conn, src, off, len(p))
	if err != nil && refused(err) && n == 0 {
		s.send = nil // this block, and all after it, from the buffer
		return s.writeBufs(nil, p)
	}
	if err == nil && s.sent != nil {
		s.sent(n)
	}
	return n, err
}

// chunkHead is the bytes that go before a chunk of n bytes: the CRLF
// that closes the chunk before it, if one is owed, and the chunk's size
// line. The chunk's own CRLF is then owed.
func (s *sockStream) chunkHead(n int) []byte {
	b := make([]byte, 0, 2+16+2)
	if s.crlf {
		b = append(b, "\r\n"...)
	}
	b = strconv.AppendInt(b, int64(n), 16)
	s.crlf = true
	return append(b, "\r\n"...)
}

// writeBufs writes head and p in one writev, and returns how much of p
// was written.
func (s *sockStream) writeBufs(head, p []byte) (int, error) {
	bufs := net.Buffers{head, p}
	n, err := bufs.WriteTo(s.conn)
	return max(0, int(n)-len(head)), err
}

// finish writes the last chunk and the trailers, and closes the
// connection.
func (s *sockStream) finish(trailers http.Header) error {
	defer s.conn.Close()
	b := make([]byte, 0, 512)
	if s.crlf {
		b = append(b, "\r\n"...)
	}
	b = append(b, "0\r\n"...)
	for _, k := range []string{TrailerResult, TrailerError} {
		if v := trailers.Get(k); v != "" {
			b = fmt.Appendf(b, "%s: %s\r\n", k, v)
		}
	}
	b = append(b, "\r\n"...)
	_, err := s.conn.Write(b)
	return err
}

// hijack takes the connection of w over after writing the answer's
// header, for a sockStream; nil when w cannot give it (the answer then
// goes on through w, with the header written).
func hijack(w http.ResponseWriter) *sockStream {
	w.Header().Set("Connection", "close")
	w.WriteHeader(http.StatusOK)
	conn, _, err := http.NewResponseController(w).Hijack() // flushes the header into conn
	if err != nil {
		return nil
	}
	return &sockStream{conn: conn, send: sendRange}
}

// waitStreams waits until every running stream has ended, or ctx. After
// Drain, http.Server.Shutdown waits for the streams net/http still owns;
// this waits for the ones whose connection was taken over (sockStream).
func (s *Server) waitStreams(ctx context.Context) error {
	s.mu.Lock()
	var running []*liveStream
	for _, st := range s.streams {
		running = append(running, st)
	}
	s.mu.Unlock()
	var left []string
	for _, st := range running {
		select {
		case <-st.ended:
		case <-ctx.Done():
			left = append(left, st.info.ID)
		}
	}
	if len(left) > 0 {
		return fmt.Errorf("streams %v still running: %w", left, ctx.Err())
	}
	return nil
}
