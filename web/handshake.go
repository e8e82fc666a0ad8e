package web

import (
	"crypto/x509"
	"errors"
	"log"
	"net"
	"strings"
)

// errNoClientCert is returned by the VerifyConnection hook (see
// clientVerifier); its text is what handshakeReason recognises in net/http's
// error log. Other refusals of ours are certRefusals.
var errNoClientCert = errors.New("web: client_allowed_sans or client_allowed_san_patterns is set and the client presented no certificate")

// sanSet is tls_server_config.client_allowed_sans: one exact match among the
// DNS, IP, e-mail or URI SANs of the client's leaf certificate grants access
// (see clientVerifier, which also matches client_allowed_san_patterns).
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

// match reports whether leaf has one of the set's values as a DNS, IP,
// e-mail or URI SAN.
func (set sanSet) match(leaf *x509.Certificate) bool {
	for _, n := range leaf.DNSNames {
		if _, ok := set[n]; ok {
			return true
		}
	}
	for _, ip := range leaf.IPAddresses {
		if _, ok := set[ip.String()]; ok {
			return true
		}
	}
	for _, e := range leaf.EmailAddresses {
		if _, ok := set[e]; ok {
			return true
		}
	}
	for _, u := range leaf.URIs {
		if _, ok := set[u.String()]; ok {
			return true
		}
	}
	return false
}

// handshakeReason classifies the error of a failed server handshake, as
// net/http logs it, into one of the reason label values.
func handshakeReason(msg string) string {
	switch {
	case strings.Contains(msg, errNoClientCert.Error()),
		strings.Contains(msg, "client didn't provide a certificate"):
		return handshakeNoClientCert
	case strings.Contains(msg, certRefusalPrefix):
		if f, ok := parseCertRefusal(msg); ok {
			switch f[1] {
			case handshakeUnknownCA, handshakeExpired, handshakeRevoked, handshakeSANNotAllowed:
				return f[1]
			}
		}
		return handshakeOther
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
	var caNames string
	if strings.Contains(msg, "failed to verify certificate") {
		if s := g.snap.Load(); s != nil && s.tls != nil {
			caNames = s.tls.clientCANames
		}
	}
	// The line, rate-limited, says who was refused and why; the metric,
	// counted once the line is written, is what alerts are built on.
	g.refusals.logHandshake(remote, reason, msg, caNames)
	g.metrics.handshakes.WithLabelValues(reason).Inc()
}
