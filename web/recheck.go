package web

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"net/http"
	"sync/atomic"
)

// A connection outlives the config it was opened under: keep-alive and HTTP/2
// connections carry many requests, and a reload may since have removed the
// client's CA, narrowed client_allowed_sans or switched TLS on. Every request
// is checked against the current snapshot (users, headers, rate limit), and
// so is the connection itself, here: on its first request after a change of
// TLS settings, the client certificate the connection was handshaken with is
// verified again under the current ones, as a new handshake would. A client
// that no longer qualifies is answered 421 Misdirected Request, and for
// HTTP/1 the connection is closed; an HTTP/2 connection gets 421 on every
// stream. Basic auth needs nothing of this: credentials are verified against
// the current users on every request anyway.
//
// This needs the connection's history, which only Serve's listener knows;
// a program serving Handler from its own listener gets the per-request
// checks only.

// connCheck is a connection's standing, kept in its context.
type connCheck struct {
	// tls says the connection was handshaken by the Guard's listener;
	// otherwise it is plain.
	tls bool
	// admitted is the TLS the client was last found to qualify under;
	// refused the one it was last found not to, so that a refused client
	// that keeps asking costs one verification per reload, not per request.
	admitted, refused atomic.Pointer[servedTLS]
}

type connCheckKey struct{}

// errTLSRequired refuses a request on a plain connection opened before TLS was
// switched on.
var errTLSRequired = errors.New("web: TLS is on in the current web config; this plain connection was opened before")

// connContext returns the http.Server ConnContext begin installs: it gives
// each connection its connCheck, then calls next (the server's own), if any.
func (g *Guard) connContext(next func(context.Context, net.Conn) context.Context) func(context.Context, net.Conn) context.Context {
	return func(ctx context.Context, c net.Conn) context.Context {
		if next != nil {
			ctx = next(ctx, c)
		}
		cc := &connCheck{}
		if t, ok := g.accepted.LoadAndDelete(c); ok {
			cc.tls = true
			cc.admitted.Store(t.(*servedTLS))
		}
		return context.WithValue(ctx, connCheckKey{}, cc)
	}
}

// refuseStale answers r with 421 and returns true when its connection no
// longer qualifies under s.
func (g *Guard) refuseStale(w http.ResponseWriter, r *http.Request, s *snapshot) bool {
	cc, _ := r.Context().Value(connCheckKey{}).(*connCheck)
	if cc == nil {
		return false
	}
	switch {
	case !cc.tls:
		if s.tls == nil {
			return false
		}
		g.refusals.logStale(r.RemoteAddr, errTLSRequired)
	case s.tls == nil || cc.admitted.Load() == s.tls:
		// TLS switched off applies to new connections; this one keeps
		// the TLS it has.
		return false
	case cc.refused.Load() == s.tls:
		// Refused under this config already, and logged then.
	default:
		err := s.tls.admits(r.TLS)
		if err == nil {
			cc.admitted.Store(s.tls)
			return false
		}
		cc.refused.Store(s.tls)
		g.refusals.logStale(r.RemoteAddr, err)
	}
	if r.ProtoMajor == 1 {
		w.Header().Set("Connection", "close")
	}
	http.Error(w, "Misdirected Request: the web config changed since this connection was opened; open a new one", http.StatusMisdirectedRequest)
	return true
}

// admits checks the client of a connection as a handshake under t would: a
// certificate where t requires one, its chain verified against t's client
// CAs where t verifies, then t's VerifyConnection (client_allowed_sans).
func (t *servedTLS) admits(cs *tls.ConnectionState) error {
	if cs == nil {
		return errTLSRequired
	}
	auth := t.config.ClientAuth
	certs := cs.PeerCertificates
	state := *cs
	state.VerifiedChains = nil
	switch {
	case len(certs) == 0:
		if auth == tls.RequireAnyClientCert || auth == tls.RequireAndVerifyClientCert {
			return errNoClientCert
		}
	case auth == tls.VerifyClientCertIfGiven || auth == tls.RequireAndVerifyClientCert:
		opts := x509.VerifyOptions{
			Roots:         t.config.ClientCAs,
			Intermediates: x509.NewCertPool(),
			KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		}
		for _, c := range certs[1:] {
			opts.Intermediates.AddCert(c)
		}
		chains, err := certs[0].Verify(opts)
		if err != nil {
			return err
		}
		state.VerifiedChains = chains
	}
	if t.config.VerifyConnection != nil {
		return t.config.VerifyConnection(state)
	}
	return nil
}
