package server

import (
	"context"
	"net"
	"net/http/httptrace"
	"runtime"
	"strings"
	"testing"
)

// TestPullDrainOnPlainSockets: a pull over a plain TCP connection reads
// its stream through a replica.Drain (the standby syncs as soon as the
// socket has nothing more); over a connection that is no socket (TLS,
// a pipe) it reads the body as it is.
func TestPullDrainOnPlainSockets(t *testing.T) {
	body := strings.NewReader("stream")
	t.Run("no socket", func(t *testing.T) {
		a, b := net.Pipe()
		defer a.Close()
		defer b.Close()
		c := &connSeen{}
		httptrace.ContextClientTrace(c.trace(context.Background())).GotConn(httptrace.GotConnInfo{Conn: a})
		if d, r := c.drain(body); d != nil || r != body {
			t.Fatalf("drain = %v, %T; want none and the body", d, r)
		}
	})
	t.Run("tcp", func(t *testing.T) {
		if runtime.GOOS != "linux" {
			t.Skip("a socket's ready bytes are asked for on Linux only")
		}
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		conn, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		c := &connSeen{}
		httptrace.ContextClientTrace(c.trace(context.Background())).GotConn(httptrace.GotConnInfo{Conn: conn})
		if d, r := c.drain(body); d == nil || r == body {
			t.Fatalf("drain = %v, %T; want a Drain and the body read through it", d, r)
		}
	})
}
