package web

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"slices"
	"strconv"
	"strings"

	"github.com/webguard/webguard/config"
)

// axis is one way a change can lower security. lowered compares the running
// snapshot with the one a change compiled to; both are whole snapshots, as
// served. Adding an axis for a new key is one entry in downgradeAxes.
type axis struct {
	// name is what the log line and the error say, usually the field.
	name string
	// lowered reports whether next admits, or exposes, something running
	// does not.
	lowered func(running, next *snapshot) bool
}

// downgradeAxes are the axes a change the watcher or Update brings is
// checked on. A change that lowers any of them is held, whole, until an
// explicit Reload (see reload.go). Tightening applies at once.
var downgradeAxes = []axis{
	{"tls_server_config (TLS turned off)", func(r, n *snapshot) bool { return r.tls != nil && n.tls == nil }},
	{"tls_server_config.min_version", bothTLS(func(r, n *servedTLS) bool { return n.section.MinVersion < r.section.MinVersion })},
	{"tls_server_config.max_version", bothTLS(func(r, n *servedTLS) bool { return n.section.MaxVersion < r.section.MaxVersion })},
	{"tls_server_config.cipher_suites", bothTLS(weakerCiphers)},
	{"tls_server_config.client_auth_type", bothTLS(func(r, n *servedTLS) bool {
		return clientAuthWeaker(r.section.ClientAuthType, n.section.ClientAuthType)
	})},
	{"tls_server_config.client_ca_file", bothTLS(widerClientCAs)},
	{"tls_server_config.client_allowed_sans", bothTLS(func(r, n *servedTLS) bool {
		return widerList(r.section.ClientAllowedSANs, n.section.ClientAllowedSANs)
	})},
	{"tls_server_config.client_allowed_san_patterns", bothTLS(widerSANPatterns)},
	{"tls_server_config.client_crl_file", bothTLS(fewerRevoked)},
	{"basic_auth_users", func(r, n *snapshot) bool { return r.users != nil && n.users == nil }},
	{"rate_limit", looserRateLimit},
	{"http_server_config.headers", weakerHeaders},
	{"http_server_config.unauthenticated_paths", func(r, n *snapshot) bool { return r.users != nil && n.users != nil && r.open.widens(n.open) }},
}

// lowered returns the names of the axes on which next is weaker than
// running, in table order; none when it is not.
func lowered(running, next *snapshot) []string {
	var names []string
	for _, a := range downgradeAxes {
		if a.lowered(running, next) {
			names = append(names, a.name)
		}
	}
	return names
}

// bothTLS applies f when both snapshots serve TLS: TLS turned off has its own
// axis, and turned on lowers nothing.
func bothTLS(f func(running, next *servedTLS) bool) func(r, n *snapshot) bool {
	return func(r, n *snapshot) bool {
		return r.tls != nil && n.tls != nil && f(r.tls, n.tls)
	}
}

// widerList reports whether an allow-list admits more after the change: it
// was set and is now empty (everyone), or gained an entry.
func widerList(running, next []string) bool {
	if len(running) == 0 {
		return false
	}
	if len(next) == 0 {
		return true
	}
	for _, v := range next {
		if !slices.Contains(running, v) {
			return true
		}
	}
	return false
}

// weakerCiphers reports whether next lets TLS 1.2 and below negotiate a
// cipher suite running did not. An empty list means Go's defaults, taken as
// every suite tls.CipherSuites lists. TLS 1.3 suites are not configurable.
func weakerCiphers(r, n *servedTLS) bool {
	if n.section.MinVersion >= tls.VersionTLS13 {
		return false
	}
	suites := func(t *servedTLS) []uint16 {
		if len(t.config.CipherSuites) > 0 {
			return t.config.CipherSuites
		}
		var ids []uint16
		for _, c := range tls.CipherSuites() {
			ids = append(ids, c.ID)
		}
		return ids
	}
	if r.section.MinVersion >= tls.VersionTLS13 {
		// Nothing below 1.3 was negotiable before: that is the
		// min_version axis.
		return false
	}
	old := suites(r)
	for _, id := range suites(n) {
		if !slices.Contains(old, id) {
			return true
		}
	}
	return false
}

// widerClientCAs reports whether next verifies client certificates against
// a pool that trusts one running did not: a CA added or replaced, or the
// client CA removed (the system roots). It only matters while running
// verifies; not verifying any more is the client_auth_type axis.
func widerClientCAs(r, n *servedTLS) bool {
	if !r.section.ClientAuthType.Verifies() || !n.section.ClientAuthType.Verifies() {
		return false
	}
	if r.material.ClientCAs == nil {
		// The system roots before: only a move to a pool of our own
		// narrows, and it cannot widen.
		return false
	}
	if n.material.ClientCAs == nil {
		return true
	}
	for _, c := range n.material.ClientCACerts {
		if !slices.ContainsFunc(r.material.ClientCACerts, func(o *x509.Certificate) bool { return bytes.Equal(o.Raw, c.Raw) }) {
			return true
		}
	}
	return false
}

