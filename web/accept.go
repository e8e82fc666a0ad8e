package web

import (
	"crypto/tls"
	"net"
	"net/http"
	"slices"
	"sync/atomic"
)

// guardListener is the listener Serve serves on: it decides TLS per accepted
// connection from the snapshot current at that moment, so a reload that
// switches TLS on (or, applied explicitly, off) changes the next connection,
// and so does one that switches HTTP/2 on or off. net/http handshakes the
// *tls.Conn it returns, with the server's timeouts, and serves h2 when ALPN
// chose it.
type guardListener struct {
	net.Listener
	g      *Guard
	server *servedServer
	// offer is the tls.Config last handed out, with the snapshot's TLS it
	// was made from: adjusted to the server once per reload, not per
	// connection.
	offer atomic.Pointer[offer]
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

// Accept waits for the next connection and returns it as a *tls.Conn, not
// yet handshaken, when the current config has TLS on, else as it is.
func (l *guardListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	t := l.g.snap.Load().tls
	if t == nil {
		return c, nil
	}
	tc := tls.Server(c, l.config(t))
	// The re-check of later requests (recheck.go) starts from what this
	// connection is handshaken under.
	l.g.accepted.Store(net.Conn(tc), t)
	return tc, nil
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
