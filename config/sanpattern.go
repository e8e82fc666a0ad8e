package config

import (
	"fmt"
	"net/url"
	"strings"
)

// SANPattern is one entry of tls_server_config.client_allowed_san_patterns:
// either a DNS wildcard, "*.example.org", which stands for exactly one
// left-most DNS label, or a SPIFFE ID prefix,
// "spiffe://example.org/ns/monitoring/*", which stands for every SPIFFE ID
// of that trust domain whose path starts with the given segments.
//
// Matching is strict where certificates are loose: a DNS label is letters,
// digits and hyphens (a "*" or an empty label in a certificate never
// matches), and a SPIFFE ID matches only when it is well formed (no
// percent-encoding, query, fragment, port, user, "." or ".." segment), so
// that no spelling of a name outside the prefix can pass for one inside.
type SANPattern struct {
	text string
	// dnsSuffix is ".example.org" (lower case) for a DNS wildcard.
	dnsSuffix string
	// trustDomain and segments describe a SPIFFE prefix; segments may be
	// empty ("spiffe://example.org/*").
	trustDomain string
	segments    []string
}

// ParseSANPattern parses one client_allowed_san_patterns entry. Its error
// says what was expected.
func ParseSANPattern(s string) (SANPattern, error) {
	p := SANPattern{text: s}
	switch {
	case strings.HasPrefix(s, "*."):
		suffix := s[2:]
		labels := strings.Split(suffix, ".")
		if len(labels) < 2 {
			return p, fmt.Errorf("pattern %q would match names directly under a top-level domain (want at least two labels after \"*.\", such as *.example.org)", s)
		}
		for _, l := range labels {
			if !isDNSLabel(l) {
				return p, fmt.Errorf("pattern %q: %q is not a DNS label (want letters, digits and hyphens; only the left-most label may be \"*\")", s, l)
			}
		}
		p.dnsSuffix = "." + strings.ToLower(suffix)
		return p, nil
	case strings.HasPrefix(s, "spiffe://"):
		prefix, ok := strings.CutSuffix(s, "/*")
		if !ok {
			return p, fmt.Errorf("pattern %q does not end in /* (want a SPIFFE ID prefix such as spiffe://example.org/ns/monitoring/*; list an exact ID in client_allowed_sans)", s)
		}
		rest := strings.TrimPrefix(prefix, "spiffe://")
		domain, path, _ := strings.Cut(rest, "/")
		if !isTrustDomain(domain) {
			return p, fmt.Errorf("pattern %q: trust domain %q is not valid (want lower-case letters, digits, dots, hyphens and underscores)", s, domain)
		}
		p.trustDomain = domain
		if path != "" {
			for _, seg := range strings.Split(path, "/") {
				if !isSPIFFESegment(seg) {
					return p, fmt.Errorf("pattern %q: path segment %q is not valid (want letters, digits, dots, hyphens and underscores, not \".\" or \"..\"; only the last segment may be \"*\")", s, seg)
				}
				p.segments = append(p.segments, seg)
			}
		}
		return p, nil
	}
	return p, fmt.Errorf("pattern %q is neither a DNS wildcard nor a SPIFFE ID prefix (want *.example.org or spiffe://example.org/path/*)", s)
}

// String returns the pattern as written.
func (p SANPattern) String() string { return p.text }

// MatchDNS reports whether a DNS SAN matches p: for "*.example.org", one
// valid DNS label followed by ".example.org", compared without regard to
// ASCII case.
func (p SANPattern) MatchDNS(name string) bool {
	if p.dnsSuffix == "" || len(name) <= len(p.dnsSuffix) {
		return false
	}
	label, suffix := name[:len(name)-len(p.dnsSuffix)], name[len(name)-len(p.dnsSuffix):]
	return strings.EqualFold(suffix, p.dnsSuffix) && isDNSLabel(label)
}

// MatchURI reports whether a URI SAN matches p: a well-formed SPIFFE ID of
// p's trust domain whose path has p's segments as a proper prefix.
func (p SANPattern) MatchURI(u *url.URL) bool {
	if p.trustDomain == "" || u == nil || u.Scheme != "spiffe" || u.Opaque != "" || u.User != nil ||
		u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || u.RawFragment != "" || u.RawPath != "" ||
		u.Host != p.trustDomain || !strings.HasPrefix(u.Path, "/") {
		return false
	}
	segs := strings.Split(u.Path[1:], "/")
	if len(segs) <= len(p.segments) {
		return false
	}
	for i, seg := range segs {
		if !isSPIFFESegment(seg) || i < len(p.segments) && seg != p.segments[i] {
			return false
		}
	}
	return true
}

// isDNSLabel reports whether s is a letters-digits-hyphens label of 1 to 63
// characters that neither starts nor ends with a hyphen.
func isDNSLabel(s string) bool {
	if len(s) == 0 || len(s) > 63 || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// isTrustDomain follows the SPIFFE ID specification: lower-case letters,
// digits, dots, hyphens and underscores.
func isTrustDomain(s string) bool {
	if s == "" || len(s) > 255 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// isSPIFFESegment follows the SPIFFE ID specification for path segments:
// letters, digits, dots, hyphens and underscores, and neither "." nor "..".
func isSPIFFESegment(s string) bool {
	if s == "" || s == "." || s == ".." {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
