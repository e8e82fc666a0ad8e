package web

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// guardListener is the listener Serve serves on: it decides TLS per accepted
// connection from the snapshot current at that moment, so a reload that
// switches TLS on (or, applied explicitly, off) changes the next connection,
// and so does one that switches HTTP/2 on or off.
//
// It does the TLS handshakes itself, each on a goroutine of its own and
// bounded as net/http bounds them, and hands net/http only handshaken
// *tls.Conns (net/http's own HandshakeContext then has nothing to do, and
// it serves h2 when ALPN chose it). That way a failed handshake reaches the
// Guard as an error value rather than as a line of net/http's error log: a
// chain crypto/tls refused still carries the client's certificate
// (tls.CertificateVerificationError), which the refusal line shows.
type guardListener struct {
	net.Listener
	g      *Guard
	server *servedServer
	// offer is the tls.Config last handed out, with the snapshot's TLS it
	// was made from: adjusted to the server once per reload, not per
	// connection.
	offer atomic.Pointer[offer]

	start sync.Once
	// ready passes connections (or the inner listener's errors) from the
	// accept loop and the handshakes to Accept. It is unbuffered, so the
	// loop waits for net/http to ask, as it would without us, and
	// net/http's back-off after an error such as EMFILE still paces it.
	ready chan acceptResult
	// done is closed by Close.
	done chan struct{}

	// mu guards shaking, the connections in a handshake, which Close
	// closes, and closed. (A context cancelled by Close would do the
	// same, at the price of a goroutine per handshake watching it.)
	mu      sync.Mutex
	shaking map[net.Conn]struct{}
	closed  bool
}

// acceptResult is a connection ready for net/http, or an error of the
// inner listener's Accept.
type acceptResult struct {
	conn net.Conn
	err  error
}

func newGuardListener(l net.Listener, g *Guard, server *servedServer) *guardListener {
	return &guardListener{
		Listener: l, g: g, server: server,
		ready: make(chan acceptResult), done: make(chan struct{}),
		shaking: map[net.Conn]struct{}{},
	}
}

type offer struct {
	from   *servedTLS
	config *tls.Config
}

// servedServer is what begin finds out about an http.Server before its first
// Serve: once that runs, net/http writes the fields it was read from.
type servedServer struct {
	// h2 says whether the server can serve HTTP/2; when it cannot, h2 is
	// never offered whatever the config says.
	h2 bool
	// extra are the ALPN protocols of the server's own TLSConfig other
	// than h2 and http/1.1 (acme-tls/1, say), offered after ours.
	extra []string
	// handshakeTimeout bounds a TLS handshake, as net/http would bound it
	// (the shortest of ReadHeaderTimeout, ReadTimeout and WriteTimeout
	// that is set); zero for no bound.
	handshakeTimeout time.Duration
	// serving counts the Serve calls running with the server.
	serving int
}

// newServedServer reads server before begin prepares it.
func newServedServer(server *http.Server) *servedServer {
	s := &servedServer{h2: serverSpeaksHTTP2(server)}
	if server.TLSConfig != nil {
		for _, p := range server.TLSConfig.NextProtos {
			if p != "h2" && p != "http/1.1" && !slices.Contains(s.extra, p) {
				s.extra = append(s.extra, p)
			}
		}
	}
	return s
}

// handshakeTimeout is the bound net/http puts on a TLS handshake of server.
func handshakeTimeout(server *http.Server) time.Duration {
	var d time.Duration
	for _, t := range []time.Duration{server.ReadHeaderTimeout, server.ReadTimeout, server.WriteTimeout} {
		if t > 0 && (d == 0 || t < d) {
			d = t
		}
	}
	return d
}

// Accept returns the next connection: a handshaken *tls.Conn when the
// config had TLS on as it was accepted, else the connection as it is.
func (l *guardListener) Accept() (net.Conn, error) {
	l.start.Do(func() { go l.acceptLoop() })
	select {
	case a := <-l.ready:
		return a.conn, a.err
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// Close closes the inner listener and every connection accepted but not yet
// handed to net/http, in a handshake or waiting for Accept.
func (l *guardListener) Close() error {
	l.mu.Lock()
	if !l.closed {
		l.closed = true
		close(l.done)
		for c := range l.shaking {
			c.Close()
		}
	}
	l.mu.Unlock()
	return l.Listener.Close()
}

// track adds c to the connections in a handshake; false when the listener
// is closed.
func (l *guardListener) track(c net.Conn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return false
	}
	l.shaking[c] = struct{}{}
	return true
}

// untrack removes c from the connections in a handshake and reports
// whether the listener is still open.
func (l *guardListener) untrack(c net.Conn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.shaking, c)
	return !l.closed
}

