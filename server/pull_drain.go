package server

import (
	"context"
	"io"
	"net"
	"net/http/httptrace"
	"sync"
	"syscall"

	"github.com/hotpipe/hotpipe/replica"
)

// connSeen notes the connection a pull's request went out on, so that the
// standby can ask its socket whether more bytes are ready (replica.Drain)
// and sync as soon as none are.
type connSeen struct {
	mu   sync.Mutex
	conn net.Conn
}

// trace returns ctx with a trace that notes the request's connection.
func (c *connSeen) trace(ctx context.Context) context.Context {
	return httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) {
		c.mu.Lock()
		c.conn = i.Conn
		c.mu.Unlock()
	}})
}

// drain returns a Drain for body and body read through it, when the
// connection is a plain socket; else none, and body as it is (a TLS
// connection's ready bytes are not the body's: the standby syncs by its
// timers).
func (c *connSeen) drain(body io.Reader) (*replica.Drain, io.Reader) {
	c.mu.Lock()
	conn := c.conn
	c.mu.Unlock()
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return nil, body
	}
	d := replica.NewDrain()
	return d, d.Reader(sc, body)
}
