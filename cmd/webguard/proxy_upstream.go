package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"
)

// upstream is one endpoint the proxy forwards to, with its idle connections.
type upstream struct {
	name    string // "" for a single --upstream given without NAME=
	display string // the URL as given, for logs and the landing page
	network string // "tcp" or "unix"
	address string // host:port, or the socket's path
	host    string // the Host header sent: the URL's host, "localhost" for a socket
	// tls is the client side of an https:// upstream, nil for plain HTTP.
	tls *upstreamTLS

	mu   sync.Mutex
	idle []*upstreamConn // most recently used last
}

// maxIdlePerUpstream bounds the connections kept open to one upstream while
// no request uses them: as many as requests run at once in a busy moment,
// within reason.
const maxIdlePerUpstream = 64

// dialTimeout bounds connecting to the upstream, TLS handshake included.
const dialTimeout = 10 * time.Second

// upstreamName is what NAME in --upstream NAME=URL may hold: it becomes the
// first segment of a path.
var upstreamName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// parseUpstream parses one --upstream value: [NAME=]URL, where URL is
// http://HOST:PORT, https://HOST:PORT or unix:///PATH.
func parseUpstream(s string) (*upstream, error) {
	if s == "" {
		return nil, errors.New("empty; want [NAME=]URL, e.g. http://127.0.0.1:9101")
	}
	name, raw := "", s
	// A name comes before the first '=' when that '=' is ahead of any
	// "://"; a URL's query may hold '=' too, but a query is refused below.
	if i, j := strings.IndexByte(s, '='), strings.Index(s, "://"); i >= 0 && (j < 0 || i < j) {
		name, raw = s[:i], s[i+1:]
		if !upstreamName.MatchString(name) {
			return nil, fmt.Errorf("name %q: want letters, digits, '.', '_' or '-', starting with a letter or digit", name)
		}
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("want http://HOST:PORT, https://HOST:PORT or unix:///PATH, got %q", raw)
	}
	up := &upstream{name: name, display: raw}
	switch u.Scheme {
	case "http", "https":
		if u.Host == "" || u.Opaque != "" {
			return nil, fmt.Errorf("want http://HOST:PORT or https://HOST:PORT, got %q", raw)
		}
		up.network, up.address, up.host = "tcp", u.Host, u.Host
		if u.Port() == "" {
			port := "80"
			if u.Scheme == "https" {
				port = "443"
			}
			up.address = net.JoinHostPort(u.Hostname(), port)
		}
		if u.Path != "" && u.Path != "/" {
			return nil, fmt.Errorf("%q has a path (%s): the proxy forwards each request's own path, so give the upstream as %s://%s and scrape the proxy at %s", raw, u.Path, u.Scheme, u.Host, u.Path)
		}
	case "unix":
		if u.Host != "" || u.Path == "" || u.Opaque != "" {
			return nil, fmt.Errorf("want unix:///ABSOLUTE/PATH (three slashes), got %q", raw)
		}
		up.network, up.address, up.host = "unix", u.Path, "localhost"
	default:
		return nil, fmt.Errorf("want http://HOST:PORT, https://HOST:PORT or unix:///PATH, got %q", raw)
	}
	if u.User != nil {
		return nil, fmt.Errorf("%q: credentials in the URL are not supported", raw)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("%q: a query or fragment is not supported; the proxy forwards each request's own query", raw)
	}
	return up, nil
}

// isTLS reports whether the upstream is reached over https.
func (u *upstream) isTLS() bool { return strings.HasPrefix(u.display, "https://") }

// serverName is the name an https upstream's certificate is checked for when
// --upstream.server-name does not say: the URL's host, without the port.
func (u *upstream) serverName() string {
	h, _, err := net.SplitHostPort(u.address)
	if err != nil {
		return u.address
	}
	return h
}

// upstreamConn is a connection to an upstream with its buffers, which stay
// with it while it waits in the idle list.
type upstreamConn struct {
	net.Conn
	br *bufio.Reader
	bw *bufio.Writer
	// gen is the upstream TLS generation the connection was made under; a
	// connection from an older one is closed rather than reused.
	gen uint64
	// reused is true once the connection has carried a request: if it
	// fails before any answer, the upstream may have closed it while idle.
	reused bool
}

// get returns an idle connection to the upstream, or a new one.
func (u *upstream) get(ctx context.Context) (*upstreamConn, error) {
	gen := u.tls.generation()
	u.mu.Lock()
	for n := len(u.idle); n > 0; n = len(u.idle) {
		c := u.idle[n-1]
		u.idle[n-1] = nil
		u.idle = u.idle[:n-1]
		if c.gen == gen {
			u.mu.Unlock()
			return c, nil
		}
		// Made with the upstream TLS files before their last change:
		// a rotated client certificate is used from the next request on.
		c.Close()
	}
	u.mu.Unlock()
	return u.dial(ctx)
}

// put returns a connection that finished a request cleanly to the idle list.
func (u *upstream) put(c *upstreamConn) {
	c.reused = true
	u.mu.Lock()
	if len(u.idle) < maxIdlePerUpstream && c.gen == u.tls.generation() {
		u.idle = append(u.idle, c)
		c = nil
	}
	u.mu.Unlock()
	if c != nil {
		c.Close()
	}
}

// closeIdle closes every idle connection, at shutdown.
func (u *upstream) closeIdle() {
	u.mu.Lock()
	idle := u.idle
	u.idle = nil
	u.mu.Unlock()
	for _, c := range idle {
		c.Close()
	}
}

// dial opens a new connection to the upstream, with the TLS handshake for
// an https upstream.
func (u *upstream) dial(ctx context.Context) (*upstreamConn, error) {
	ctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, u.network, u.address)
	if err != nil {
		return nil, err
	}
	var gen uint64
	if u.tls != nil {
		var cfg *tls.Config
		cfg, gen = u.tls.config(u.serverName())
		tc := tls.Client(conn, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			conn.Close()
			return nil, fmt.Errorf("TLS handshake with %s: %w", u.display, err)
		}
		conn = tc
	}
	return &upstreamConn{
		Conn: conn,
		// Room for a typical scrape's header and body in one read.
		br:  bufio.NewReaderSize(conn, 32<<10),
		bw:  bufio.NewWriterSize(conn, 4<<10),
		gen: gen,
	}, nil
}
