package config

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"time"

	"github.com/webguard/webguard/bcrypt"
)

// ExpiryWarning is how close to its end a certificate's validity has to be
// for Warnings (and so `webguard check` and the log at every load) to
// mention it: 30 days. The alert examples in docs/ use the same number.
const ExpiryWarning = 30 * 24 * time.Hour

// Warning is something a valid config allows that is probably a mistake or
// weakens security: the server runs with it, but an operator should know.
type Warning struct {
	File  string // the config file; empty for Parse
	Line  int    // 1-based line of Field in File; 0 when unknown
	Field string // dotted path, e.g. "tls_server_config.min_version"
	Msg   string
}

// String formats like Error: "file:line: field: message", leaving out empty
// parts.
func (w Warning) String() string {
	e := Error{File: w.File, Line: w.Line, Field: w.Field, Msg: w.Msg}
	return e.Error()
}

// Warnings lists the hazards in c, in the order of the lines they are on:
// basic auth without TLS, client certificate policies that do not verify
// what they seem to (or that webguard verifies where exporter-toolkit does
// not), client SANs under a policy that lets clients in without a
// certificate, client revocation lists past their next update, bcrypt costs
// below bcrypt.DefaultCost (10), certificates that have expired, expire
// within ExpiryWarning of now or carry no subject alternative names, private
// keys (and key passwords) readable by other users, TLS versions below 1.2, a
// file with neither TLS nor users (plain HTTP to anyone), and what
// exporter-toolkit v0.20.0 and Prometheus would refuse (see compatWarnings).
// It never includes a hash or key.
//
// Warnings stats the key file (and the config file when it holds a key
// inline) to check their modes. Lines are the ones recorded when the config
// was decoded; certificates are the ones read at load time.
func (c *Config) Warnings(now time.Time) []Warning {
	lines := c.lines
	var ws []Warning
	add := func(field, format string, args ...any) {
		ws = append(ws, Warning{File: c.path, Line: lines[field], Field: c.inSection(field), Msg: fmt.Sprintf(format, args...)})
	}
	t := &c.TLS
	m := c.material

	if t.IsEnabled() && m != nil {
		certField := "tls_server_config.cert_file"
		if t.CertFile == "" {
			certField = "tls_server_config.cert"
		}
		if leaf := m.Certificate.Leaf; leaf != nil {
			if msg := expiry(leaf, now); msg != "" {
				add(certField, "server certificate %s", msg)
			}
			if !hasSANs(leaf) {
				add(certField, "server certificate %q has no subject alternative names: clients (Go, Prometheus, curl) check the host name against SANs only and will refuse it; make one with `webguard certs server --host`", leaf.Subject.CommonName)
			}
		}
		switch {
		case t.KeyFile != "":
			if perm, ok := exposed(t.KeyFile); ok {
				add("tls_server_config.key_file", "%s has mode %04o: the private key is readable by other users; chmod 600 it", t.KeyFile, perm)
			}
		case t.Key != "" && c.path != "":
			if perm, ok := exposed(c.path); ok {
				add("tls_server_config.key", "%s holds a private key inline and has mode %04o: it is readable by other users; chmod 600 it", c.path, perm)
			}
		}
		if t.KeyPasswordFile != "" && !m.keyEncrypted {
			add("tls_server_config.key_password_file", "the private key is not encrypted, so key_password_file is not used: remove it, or encrypt the key (`openssl pkcs8 -topk8 -v2 aes256`)")
		}
		if t.KeyPasswordFile != "" {
			if perm, ok := exposed(t.KeyPasswordFile); ok {
				add("tls_server_config.key_password_file", "%s has mode %04o: the key's password is readable by other users; chmod 600 it", t.KeyPasswordFile, perm)
			}
		}
	}

	hasCA := t.ClientCAFile != "" || t.ClientCA != ""
	caField := "tls_server_config.client_ca_file"
	if t.ClientCAFile == "" {
		caField = "tls_server_config.client_ca"
	}
	switch auth := t.ClientAuthType; {
	case auth.TLS() == tls.RequestClientCert && hasCA:
		add("tls_server_config.client_auth_type", "RequestClientCert with a client CA: webguard verifies client certificates against it (as VerifyClientCertIfGiven), but exporter-toolkit and Go do not, and let any self-made certificate in; write VerifyClientCertIfGiven")
	case auth.TLS() == tls.RequireAnyClientCert && hasCA:
		add("tls_server_config.client_auth_type", "%s with a client CA: webguard verifies client certificates against it (as RequireAndVerifyClientCert), but exporter-toolkit and Go do not, and let any self-made certificate in; write RequireAndVerifyClientCert", auth)
	case auth.TLS() == tls.RequestClientCert || auth.TLS() == tls.RequireAnyClientCert:
		add("tls_server_config.client_auth_type", "%s does not verify client certificates: any certificate, even a self-made one, is let in; set client_ca_file and use RequireAndVerifyClientCert", auth)
	case auth.Verifies() && !hasCA:
		add("tls_server_config.client_auth_type", "%s without client_ca_file verifies clients against the system's root CAs: a certificate from any public CA is let in; set client_ca_file", auth)
	case auth.TLS() == tls.VerifyClientCertIfGiven && len(c.Users) == 0 && len(t.ClientAllowedSANs)+len(t.ClientAllowedSANPatterns) == 0:
		// With an allow-list, clients without a certificate are refused
		// (the warning below says so).
		add("tls_server_config.client_auth_type", "%s lets clients without a certificate in, and no basic_auth_users are set: they are not authenticated at all; use RequireAndVerifyClientCert", auth)
	}
	if m != nil {
		for _, ca := range m.ClientCACerts {
			if msg := expiry(ca, now); msg != "" {
				add(caField, "client CA %q %s", ca.Subject.CommonName, msg)
			}
		}
		for _, crl := range m.ClientCRLs {
			if !crl.NextUpdate.IsZero() && now.After(crl.NextUpdate) {
				add("tls_server_config.client_crl_file", "the revocation list of %q was due for renewal on %s: it is still used, but certificates revoked since then are let in; install a new list", crl.Issuer.CommonName, crl.NextUpdate.UTC().Format(time.DateTime+" UTC"))
			}
		}
	}
	if a := t.ClientAuthType.TLS(); (a == tls.RequestClientCert || a == tls.VerifyClientCertIfGiven) && len(t.ClientAllowedSANs)+len(t.ClientAllowedSANPatterns) > 0 {
		field := "tls_server_config.client_allowed_sans"
		if len(t.ClientAllowedSANs) == 0 {
			field = "tls_server_config.client_allowed_san_patterns"
		}
		add(field, "with client_auth_type %s, a client without a certificate is refused at the handshake because it has no SAN to match (exporter-toolkit lets it connect and then fails the request): write RequireAndVerifyClientCert to say so", t.ClientAuthType)
	}

	if t.IsEnabled() && uint16(t.MinVersion) < tls.VersionTLS12 {
		add("tls_server_config.min_version", "%s allows TLS versions below 1.2, which are deprecated (RFC 8996); use TLS12", t.MinVersion)
	}

	if len(c.Users) > 0 && !t.IsEnabled() {
		add("basic_auth_users", "basic auth without TLS: passwords cross the network in clear text; set tls_server_config.cert_file and key_file")
	}
	for _, user := range sortedKeys(c.Users) {
		cost, err := bcrypt.CheckHash(string(c.Users[user]))
		if err == nil && cost < bcrypt.DefaultCost {
			add("basic_auth_users["+strconv.Quote(user)+"]", "bcrypt cost %d is below %d: the hash is cheap to brute-force; make a new one with `webguard hash`", cost, bcrypt.DefaultCost)
		}
	}
	ws = append(ws, c.compatWarnings()...)
	if !t.IsEnabled() && len(c.Users) == 0 {
		ws = append(ws, Warning{File: c.path, Field: c.section, Msg: "neither tls_server_config nor basic_auth_users is set: the endpoint serves plain HTTP to anyone, as without a web config file"})
	}
	// File order reads best; warnings without a line keep their place after.
	slices.SortStableFunc(ws, func(a, b Warning) int {
		switch {
		case a.Line == b.Line:
			return 0
		case a.Line == 0:
			return 1
		case b.Line == 0:
			return -1
		}
		return a.Line - b.Line
	})
	// Warnings go to logs: the same redaction as errors, in case a name
	// in the file is a hash or a key in the wrong place.
	for i := range ws {
		ws[i].Field, ws[i].Msg = redact(ws[i].Field), redact(ws[i].Msg)
	}
	return ws
}

