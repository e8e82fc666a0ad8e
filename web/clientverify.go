package web

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/webguard/webguard/config"
)

// clientVerifier checks client certificates beyond what crypto/tls does,
// at every handshake, full or resumed (it is the tls.Config's
// VerifyConnection):
//
//   - under RequestClientCert and RequireAnyClientCert with a client CA,
//     crypto/tls verifies nothing, so the verifier verifies the chain
//     against the client CA, for client authentication, as crypto/tls does
//     under the verifying types;
//   - certificates listed in client_crl_file are refused;
//   - client_allowed_sans and client_allowed_san_patterns are matched on
//     the leaf of the verified chain, and a client without a certificate is
//     refused when either is set.
//
// It is built once per config change and never modified after.
type clientVerifier struct {
	// roots is the client CA pool when the verifier verifies chains
	// itself, nil when crypto/tls does (or when there is no client CA).
	roots *x509.CertPool
	// caNames describes the client CAs, for refusals.
	caNames string
	// revoked maps a CA's raw subject to the serial numbers (decimal) its
	// revocation lists name.
	revoked map[string]map[string]struct{}
	// sans and patterns are the allow-lists; checkSANs says whether either
	// is set.
	sans      sanSet
	patterns  []config.SANPattern
	checkSANs bool
	// allowed describes the allow-lists, for refusals.
	allowed string
}

// clientCANames lists the subjects of m's client CAs as "[A; B]", for
// refusal lines; "" when there is no client CA.
func clientCANames(m *config.TLSMaterial) string {
	if m == nil || len(m.ClientCACerts) == 0 {
		return ""
	}
	names := make([]string, 0, len(m.ClientCACerts))
	for _, c := range m.ClientCACerts {
		names = append(names, c.Subject.String())
	}
	return "[" + strings.Join(names, "; ") + "]"
}

// newClientVerifier returns the VerifyConnection hook for a TLS section and
// the material loaded with it, or nil when there is nothing to check beyond
// crypto/tls.
func newClientVerifier(t *config.TLSConfig, m *config.TLSMaterial) func(tls.ConnectionState) error {
	v := &clientVerifier{}
	auth := t.ClientAuthType.TLS()
	if m != nil && m.ClientCAs != nil && (auth == tls.RequestClientCert || auth == tls.RequireAnyClientCert) {
		v.roots = m.ClientCAs
	}
	if m != nil {
		v.caNames = clientCANames(m)
		for _, crl := range m.ClientCRLs {
			if v.revoked == nil {
				v.revoked = map[string]map[string]struct{}{}
			}
			set := v.revoked[string(crl.RawIssuer)]
			if set == nil {
				set = map[string]struct{}{}
				v.revoked[string(crl.RawIssuer)] = set
			}
			for _, e := range crl.RevokedCertificateEntries {
				set[e.SerialNumber.String()] = struct{}{}
			}
		}
	}
	if len(t.ClientAllowedSANs)+len(t.ClientAllowedSANPatterns) > 0 {
		v.checkSANs = true
		v.sans = newSANSet(t.ClientAllowedSANs)
		for _, s := range t.ClientAllowedSANPatterns {
			p, err := config.ParseSANPattern(s)
			if err != nil {
				// config.Load validated every pattern; a pattern that does
				// not parse matches nothing rather than everything.
				continue
			}
			v.patterns = append(v.patterns, p)
		}
		v.allowed = describeAllowed(t.ClientAllowedSANs, t.ClientAllowedSANPatterns)
	}
	if v.roots == nil && v.revoked == nil && !v.checkSANs {
		return nil
	}
	return v.verify
}

func (v *clientVerifier) verify(cs tls.ConnectionState) error {
	if len(cs.PeerCertificates) == 0 {
		if v.checkSANs {
			return errNoClientCert
		}
		return nil
	}
	leaf := cs.PeerCertificates[0]
	chains := cs.VerifiedChains
	if v.roots != nil {
		opts := x509.VerifyOptions{
			Roots:         v.roots,
			Intermediates: x509.NewCertPool(),
			CurrentTime:   time.Now(),
			KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		}
		for _, c := range cs.PeerCertificates[1:] {
			opts.Intermediates.AddCert(c)
		}
		var err error
		if chains, err = leaf.Verify(opts); err != nil {
			return newCertRefusal(chainReason(err), leaf, "a certificate for client authentication issued by "+v.caNames, err)
		}
	}
	if v.revoked != nil {
		for _, chain := range chains {
			for i := 0; i+1 < len(chain); i++ {
				if _, ok := v.revoked[string(chain[i+1].RawSubject)][chain[i].SerialNumber.String()]; ok {
					r := newCertRefusal(handshakeRevoked, leaf, "a certificate not revoked by client_crl_file", nil)
					if i > 0 {
						r.err = fmt.Errorf("intermediate %q (serial %s) is revoked", chain[i].Subject.String(), serialHex(chain[i].SerialNumber))
					}
					return r
				}
			}
		}
	}
	if v.checkSANs && !v.matches(leaf) {
		return newCertRefusal(handshakeSANNotAllowed, leaf, v.allowed, nil)
	}
	return nil
}

