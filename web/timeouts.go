package web

import (
	"context"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Timeouts Serve gives an http.Server that has none, so that a client cannot
// hold a connection, a goroutine and its buffers without making progress.
const (
	// defaultReadHeaderTimeout becomes ReadHeaderTimeout. It also bounds TLS
	// handshakes (as the shortest timeout set), which a silent client
	// could otherwise hold open forever.
	defaultReadHeaderTimeout = 10 * time.Second
	// defaultIdleTimeout becomes IdleTimeout: longer than the usual scrape
	// intervals (up to a minute), so a scraper keeps its connection.
	defaultIdleTimeout = 2 * time.Minute
	// defaultReadTimeout becomes ReadTimeout: the time a client has to send
	// a request, headers and body. net/http lifts the connection's read
	// deadline once a request's body has been read (HTTP/1.1) and bounds
	// only the body of a stream (HTTP/2), so it never cuts a long response;
	// WriteTimeout would, and is left alone.
	defaultReadTimeout = time.Minute
)

// applyTimeouts sets the timeouts Serve documents on a server about to be
// served, leaving those the caller set:
//
//   - ReadHeaderTimeout, when zero, becomes defaultReadHeaderTimeout;
//   - IdleTimeout, when it and ReadTimeout are zero (net/http falls back on
//     ReadTimeout), becomes defaultIdleTimeout;
//   - ReadTimeout, when zero, becomes defaultReadTimeout, so a request body
//     that never finishes is given up on;
//   - a connection that has not sent a request that reaches the Guard's
//     handler within twice ReadHeaderTimeout of its handshake is closed.
//     The Guard's listener bounds the TLS handshake and net/http an
//     HTTP/1.1 client's first request headers, with ReadHeaderTimeout each,
//     but after an HTTP/2 client's preface nothing does until IdleTimeout. A negative ReadHeaderTimeout
//     turns this off.
//
// It chains any ConnContext and ConnState the server has.
func applyTimeouts(server *http.Server) {
	if server.ReadHeaderTimeout == 0 {
		server.ReadHeaderTimeout = defaultReadHeaderTimeout
	}
	if server.IdleTimeout == 0 && server.ReadTimeout == 0 {
		server.IdleTimeout = defaultIdleTimeout
	}
	if server.ReadTimeout == 0 {
		server.ReadTimeout = defaultReadTimeout
	}
	if server.ReadHeaderTimeout < 0 {
		return
	}
	w := &firstRequestWatch{limit: 2 * server.ReadHeaderTimeout, pending: make(map[net.Conn]*pendingConn)}
	connContext, connState := server.ConnContext, server.ConnState
	server.ConnContext = func(ctx context.Context, c net.Conn) context.Context {
		if connContext != nil {
			ctx = connContext(ctx, c)
		}
		return w.accepted(ctx, c)
	}
	server.ConnState = func(c net.Conn, state http.ConnState) {
		if state == http.StateClosed || state == http.StateHijacked {
			w.closed(c)
		}
		if connState != nil {
			connState(c, state)
		}
	}
}

// firstRequestWatch closes the connections of one server that do not send
// a request within limit of being accepted.
type firstRequestWatch struct {
	limit   time.Duration
	mu      sync.Mutex
	pending map[net.Conn]*pendingConn // open connections, by net/http's conn
}

// pendingConn is an open connection and the timer that closes it unless a
// request arrives first.
type pendingConn struct {
	timer   *time.Timer
	settled atomic.Bool // a request arrived, or the connection closed
}

// pendingConnKey is the connection context key of a *pendingConn.
type pendingConnKey struct{}

// accepted starts the clock of a new connection. net/http calls
// ConnContext, and so accepted, before any ConnState of the connection.
func (w *firstRequestWatch) accepted(ctx context.Context, c net.Conn) context.Context {
	p := &pendingConn{}
	p.timer = time.AfterFunc(w.limit, func() {
		if !p.settled.Load() {
			c.Close()
		}
	})
	w.mu.Lock()
	w.pending[c] = p
	w.mu.Unlock()
	return context.WithValue(ctx, pendingConnKey{}, p)
}

// closed forgets a connection that closed or was hijacked, so that its
// timer does not keep it in memory.
func (w *firstRequestWatch) closed(c net.Conn) {
	w.mu.Lock()
	p := w.pending[c]
	delete(w.pending, c)
	w.mu.Unlock()
	if p != nil {
		p.settle()
	}
}

func (p *pendingConn) settle() {
	if !p.settled.Swap(true) {
		p.timer.Stop()
	}
}

// requestArrived tells the connection's watch, if it has one, that a
// request arrived: the connection has shown it is used.
func requestArrived(r *http.Request) {
	if p, ok := r.Context().Value(pendingConnKey{}).(*pendingConn); ok && !p.settled.Load() {
		p.settle()
	}
}
