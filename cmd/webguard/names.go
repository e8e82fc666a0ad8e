package main

import (
	"fmt"
	"net"
	"net/url"
	"strings"
)

// checkHost returns what is wrong with h as a server certificate's --host,
// "" when it is a host name (optionally a left-most "*." wildcard) or an IP
// address. The problem says what to pass instead: nothing is stripped
// silently, since a SAN that no client ever connects to makes a certificate
// nobody can use.
func checkHost(flag, h string) string {
	if net.ParseIP(h) != nil {
		return ""
	}
	if strings.Contains(h, "://") {
		u, err := url.Parse(h)
		if err == nil && u.Hostname() != "" {
			return fmt.Sprintf("%s %s: a host name or IP, not a URL; pass %s", flag, h, shellQuote(u.Hostname()))
		}
		return fmt.Sprintf("%s %s: a host name or IP, not a URL", flag, h)
	}
	if strings.Contains(h, "@") {
		return fmt.Sprintf("%s %s: a host name or IP, not an e-mail address", flag, h)
	}
	if host, port, err := net.SplitHostPort(h); err == nil {
		return fmt.Sprintf("%s %s: a host name or IP without a port; drop ':%s' (pass %s)", flag, h, port, shellQuote(host))
	}
	if strings.HasPrefix(h, "[") && strings.HasSuffix(h, "]") && net.ParseIP(h[1:len(h)-1]) != nil {
		return fmt.Sprintf("%s %s: an IP address without brackets; pass %s", flag, h, h[1:len(h)-1])
	}
	if msg := checkDNSName(strings.TrimPrefix(h, "*.")); msg != "" {
		return fmt.Sprintf("%s %q: %s", flag, h, msg)
	}
	return ""
}

// checkDNSName returns why name is not a DNS host name, "" when it is one:
// dot-separated labels of letters, digits and '-', each 1 to 63 characters
// and not starting or ending with '-', 253 characters in all.
func checkDNSName(name string) string {
	const want = "not a host name or IP address (a host name is letters, digits, '-' and '.', e.g. node1.example.org)"
	switch {
	case name == "":
		return want
	case strings.HasSuffix(name, "."):
		return fmt.Sprintf("a host name without the trailing '.'; pass %s", shellQuote(strings.TrimSuffix(name, ".")))
	case len(name) > 253:
		return fmt.Sprintf("a host name is at most 253 characters, this one has %d", len(name))
	}
	for label := range strings.SplitSeq(name, ".") {
		switch {
		case label == "":
			return want + "; it has an empty label"
		case len(label) > 63:
			return fmt.Sprintf("the label %q is longer than 63 characters", label)
		case label[0] == '-' || label[len(label)-1] == '-':
			return fmt.Sprintf("the label %q starts or ends with '-'", label)
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
				return fmt.Sprintf("%s; %q is not allowed", want, r)
			}
		}
	}
	return ""
}

// checkSAN returns what is wrong with s as a client certificate's
// subject alternative name, "" when it is a host name, an IP address, an
// e-mail address (with "@") or a URI (with "://", e.g. a SPIFFE ID).
func checkSAN(flag, s string) string {
	switch {
	case strings.Contains(s, "://"):
		u, err := url.Parse(s)
		if err != nil || u.Scheme == "" || u.Host == "" {
			return fmt.Sprintf("%s %q: not a URI with a scheme and a host (e.g. spiffe://example.org/prometheus)", flag, s)
		}
		return ""
	case strings.Contains(s, "@"):
		local, domain, _ := strings.Cut(s, "@")
		if local == "" || strings.ContainsAny(local, " \t<>") || checkDNSName(domain) != "" {
			return fmt.Sprintf("%s %q: not an e-mail address (want name@example.org)", flag, s)
		}
		return ""
	}
	return checkHost(flag, s)
}