// looserRateLimit reports whether next refuses fewer requests: the limit
// removed, a shorter interval or a bigger burst.
func looserRateLimit(r, n *snapshot) bool {
	if r.cfg.RateLimit.Enabled() && !n.cfg.RateLimit.Enabled() {
		return true
	}
	if !r.cfg.RateLimit.Enabled() {
		return false
	}
	rl, nl := r.cfg.RateLimit, n.cfg.RateLimit
	return nl.Interval < rl.Interval || nl.Burst > rl.Burst
}

// weakerHeaders reports whether a security header running sends is gone or
// has a value that may protect less. Only changes known to tighten pass:
// X-Frame-Options sameorigin to deny, and Strict-Transport-Security with a
// longer max-age and no directive dropped. Any other change of value (a new
// Content-Security-Policy, say) is held, since whether it is stricter cannot
// be told from the text.
func weakerHeaders(r, n *snapshot) bool {
	for name, old := range r.cfg.HTTP.Headers {
		v, ok := n.cfg.HTTP.Headers[name]
		switch {
		case !ok:
			return true
		case v == old:
		case name == "X-Frame-Options" && old == "sameorigin" && v == "deny":
		case name == "Strict-Transport-Security" && strongerHSTS(old, v):
		default:
			return true
		}
	}
	return false
}

// strongerHSTS reports whether the Strict-Transport-Security value next
// keeps every directive of old with a max-age at least as long.
func strongerHSTS(old, next string) bool {
	parse := func(v string) (maxAge int64, directives []string, ok bool) {
		for _, d := range strings.Split(v, ";") {
			d = strings.ToLower(strings.TrimSpace(d))
			if age, found := strings.CutPrefix(d, "max-age="); found {
				n, err := strconv.ParseInt(strings.Trim(age, `"`), 10, 64)
				if err != nil {
					return 0, nil, false
				}
				maxAge = n
				continue
			}
			if d != "" {
				directives = append(directives, d)
			}
		}
		return maxAge, directives, true
	}
	oa, od, ok1 := parse(old)
	na, nd, ok2 := parse(next)
	if !ok1 || !ok2 || na < oa {
		return false
	}
	for _, d := range od {
		if !slices.Contains(nd, d) {
			return false
		}
	}
	return true
}

// clientAuthStrength orders the client certificate policies from the
// weakest: NoClientCert < RequestClientCert < RequireAnyClientCert <
// VerifyClientCertIfGiven < RequireAndVerifyClientCert.
func clientAuthStrength(t config.ClientAuthType) int {
	switch t.TLS() {
	case tls.RequestClientCert:
		return 1
	case tls.RequireAnyClientCert:
		return 2
	case tls.VerifyClientCertIfGiven:
		return 3
	case tls.RequireAndVerifyClientCert:
		return 4
	}
	return 0
}

// clientAuthWeaker reports whether going from one policy to another admits a
// client the first refused: a step down the order of clientAuthStrength, or
// one that stops requiring a certificate (RequireAnyClientCert to
// VerifyClientCertIfGiven) or stops verifying one.
func clientAuthWeaker(from, to config.ClientAuthType) bool {
	return clientAuthStrength(to) < clientAuthStrength(from) ||
		(from.Requires() && !to.Requires()) ||
		(from.Verifies() && !to.Verifies())
}

// widerSANPatterns reports whether the client SAN allow-lists admit more
// after the change, on account of client_allowed_san_patterns (the exact
// list has its own axis): a pattern added where any list was set, the
// patterns emptied with nothing left, or exact SANs added next to patterns
// that were the only list.
func widerSANPatterns(r, n *servedTLS) bool {
	rs, rp := r.section.ClientAllowedSANs, r.section.ClientAllowedSANPatterns
	ns, np := n.section.ClientAllowedSANs, n.section.ClientAllowedSANPatterns
	switch {
	case len(rs)+len(rp) == 0:
		// Everyone with a certificate was let in: any list narrows.
		return false
	case len(ns)+len(np) == 0:
		return len(rp) > 0
	case len(rp) > 0 && len(rs) == 0 && len(ns) > 0:
		return true
	}
	for _, p := range np {
		if !slices.Contains(rp, p) {
			return true
		}
	}
	return false
}

// fewerRevoked reports whether a certificate revoked by running's
// client_crl_file is no longer revoked: the file removed, or a list that
// dropped an entry.
func fewerRevoked(r, n *servedTLS) bool {
	if r.material == nil || len(r.material.ClientCRLs) == 0 {
		return false
	}
	revoked := map[string]bool{}
	if n.material != nil {
		for _, crl := range n.material.ClientCRLs {
			for _, e := range crl.RevokedCertificateEntries {
				revoked[string(crl.RawIssuer)+"/"+e.SerialNumber.String()] = true
			}
		}
	}
	for _, crl := range r.material.ClientCRLs {
		for _, e := range crl.RevokedCertificateEntries {
			if !revoked[string(crl.RawIssuer)+"/"+e.SerialNumber.String()] {
				return true
			}
		}
	}
	return false
}
