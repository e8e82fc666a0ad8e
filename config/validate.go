package config

import (
	"crypto/tls"
	"fmt"
	"slices"
	"strings"

	commoncfg "github.com/prometheus/common/config"
	"github.com/webguard/webguard/bcrypt"
)

// allowedHeaders maps each header http_server_config.headers may set to the
// values it may take, compared exactly as exporter-toolkit does; nil means any
// value, and a blank value leaves the header unset.
var allowedHeaders = map[string][]string{
	"Content-Security-Policy":   nil,
	"X-Frame-Options":           {"deny", "sameorigin"},
	"X-Content-Type-Options":    {"nosniff"},
	"X-XSS-Protection":          nil,
	"Strict-Transport-Security": nil,
}

// tlsOptions are the tls_server_config fields that mean nothing without a
// server certificate.
var tlsOptions = []string{
	"client_ca_file", "client_ca", "client_auth_type", "client_allowed_sans",
	"client_allowed_san_patterns", "client_crl_file", "min_version", "max_version", "cipher_suites", "curve_preferences",
	"prefer_server_cipher_suites", "key_password_file",
}

// validate checks what the YAML types cannot: combinations of fields, header
// names and values, hashes and limits. When the TLS fields are consistent it
// reads the certificate, key and client CAs into c.material. It returns every
// problem found. It also normalizes header values (see validateHeaders).
func (d *decoder) validate(c *Config) []error {
	errs := d.validateTLS(&c.TLS, c.HTTP.HTTP2Enabled())
	if len(errs) == 0 && c.TLS.IsEnabled() {
		m, merrs := d.loadMaterial(&c.TLS)
		if errs = merrs; len(errs) == 0 {
			c.material = m
		}
	}
	errs = append(errs, d.validateHeaders(&c.HTTP)...)
	errs = append(errs, d.validatePaths(c.HTTP.UnauthenticatedPaths)...)
	errs = append(errs, d.validateUsers(c.Users)...)
	if c.RateLimit.Interval < 0 {
		errs = append(errs, d.errorf("rate_limit.interval", "negative interval %s (want 0 to disable, or a positive duration)", c.RateLimit.Interval))
	}
	if c.RateLimit.Burst < 0 {
		errs = append(errs, d.errorf("rate_limit.burst", "negative burst %d (want 0 or more)", c.RateLimit.Burst))
	}
	return errs
}