// matches reports whether leaf has a SAN listed in client_allowed_sans or
// matching a client_allowed_san_patterns entry.
func (v *clientVerifier) matches(leaf *x509.Certificate) bool {
	if v.sans.match(leaf) {
		return true
	}
	for _, p := range v.patterns {
		for _, n := range leaf.DNSNames {
			if p.MatchDNS(n) {
				return true
			}
		}
		for _, u := range leaf.URIs {
			if p.MatchURI(u) {
				return true
			}
		}
	}
	return false
}

// certRefusal is a handshake refused because of the client's certificate:
// what the refusal line shows of it, and why.
type certRefusal struct {
	reason  string
	subject string
	serial  string
	sans    string
	want    string
	err     error
}

// certRefusalPrefix starts the text of every certRefusal.
const certRefusalPrefix = "web: client certificate refused: "

// Limits on what a refusal quotes from a certificate, which its maker
// chose: a log line stays a line.
const (
	maxShownSANs     = 8
	maxShownSubject  = 256
	maxShownSANBytes = 128
)

func newCertRefusal(reason string, leaf *x509.Certificate, want string, err error) *certRefusal {
	return &certRefusal{
		reason:  reason,
		subject: clip(leaf.Subject.String(), maxShownSubject),
		serial:  serialHex(leaf.SerialNumber),
		sans:    describeSANs(leaf),
		want:    want,
		err:     err,
	}
}

func (r *certRefusal) Error() string {
	var b strings.Builder
	b.WriteString(certRefusalPrefix)
	b.WriteString("reason=" + r.reason)
	b.WriteString(" subject=" + strconv.Quote(r.subject))
	b.WriteString(" serial=" + r.serial)
	b.WriteString(" sans=" + strconv.Quote(r.sans))
	b.WriteString(" want=" + strconv.Quote(r.want))
	if r.err != nil {
		b.WriteString(" err=" + strconv.Quote(r.err.Error()))
	}
	return b.String()
}

func (r *certRefusal) Unwrap() error { return r.err }

// attrs are the refusal's fields for its log line, after remote and reason.
func (r *certRefusal) attrs() []any {
	attrs := []any{"subject", r.subject, "serial", r.serial, "sans", r.sans, "want", r.want}
	if r.err != nil {
		attrs = append(attrs, "err", r.err.Error())
	}
	return attrs
}

// describeSANs lists the SANs of c as "DNS:a, IP:b, email:c, URI:d", at
// most maxShownSANs of them, each clipped.
func describeSANs(c *x509.Certificate) string {
	var all []string
	for _, n := range c.DNSNames {
		all = append(all, "DNS:"+n)
	}
	for _, ip := range c.IPAddresses {
		all = append(all, "IP:"+ip.String())
	}
	for _, e := range c.EmailAddresses {
		all = append(all, "email:"+e)
	}
	for _, u := range c.URIs {
		all = append(all, "URI:"+u.String())
	}
	if len(all) == 0 {
		return "none"
	}
	n := len(all)
	if n > maxShownSANs {
		all = all[:maxShownSANs]
	}
	for i := range all {
		all[i] = clip(all[i], maxShownSANBytes)
	}
	s := strings.Join(all, ", ")
	if n > maxShownSANs {
		s += fmt.Sprintf(" and %d more", n-maxShownSANs)
	}
	return s
}

func describeAllowed(sans, patterns []string) string {
	var parts []string
	if len(sans) > 0 {
		parts = append(parts, "client_allowed_sans ["+strings.Join(sans, ", ")+"]")
	}
	if len(patterns) > 0 {
		parts = append(parts, "client_allowed_san_patterns ["+strings.Join(patterns, ", ")+"]")
	}
	return "a SAN in " + strings.Join(parts, " or ")
}

// serialHex writes a serial number as openssl does (`openssl x509 -serial`,
// the index of `openssl ca`): upper-case hex, an even number of digits.
func serialHex(n *big.Int) string {
	if n == nil {
		return "none"
	}
	s := fmt.Sprintf("%X", n)
	if len(s)%2 == 1 {
		s = "0" + s
	}
	return s
}

// clip cuts s to at most n bytes, on a rune boundary, marking the cut.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := n
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "…"
}
