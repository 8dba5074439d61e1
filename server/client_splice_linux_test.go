//go:build linux

package server

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/hotpipe/hotpipe/internal/exitcode"
)

// intoPipe runs st.WriteTo into a pipe read to its end by another
// goroutine, and returns what the pipe carried and WriteTo's error.
func intoPipe(t *testing.T, st *Stream) ([]byte, error) {
	t.Helper()
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	got := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(pr)
		got <- b
	}()
	_, err = st.WriteTo(pw)
	pw.Close()
	return <-got, err
}

// TestClientSplicesTheStream: a plain remote backup read with WriteTo
// into a pipe (spliced from the socket) or into a buffer (copied) carries
// the bytes Read gives, and ends whole.
func TestClientSplicesTheStream(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	randomFoo(t, dir, 40, 100<<10, 1<<20) // 4 MiB in several segments
	var sent atomic.Int64
	hs, _ := sendServer(t, dir, &sent, nil)
	want, _, err := remoteBytes(t, hs, BackupRequest{})
	if err != nil {
		t.Fatal(err)
	}
	c := client(t, hs)
	st, err := c.Backup(context.Background(), "foo", BackupRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := st.resp.Body.(*rawBody); !ok {
		t.Fatalf("the stream came through net/http, not on a connection of its own")
	}
	got, err := intoPipe(t, st)
	st.Close()
	if err != nil || !st.Result().Ended {
		t.Fatalf("WriteTo a pipe: %v, result %+v", err, st.Result())
	}
	sameBytes(t, "spliced", got, want)

	st, err = c.Backup(context.Background(), "foo", BackupRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := st.WriteTo(&buf); err != nil || !st.Result().Ended {
		t.Fatalf("WriteTo a buffer: %v, result %+v", err, st.Result())
	}
	st.Close()
	sameBytes(t, "copied", buf.Bytes(), want)
}

// TestClientReadsAnswers: the client's own reading of a chunked answer
// ends as net/http's does, spliced into a pipe or read: a whole stream
// with the server's word, a stream cut inside a chunk or after one, a
// malformed chunk size, the server's error in its trailer.
func TestClientReadsAnswers(t *testing.T) {
	t.Parallel()
	const head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: Hotpipe-Result, Hotpipe-Error\r\nConnection: close\r\n\r\n"
	tests := []struct {
		name string
		body string
		code int
		data string
	}{
		{"whole", "5\r\nhello\r\n6\r\n world\r\n0\r\nHotpipe-Result: {\"ended\":true}\r\n\r\n", exitcode.OK, "hello world"},
		{"cut inside a chunk", "5\r\nhello\r\n6\r\n wo", exitcode.Integrity, "hello wo"},
		{"cut after a chunk", "5\r\nhello\r\n", exitcode.Integrity, "hello"},
		{"no CRLF after a chunk", "5\r\nhelloXX6\r\n world\r\n", exitcode.Integrity, "hello"},
		{"malformed size", "5\r\nhello\r\nzz\r\n", exitcode.Integrity, "hello"},
		{"without the server's word", "5\r\nhello\r\n0\r\n\r\n", exitcode.Integrity, "hello"},
		{"the server's error", "5\r\nhello\r\n0\r\nHotpipe-Error: {\"message\":\"backup of foo: bad CRC\",\"exit_code\":3}\r\n\r\n", exitcode.Integrity, "hello"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			url := answering(t, head+tt.body)
			for _, how := range []string{"spliced", "read"} {
				c, err := NewClient(url, ClientOptions{})
				if err != nil {
					t.Fatal(err)
				}
				st, err := c.Backup(context.Background(), "foo", BackupRequest{})
				if err != nil {
					t.Fatal(err)
				}
				var got []byte
				if how == "spliced" {
					got, err = intoPipe(t, st)
				} else {
					got, err = io.ReadAll(st)
				}
				st.Close()
				if string(got) != tt.data || exitcode.Of(err) != tt.code {
					t.Errorf("%s: %q, %v (exit %d); want %q, exit %d", how, got, err, exitcode.Of(err), tt.data, tt.code)
				}
			}
		})
	}
}

// answering is the URL of a loopback server that answers every
// connection with answer, after reading its request's header, and closes
// it.
func answering(t *testing.T, answer string) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				var req []byte
				buf := make([]byte, 4096)
				for !bytes.Contains(req, []byte("\r\n\r\n")) {
					n, err := conn.Read(buf)
					if err != nil {
						return
					}
					req = append(req, buf[:n]...)
				}
				_, _ = io.WriteString(conn, answer)
			}()
		}
	}()
	return "http://" + l.Addr().String()
}

// TestClientPipeReaderGone: when the reader of the pipe goes away, WriteTo
// returns the write's broken pipe, not a truncated stream.
func TestClientPipeReaderGone(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	randomFoo(t, dir, 100, 64<<10, 0)
	var sent atomic.Int64
	hs, _ := sendServer(t, dir, &sent, nil)
	st, err := client(t, hs).Backup(context.Background(), "foo", BackupRequest{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pw.Close()
	pr.Close()
	if _, err := st.WriteTo(pw); !errors.Is(err, syscall.EPIPE) || strings.Contains(err.Error(), "truncated") {
		t.Fatalf("WriteTo a pipe without a reader: %v, want EPIPE", err)
	}
}