func (d *decoder) validateTLS(t *TLSConfig, http2 bool) []error {
	var errs []error
	add := func(e *Error) { errs = append(errs, e) }

	for _, pair := range []struct{ file, inline, fileVal, inlineVal string }{
		{"cert_file", "cert", t.CertFile, t.Cert},
		{"key_file", "key", t.KeyFile, string(t.Key)},
		{"client_ca_file", "client_ca", t.ClientCAFile, t.ClientCA},
	} {
		// exporter-toolkit silently prefers the file; say so instead.
		if pair.fileVal != "" && pair.inlineVal != "" {
			add(d.errorf("tls_server_config."+pair.inline, "both %s and %s are set; use one", pair.file, pair.inline))
		}
	}
	hasCert := t.CertFile != "" || t.Cert != ""
	hasKey := t.KeyFile != "" || t.Key != ""
	switch {
	case hasCert && !hasKey:
		add(d.errorf(firstSet(d, "tls_server_config.cert_file", "tls_server_config.cert"), "a certificate needs a key: set key_file or key"))
	case hasKey && !hasCert:
		add(d.errorf(firstSet(d, "tls_server_config.key_file", "tls_server_config.key"), "a key needs a certificate: set cert_file or cert"))
	}
	if !hasCert && !hasKey {
		// TLS options without a certificate would silently leave TLS off.
		for _, f := range tlsOptions {
			if d.isGiven("tls_server_config." + f) {
				add(d.errorf("tls_server_config."+f, "set without a server certificate, so TLS would be off: set cert_file and key_file (or cert and key)"))
			}
		}
		return errs
	}

	auth := t.ClientAuthType.TLS()
	hasCA := t.ClientCAFile != "" || t.ClientCA != ""
	if hasCA && auth == tls.NoClientCert {
		add(d.errorf(firstSet(d, "tls_server_config.client_ca_file", "tls_server_config.client_ca"),
			"a client CA is set but client_auth_type is NoClientCert, so it would not be used: set client_auth_type to RequireAndVerifyClientCert (or VerifyClientCertIfGiven)"))
	}
	if hasCRL := t.ClientCRLFile != ""; hasCRL && !hasCA {
		add(d.errorf("tls_server_config.client_crl_file", "a revocation list needs the client CA that signed it: set client_ca_file (or client_ca)"))
	}
	errs = append(errs, d.validateSANs(t, auth, hasCA)...)
	if t.MinVersion > t.MaxVersion {
		var dflt string
		if !d.isGiven("tls_server_config.min_version") {
			dflt = " (the default)"
		}
		add(d.errorf(firstSet(d, "tls_server_config.min_version", "tls_server_config.max_version"), "min_version %s%s is above max_version %s, so no version could be agreed", t.MinVersion, dflt, t.MaxVersion))
	}
	// HTTP/2 forbids TLS 1.2 without one of these two suites (RFC 7540,
	// 9.2.2), and net/http refuses to serve such a list.
	if http2 && len(t.CipherSuites) > 0 && t.MinVersion < TLSVersion(tls.VersionTLS13) &&
		!slices.Contains(t.CipherSuites, Cipher(tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256)) &&
		!slices.Contains(t.CipherSuites, Cipher(tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256)) {
		add(d.errorf("tls_server_config.cipher_suites", "HTTP/2 needs TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 or TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 in cipher_suites: add one, set min_version to TLS13, or set http_server_config.http2 to false"))
	}
	// TLS 1.2 cannot use the post-quantum hybrid; a list of only that leaves
	// TLS 1.2 clients no key exchange.
	if len(t.CurvePreferences) > 0 && t.MaxVersion < TLSVersion(tls.VersionTLS13) &&
		!slices.ContainsFunc(t.CurvePreferences, func(c Curve) bool { return tls.CurveID(c) != tls.X25519MLKEM768 }) {
		add(d.errorf("tls_server_config.curve_preferences", "X25519MLKEM768 needs TLS 1.3, but max_version is %s: add a curve such as X25519 or raise max_version to TLS13", t.MaxVersion))
	}
	return errs
}

// validateSANs checks client_allowed_sans and client_allowed_san_patterns:
// the entries, and that the certificate they are matched on is one a CA
// vouched for. Under RequestClientCert and VerifyClientCertIfGiven they are
// accepted, as exporter-toolkit accepts them: a client without a
// certificate is refused at the handshake (Warnings says so).
func (d *decoder) validateSANs(t *TLSConfig, auth tls.ClientAuthType, hasCA bool) []error {
	var errs []error
	add := func(e *Error) { errs = append(errs, e) }
	for i, san := range t.ClientAllowedSANs {
		if strings.TrimSpace(san) == "" {
			add(d.errorf(fmt.Sprintf("tls_server_config.client_allowed_sans[%d]", i), "empty SAN (want a DNS name, IP address, e-mail address or URI)"))
		}
	}
	for i, pat := range t.ClientAllowedSANPatterns {
		if _, err := ParseSANPattern(pat); err != nil {
			add(d.errorf(fmt.Sprintf("tls_server_config.client_allowed_san_patterns[%d]", i), "%v", err))
		}
	}
	for _, key := range []string{"client_allowed_sans", "client_allowed_san_patterns"} {
		if !d.isGiven("tls_server_config."+key) || len(t.ClientAllowedSANs)+len(t.ClientAllowedSANPatterns) == 0 {
			continue
		}
		field := "tls_server_config." + key
		switch {
		case auth == tls.NoClientCert:
			add(d.errorf(field, "%s needs client certificates, but client_auth_type is NoClientCert: set client_auth_type to RequireAndVerifyClientCert", key))
		case !hasCA && (auth == tls.RequestClientCert || auth == tls.RequireAnyClientCert):
			// The SANs of a certificate nobody verified are whatever its
			// maker wrote.
			add(d.errorf(field, "%s would be checked on certificates nobody verified: client_auth_type %s without a client CA lets in any self-made certificate: set client_ca_file (or client_ca), and client_auth_type to RequireAndVerifyClientCert", key, t.ClientAuthType))
		}
	}
	return errs
}