// expiry describes a certificate that is not valid at now or stops being
// valid within ExpiryWarning; "" otherwise.
func expiry(c *x509.Certificate, now time.Time) string {
	const day = 24 * time.Hour
	end := c.NotAfter.UTC().Format(time.DateOnly)
	switch {
	case now.After(c.NotAfter):
		return "expired on " + end
	case now.Before(c.NotBefore):
		return "is not valid before " + c.NotBefore.UTC().Format(time.DateTime) + " UTC"
	case c.NotAfter.Sub(now) < ExpiryWarning:
		if days := int(c.NotAfter.Sub(now) / day); days > 0 {
			return fmt.Sprintf("expires on %s (in %d days)", end, days)
		}
		return fmt.Sprintf("expires on %s (within a day)", end)
	}
	return ""
}

func hasSANs(c *x509.Certificate) bool {
	return len(c.DNSNames)+len(c.IPAddresses)+len(c.URIs)+len(c.EmailAddresses) > 0
}

// exposed reports the permission bits of path when group or others may read
// it. Windows has no such bits.
func exposed(path string) (os.FileMode, bool) {
	if runtime.GOOS == "windows" {
		return 0, false
	}
	fi, err := os.Stat(path)
	if err != nil {
		return 0, false
	}
	perm := fi.Mode().Perm()
	return perm, perm&0o044 != 0
}
