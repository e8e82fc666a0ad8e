package web

import (
	"crypto/tls"
	"errors"
	"log"
	"net"
	"strings"
)

// Handshake errors of our own, returned by VerifyConnection. Their text is
// what handshakeReason recognises in net/http's error log.
var (
	errNoClientCert  = errors.New("web: client_allowed_sans is set and the client presented no certificate")
	errSANNotAllowed = errors.New("web: client certificate has no subject alternative name listed in client_allowed_sans")
)

// sanSet is tls_server_config.client_allowed_sans: one exact match among the
// DNS, IP, e-mail or URI SANs of the client's leaf certificate grants access.
type sanSet map[string]struct{}

func newSANSet(sans []string) sanSet {
	set := make(sanSet, len(sans))
	for _, s := range sans {
		// IPs compare in canonical form, so that "::1" matches "0:0::1".
		if ip := net.ParseIP(s); ip != nil {
			s = ip.String()
		}
		set[s] = struct{}{}
	}
	return set
}

// verify is the tls.Config VerifyConnection hook. It runs after crypto/tls
// verified the chain (for the client auth types that verify), on full and
// resumed handshakes alike. A client without a certificate is refused, also
// under the client auth types that let such clients in: an allow-list that a
// client passes by sending nothing would allow everyone.
func (set sanSet) verify(cs tls.ConnectionState) error {
	if len(cs.PeerCertificates) == 0 {
		return errNoClientCert
	}
	leaf := cs.PeerCertificates[0]
	for _, n := range leaf.DNSNames {
		if _, ok := set[n]; ok {
			return nil
		}
	}
	for _, ip := range leaf.IPAddresses {
		if _, ok := set[ip.String()]; ok {
			return nil
		}
	}
	for _, e := range leaf.EmailAddresses {
		if _, ok := set[e]; ok {
			return nil
		}
	}
	for _, u := range leaf.URIs {
		if _, ok := set[u.String()]; ok {
			return nil
		}
	}
	return errSANNotAllowed
}

// handshakeReason classifies the error of a failed server handshake, as
// net/http logs it, into one of the reason label values.
func handshakeReason(msg string) string {
	switch {
	case strings.Contains(msg, errNoClientCert.Error()),
		strings.Contains(msg, "client didn't provide a certificate"):
		return handshakeNoClientCert
	case strings.Contains(msg, errSANNotAllowed.Error()):
		return handshakeSANNotAllowed
	case strings.HasPrefix(msg, "remote error: "):
		// The client refused our certificate or hung up with an alert.
		return handshakeOther
	case strings.Contains(msg, "certificate signed by unknown authority"):
		return handshakeUnknownCA
	case strings.Contains(msg, "certificate has expired or is not yet valid"):
		return handshakeExpired
	case strings.Contains(msg, "failed to verify certificate"):
		return handshakeOther
	case strings.HasPrefix(msg, "tls: "),
		strings.Contains(msg, "client sent an HTTP request to an HTTPS server"):
		// Versions, cipher suites, curves, ALPN, not TLS at all.
		return handshakeProtocol
	}
	// EOF, connection reset, handshake timeout.
	return handshakeOther
}

// handshakePrefix starts the line net/http logs for a failed handshake.
const handshakePrefix = "http: TLS handshake error from "

// errorLog is the http.Server ErrorLog the Guard installs. net/http reports
// failed TLS handshakes only there, as text: errorLog counts them by reason
// and logs them through the Guard's logger. Every other line goes to the
// server's own ErrorLog if it had one, else to the Guard's logger.
type errorLog struct {
	g    *Guard
	next *log.Logger
}

func newErrorLog(g *Guard, next *log.Logger) *log.Logger {
	return log.New(&errorLog{g: g, next: next}, "", 0)
}

func (e *errorLog) Write(p []byte) (int, error) {
	msg := strings.TrimSuffix(string(p), "\n")
	if rest, ok := strings.CutPrefix(msg, handshakePrefix); ok {
		remote, reason, _ := strings.Cut(rest, ": ")
		e.g.handshakeFailed(remote, reason)
		return len(p), nil
	}
	if e.next != nil {
		e.next.Print(msg)
	} else {
		e.g.logger.Error("http server error", "err", msg)
	}
	return len(p), nil
}

func (g *Guard) handshakeFailed(remote, msg string) {
	reason := handshakeReason(msg)
	g.metrics.handshakes.WithLabelValues(reason).Inc()
	// Debug: a scanner or a flood would otherwise fill the log, and the
	// counter above is what alerts are built on.
	g.logger.Debug("TLS handshake failed", "remote", remote, "reason", reason, "err", msg)
}