// validateHeaders checks header names (exact, case-sensitive) and values
// (enumerated values exact, as exporter-toolkit compares them), then
// normalizes the rest: a blank free-form value is dropped (the header is not
// sent), and line breaks, which YAML's folded and literal blocks put into
// long values such as a Content-Security-Policy, become spaces.
func (d *decoder) validateHeaders(h *HTTPConfig) []error {
	var errs []error
	add := func(e *Error) { errs = append(errs, e) }
	out := make(map[string]string, len(h.Headers))
	for _, name := range sortedKeys(h.Headers) {
		field := "http_server_config.headers[" + keyShown(name) + "]"
		value := h.Headers[name]
		allowed, ok := allowedHeaders[name]
		switch {
		case !ok:
			msg := fmt.Sprintf("header %s is not allowed (want one of %s)", shown(name), strings.Join(sortedKeys(allowedHeaders), ", "))
			for _, a := range sortedKeys(allowedHeaders) {
				if strings.EqualFold(a, name) {
					msg = fmt.Sprintf("header %s is not allowed: header names are case-sensitive here, did you mean %s?", shown(name), a)
				}
			}
			add(d.errorf(field, "%s", msg))
		case allowed != nil && !slices.Contains(allowed, value):
			msg := fmt.Sprintf("invalid value %s (want one of %s)", shown(value), strings.Join(allowed, ", "))
			if slices.Contains(allowed, strings.ToLower(value)) {
				msg = fmt.Sprintf("invalid value %q: values are case-sensitive, write %s", value, strings.ToLower(value))
			}
			add(d.errorf(field, "%s", msg))
		default:
			value = strings.TrimSpace(strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ").Replace(value))
			if i := strings.IndexFunc(value, func(r rune) bool { return r < ' ' && r != '\t' || r == 0x7f }); i >= 0 {
				add(d.errorf(field, "value contains the control character %q at position %d", value[i], i+1))
				continue
			}
			if value != "" {
				out[name] = value
			}
		}
	}
	if h.Headers != nil {
		h.Headers = out
	}
	return errs
}

func (d *decoder) validateUsers(users map[string]commoncfg.Secret) []error {
	var errs []error
	for _, user := range sortedKeys(users) {
		field := "basic_auth_users[" + keyShown(user) + "]"
		switch {
		case strings.TrimSpace(user) == "":
			errs = append(errs, d.errorf(field, "empty user name"))
			continue
		case strings.Contains(user, ":"):
			errs = append(errs, d.errorf(field, "user name contains ':', which basic auth cannot carry"))
		case strings.ContainsFunc(user, func(r rune) bool { return r < ' ' || r == 0x7f }):
			errs = append(errs, d.errorf(field, "user name contains a control character"))
		}
		if _, err := bcrypt.CheckHash(string(users[user])); err != nil {
			// The hash is a secret: describe it, never print it. Err is
			// left out too, so that nothing unwrapped can show it.
			errs = append(errs, d.errorf(field, "not a bcrypt hash that can match: %s; make one with `webguard hash` or `htpasswd -nBC 10 \"\" | tr -d ':\\n'`",
				strings.TrimPrefix(err.Error(), "bcrypt: ")))
		}
	}
	return errs
}

// firstSet returns the first of fields present in the file, for pointing an
// error at the line the user wrote.
func firstSet(d *decoder, fields ...string) string {
	for _, f := range fields {
		if _, ok := d.fields[f]; ok {
			return f
		}
	}
	return fields[0]
}
