package config

import (
	"crypto/tls"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/webguard/webguard/bcrypt"
)

// allowedHeaders maps each header http_server_config.headers may set to the
// values it may take; nil means any non-empty value.
var allowedHeaders = map[string][]string{
	"Content-Security-Policy":   nil,
	"X-Frame-Options":           {"deny", "sameorigin"},
	"X-Content-Type-Options":    {"nosniff"},
	"X-XSS-Protection":          nil,
	"Strict-Transport-Security": nil,
}

// validate checks what the YAML types cannot: combinations of fields, header
// names and values, hashes and limits. It returns every problem found.
func (d *decoder) validate(c *Config) []error {
	var errs []error
	add := func(e *Error) { errs = append(errs, e) }
	t := &c.TLS

	for _, pair := range []struct{ file, inline, fileVal, inlineVal string }{
		{"cert_file", "cert", t.CertFile, t.Cert},
		{"key_file", "key", t.KeyFile, string(t.Key)},
		{"client_ca_file", "client_ca", t.ClientCAFile, t.ClientCA},
	} {
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
		for _, f := range []string{"client_ca_file", "client_ca", "client_auth_type", "client_allowed_sans", "min_version", "max_version", "cipher_suites", "curve_preferences"} {
			if _, set := d.fields["tls_server_config."+f]; set {
				add(d.errorf("tls_server_config."+f, "set without a server certificate, so TLS would be off: set cert_file and key_file (or cert and key)"))
			}
		}
	}

	hasCA := t.ClientCAFile != "" || t.ClientCA != ""
	if hasCA && t.ClientAuthType.TLS() == tls.NoClientCert {
		add(d.errorf(firstSet(d, "tls_server_config.client_ca_file", "tls_server_config.client_ca"),
			"a client CA is set but client_auth_type is NoClientCert: set client_auth_type to RequireAndVerifyClientCert or VerifyClientCertIfGiven"))
	}
	if len(t.ClientAllowedSANs) > 0 && t.ClientAuthType.TLS() == tls.NoClientCert {
		add(d.errorf("tls_server_config.client_allowed_sans", "client_allowed_sans needs client certificates, but client_auth_type is NoClientCert"))
	}
	for i, san := range t.ClientAllowedSANs {
		if strings.TrimSpace(san) == "" {
			add(d.errorf(fmt.Sprintf("tls_server_config.client_allowed_sans[%d]", i), "empty SAN"))
		}
	}
	if t.MinVersion > t.MaxVersion {
		add(d.errorf("tls_server_config.min_version", "min_version %s is above max_version %s", t.MinVersion, t.MaxVersion))
	}

	for _, name := range sortedKeys(c.HTTP.Headers) {
		field := "http_server_config.headers[" + strconv.Quote(name) + "]"
		allowed, ok := allowedHeaders[name]
		value := c.HTTP.Headers[name]
		switch {
		case !ok:
			add(d.errorf(field, "header %q is not allowed (want one of %s)", name, strings.Join(sortedKeys(allowedHeaders), ", ")))
		case strings.TrimSpace(value) == "":
			add(d.errorf(field, "empty value"))
		case strings.ContainsAny(value, "\r\n"):
			add(d.errorf(field, "value contains a line break"))
		case allowed != nil && !slices.Contains(allowed, strings.ToLower(value)):
			add(d.errorf(field, "invalid value %q (want one of %s)", value, strings.Join(allowed, ", ")))
		}
	}

	for _, user := range sortedKeys(c.Users) {
		field := "basic_auth_users[" + strconv.Quote(user) + "]"
		if strings.TrimSpace(user) == "" {
			add(d.errorf(field, "empty user name"))
			continue
		}
		if strings.Contains(user, ":") {
			add(d.errorf(field, "user name contains ':', which basic auth cannot carry"))
		}
		if _, err := bcrypt.CheckHash(string(c.Users[user])); err != nil {
			// The hash itself is a secret: describe it, never print it.
			add(&Error{File: d.file, Line: d.fields[field], Field: field, Msg: "not a bcrypt hash: " + strings.TrimPrefix(err.Error(), "bcrypt: "), Err: err})
		}
	}

	if c.RateLimit.Interval < 0 {
		add(d.errorf("rate_limit.interval", "negative interval %s", c.RateLimit.Interval))
	}
	if c.RateLimit.Burst < 0 {
		add(d.errorf("rate_limit.burst", "negative burst %d", c.RateLimit.Burst))
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
