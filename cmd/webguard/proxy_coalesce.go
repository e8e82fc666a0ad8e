package main

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"sync"
)

// coalescingConn is a client connection of the proxy, under its TLS. While
// it holds, writes are kept in a buffer and sent in one write on release:
// the forwarder holds while it writes a response's head and first buffer,
// which net/http and crypto/tls turn into three or more TLS records, one
// write (system call, loopback wake-up of the client) each. Held, a typical
// scrape goes out in one. Nothing is held across a wait for the upstream
// or the client.
type coalescingConn struct {
	net.Conn
	mu   sync.Mutex
	held *[]byte // while holding: the writes so far, from heldBufs
}

// heldBufs are the buffers of holding connections: one per response being
// written, not one per connection.
var heldBufs = sync.Pool{New: func() any { b := make([]byte, 0, copyBufSize+8<<10); return &b }}

// maxPooledHeld bounds the buffers kept for reuse; a rare larger one goes
// to the garbage collector.
const maxPooledHeld = 256 << 10

func (c *coalescingConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	if c.held != nil {
		*c.held = append(*c.held, p...)
		c.mu.Unlock()
		return len(p), nil
	}
	c.mu.Unlock()
	return c.Conn.Write(p)
}

// hold starts keeping writes back.
func (c *coalescingConn) hold() {
	c.mu.Lock()
	if c.held == nil {
		c.held = heldBufs.Get().(*[]byte)
	}
	c.mu.Unlock()
}

// release sends what was held, in one write, and stops holding.
func (c *coalescingConn) release() error {
	c.mu.Lock()
	b := c.held
	c.held = nil
	c.mu.Unlock()
	if b == nil {
		return nil
	}
	var err error
	if len(*b) > 0 {
		_, err = c.Conn.Write(*b)
	}
	if cap(*b) <= maxPooledHeld {
		*b = (*b)[:0]
		heldBufs.Put(b)
	}
	return err
}

// coalescingListener makes every accepted connection a coalescingConn.
type coalescingListener struct{ net.Listener }

func (l coalescingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &coalescingConn{Conn: c}, nil
}

// coalescingKey is the connection context key of a *coalescingConn.
type coalescingKey struct{}

// coalescingContext is the proxy server's ConnContext: it puts the client
// connection's coalescingConn, under its TLS if any, in the context.
func coalescingContext(ctx context.Context, c net.Conn) context.Context {
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	if cc, ok := c.(*coalescingConn); ok {
		return context.WithValue(ctx, coalescingKey{}, cc)
	}
	return ctx
}

// holdWrites returns r's client connection, holding, when r came over
// HTTP/1.x on a coalescingConn; nil otherwise. (Over HTTP/2 another
// goroutine writes the frames, for every stream of the connection.)
func holdWrites(r *http.Request) *coalescingConn {
	if r.ProtoMajor != 1 {
		return nil
	}
	cc, _ := r.Context().Value(coalescingKey{}).(*coalescingConn)
	if cc != nil {
		cc.hold()
	}
	return cc
}
