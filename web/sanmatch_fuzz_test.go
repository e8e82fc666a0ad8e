package web

import (
	"crypto/x509"
	"net"
	"net/url"
	"strings"
	"testing"

	"github.com/webguard/webguard/config"
)

// FuzzSANMatch checks client_allowed_sans and client_allowed_san_patterns
// matching on arbitrary SANs: nothing panics, an exact entry matches only
// itself, and a pattern match is always one DNS label under the wildcard or
// a well-formed SPIFFE ID strictly under the prefix. The committed corpus
// (testdata/fuzz/FuzzSANMatch) holds the attack inputs: extra labels,
// label-boundary tricks, wildcards and NULs in certificates, dot-dot and
// percent-encoded paths, ports, users, queries and fragments.
func FuzzSANMatch(f *testing.F) {
	for _, seed := range [][3]string{
		{"scraper.example", "*.example.org", "a.example.org"},
		{"scraper.example", "*.example.org", "a.b.example.org"},
		{"scraper.example", "*.example.org", "evilexample.org"},
		{"scraper.example", "*.example.org", "*.example.org"},
		{"10.0.0.7", "spiffe://example.org/ns/monitoring/*", "spiffe://example.org/ns/monitoring/../kube-system/x"},
		{"::1", "spiffe://example.org/ns/monitoring/*", "spiffe://example.org/ns/monitoring/sa/prometheus"},
	} {
		f.Add(seed[0], seed[1], seed[2])
	}
	f.Fuzz(func(t *testing.T, allowed, pattern, san string) {
		leaf := &x509.Certificate{DNSNames: []string{san}, EmailAddresses: []string{san}}
		if ip := net.ParseIP(san); ip != nil {
			leaf.IPAddresses = []net.IP{ip}
		}
		u, uerr := url.Parse(san)
		if uerr == nil {
			leaf.URIs = []*url.URL{u}
		}

		// Exact: the entry itself, an IP in any spelling, or a URI that
		// reads back as the entry.
		if newSANSet([]string{allowed}).match(leaf) {
			a, s := net.ParseIP(allowed), net.ParseIP(san)
			if allowed != san && !(a != nil && s != nil && a.Equal(s)) && (u == nil || u.String() != allowed) {
				t.Fatalf("client_allowed_sans [%q] matched SAN %q", allowed, san)
			}
		}

		p, err := config.ParseSANPattern(pattern)
		if err != nil {
			return
		}
		if p.MatchDNS(san) {
			suffix := pattern[1:] // ".example.org"
			if len(san) <= len(suffix) || !strings.EqualFold(san[len(san)-len(suffix):], suffix) {
				t.Fatalf("pattern %q matched %q outside its suffix", pattern, san)
			}
			label := san[:len(san)-len(suffix)]
			if label == "" || strings.ContainsAny(label, ".*\x00") || !isASCIILDH(label) {
				t.Fatalf("pattern %q matched %q with left-most part %q, not one DNS label", pattern, san, label)
			}
		}
		if uerr == nil && p.MatchURI(u) {
			prefix := strings.TrimSuffix(pattern, "*")
			s := u.String()
			rest, ok := strings.CutPrefix(s, prefix)
			if !ok || rest == "" {
				t.Fatalf("pattern %q matched %q (%s), not strictly under its prefix", pattern, san, s)
			}
			if strings.ContainsAny(rest, "%?#@:") || strings.Contains("/"+rest+"/", "/../") || strings.Contains("/"+rest+"/", "/./") || strings.Contains(rest, "//") || strings.HasSuffix(rest, "/") {
				t.Fatalf("pattern %q matched %q, which is not a well-formed SPIFFE ID under it", pattern, s)
			}
		}

		// The verifier combines both lists; it must agree with them.
		v := newClientVerifier(&config.TLSConfig{ClientAllowedSANs: []string{allowed}, ClientAllowedSANPatterns: []string{pattern}}, nil)
		if v == nil {
			t.Fatal("no verifier for a SAN list")
		}
		cv := &clientVerifier{sans: newSANSet([]string{allowed}), patterns: []config.SANPattern{p}, checkSANs: true}
		want := newSANSet([]string{allowed}).match(leaf) || p.MatchDNS(san) || (uerr == nil && p.MatchURI(u))
		if got := cv.matches(leaf); got != want {
			t.Fatalf("verifier match %v, lists say %v", got, want)
		}
	})
}

func isASCIILDH(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}