// acceptLoop accepts connections until the listener is closed, handing
// plain ones to Accept and starting a handshake for each TLS one.
func (l *guardListener) acceptLoop() {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			// net/http decides what an error means (it retries the
			// temporary ones); a closed listener ends the loop.
			if !l.deliver(acceptResult{err: err}) || errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		t := l.g.snap.Load().tls
		if t == nil {
			if !l.deliver(acceptResult{conn: c}) {
				c.Close()
			}
			continue
		}
		go l.handshake(c, t)
	}
}

// deliver hands a to Accept; false when the listener closed first.
func (l *guardListener) deliver(a acceptResult) bool {
	select {
	case l.ready <- a:
		return true
	case <-l.done:
		return false
	}
}

// handshake runs the server side of a TLS handshake on c under t and hands
// the connection to Accept, or logs and counts the failure and closes it.
func (l *guardListener) handshake(c net.Conn, t *servedTLS) {
	if !l.track(c) {
		c.Close()
		return
	}
	tc := tls.Server(c, l.config(t))
	if d := l.server.handshakeTimeout; d > 0 {
		c.SetDeadline(time.Now().Add(d))
	}
	err := tc.Handshake()
	open := l.untrack(c)
	if err != nil {
		var rh tls.RecordHeaderError
		if errors.As(err, &rh) && rh.Conn != nil && looksLikeHTTP(rh.RecordHeader) {
			// Plain HTTP on a TLS port: say so in plain HTTP, as
			// net/http does.
			io.WriteString(rh.Conn, "HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n")
			err = errPlainHTTP
		}
		if open {
			l.g.handshakeFailed(c.RemoteAddr().String(), t, err)
		}
		c.Close()
		return
	}
	c.SetDeadline(time.Time{})
	// The re-check of later requests (recheck.go) starts from what this
	// connection was handshaken under.
	l.g.accepted.Store(net.Conn(tc), t)
	if !l.deliver(acceptResult{conn: tc}) {
		l.g.accepted.Delete(net.Conn(tc))
		tc.Close()
	}
}

// errPlainHTTP is the failure of a handshake with a client that sent plain
// HTTP; net/http's text for it.
var errPlainHTTP = errors.New("client sent an HTTP request to an HTTPS server")

// looksLikeHTTP reports whether the first five bytes of a connection, which
// crypto/tls could not read as a TLS record header, start an HTTP request.
func looksLikeHTTP(hdr [5]byte) bool {
	switch string(hdr[:]) {
	case "GET /", "HEAD ", "POST ", "PUT /", "OPTIO":
		return true
	}
	return false
}

// config returns the tls.Config for a connection under t.
func (l *guardListener) config(t *servedTLS) *tls.Config {
	if o := l.offer.Load(); o != nil && o.from == t {
		return o.config
	}
	tc := t.config
	if s := l.server; (t.http2 && !s.h2) || len(s.extra) > 0 {
		tc = tc.Clone()
		tc.NextProtos = append(nextProtos(t.http2 && s.h2), s.extra...)
	}
	l.offer.Store(&offer{from: t, config: tc})
	return tc
}

// tlsConfig is the TLSConfig begin gives the server. The Guard's listener
// does the handshakes; this config is what net/http reads to decide whether
// to set up HTTP/2 for Serve (it does when NextProtos offers h2), and what
// ServeTLS would use.
func (s *servedServer) tlsConfig(g *Guard) *tls.Config {
	return &tls.Config{NextProtos: append(nextProtos(s.h2), s.extra...), GetConfigForClient: g.configForClient}
}

// serverSpeaksHTTP2 reports whether server serves h2 over TLS, by the rules
// of http.Server.Protocols and TLSNextProto.
func serverSpeaksHTTP2(server *http.Server) bool {
	if server.Protocols != nil {
		return server.Protocols.HTTP2()
	}
	_, h2 := server.TLSNextProto["h2"]
	return server.TLSNextProto == nil || h2
}
