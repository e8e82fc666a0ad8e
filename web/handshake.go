package web

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"log"
	"net"
	"strings"
)

// errNoClientCert is returned by the VerifyConnection hook (see
// clientVerifier) for a client without a certificate. Other refusals of
// ours are certRefusals.
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

// handshakeReason classifies the error of a failed server handshake into
// one of the reason label values.
func handshakeReason(err error) string {
	var refusal *certRefusal
	var unverified *tls.CertificateVerificationError
	var rh tls.RecordHeaderError
	switch {
	case errors.Is(err, errNoClientCert),
		strings.Contains(err.Error(), "client didn't provide a certificate"):
		return handshakeNoClientCert
	case errors.As(err, &refusal):
		switch refusal.reason {
		case handshakeUnknownCA, handshakeExpired, handshakeRevoked, handshakeSANNotAllowed:
			return refusal.reason
		}
		return handshakeOther
	case errors.As(err, &unverified):
		return chainReason(unverified.Err)
	case errors.Is(err, errPlainHTTP), errors.As(err, &rh):
		return handshakeProtocol
	case strings.HasPrefix(err.Error(), "remote error: "):
		// The client refused our certificate or hung up with an alert.
		return handshakeOther
	case strings.HasPrefix(err.Error(), "tls: "):
		// Versions, cipher suites, curves, ALPN.
		return handshakeProtocol
	}
	// EOF, connection reset, handshake timeout.
	return handshakeOther
}

// chainReason classifies an error of x509.Certificate.Verify on a client's
// chain.
func chainReason(err error) string {
	var ua x509.UnknownAuthorityError
	var ci x509.CertificateInvalidError
	switch {
	case errors.As(err, &ua):
		return handshakeUnknownCA
	case errors.As(err, &ci) && ci.Reason == x509.Expired:
		return handshakeExpired
	}
	return handshakeOther
}

// errorLog is the http.Server ErrorLog the Guard installs: its lines go to
// the server's own ErrorLog if it had one, else to the Guard's logger.
type errorLog struct {
	g *Guard
}

func newErrorLog(g *Guard, next *log.Logger) *log.Logger {
	if next != nil {
		return next
	}
	return log.New(&errorLog{g: g}, "", 0)
}

func (e *errorLog) Write(p []byte) (int, error) {
	e.g.logger.Error("http server error", "err", strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// handshakeFailed logs and counts a failed handshake from remote under t.
func (g *Guard) handshakeFailed(remote string, t *servedTLS, err error) {
	reason := handshakeReason(err)
	var refusal *certRefusal
	var unverified *tls.CertificateVerificationError
	switch {
	case errors.As(err, &refusal):
	case errors.As(err, &unverified) && len(unverified.UnverifiedCertificates) > 0:
		// crypto/tls refused the chain: say whose it was, and what the
		// client CAs are.
		refusal = newCertRefusal(reason, unverified.UnverifiedCertificates[0], "a certificate for client authentication issued by "+t.clientCANames, err)
	}
	// The line, rate-limited, says who was refused and why; the metric,
	// counted once the line is written, is what alerts are built on.
	if refusal != nil {
		g.refusals.logCert(remote, reason, refusal)
	} else {
		g.refusals.logHandshake(remote, reason, err)
	}
	g.metrics.handshakes.WithLabelValues(reason).Inc()
}
