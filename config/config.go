package config

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"path/filepath"
	"strconv"
	"time"

	commoncfg "github.com/prometheus/common/config"
	"go.yaml.in/yaml/v3"
)

// Config is one web-config file, as loaded by Load or Parse: defaults applied,
// relative paths resolved, validated, and the certificate, key and client CAs
// it names read once.
//
// A Config is not modified after loading; share it freely.
type Config struct {
	// TLS is the tls_server_config section. TLS is off unless it names a
	// certificate (TLS.IsEnabled); any other field of the section set
	// without a certificate is an error.
	TLS TLSConfig `yaml:"tls_server_config"`
	// HTTP is the http_server_config section.
	HTTP HTTPConfig `yaml:"http_server_config"`
	// Users maps user names to bcrypt hashes (basic_auth_users). When it is
	// empty, no password is asked for. Every hash is well formed (see
	// bcrypt.CheckHash); names are not empty and hold no ':'. The hashes
	// marshal as "<secret>" and never appear in errors.
	Users map[string]commoncfg.Secret `yaml:"basic_auth_users,omitempty"`
	// RateLimit is the rate_limit section.
	RateLimit RateLimitConfig `yaml:"rate_limit,omitempty"`

	path     string
	section  string // the key of the section in path, for ParseSection
	material *TLSMaterial
	lines    map[string]int // field path -> line in the file, for warnings
}

// TLSConfig is the tls_server_config section.
type TLSConfig struct {
	// CertFile and KeyFile name the PEM server certificate (with any
	// intermediates after it) and its private key. Relative paths are relative
	// to the directory of the web-config file. Cert and Key hold the same PEM
	// inline; a file and its inline form cannot both be set. Key marshals as
	// "<secret>". After loading, the paths are absolute or, for Parse with
	// an empty dir, as written.
	CertFile string           `yaml:"cert_file,omitempty"`
	KeyFile  string           `yaml:"key_file,omitempty"`
	Cert     string           `yaml:"cert,omitempty"`
	Key      commoncfg.Secret `yaml:"key,omitempty"`
	// KeyPasswordFile (an extension of exporter-toolkit's format) names a
	// file holding the password of an encrypted key: PKCS #8 ("ENCRYPTED
	// PRIVATE KEY") or OpenSSL's legacy "Proc-Type: 4,ENCRYPTED" PEM. One
	// trailing line break is not part of the password. It is read with the
	// key, on every load, and the password is not kept.
	KeyPasswordFile string `yaml:"key_password_file,omitempty"`
	// ClientCAFile (or ClientCA inline) holds the PEM certificates that client
	// certificates are verified against; it must hold at least one. Setting
	// it requires a ClientAuthType other than NoClientCert.
	ClientCAFile string `yaml:"client_ca_file,omitempty"`
	ClientCA     string `yaml:"client_ca,omitempty"`
	// ClientAuthType is the client certificate policy; NoClientCert by
	// default (also when written as ""). With VerifyClientCertIfGiven or
	// RequireAndVerifyClientCert and no client CA, clients are verified
	// against the system roots, as in crypto/tls.
	ClientAuthType ClientAuthType `yaml:"client_auth_type,omitempty"`
	// ClientAllowedSANs, when set, admits only clients whose verified
	// certificate carries one of these values as a DNS, IP, e-mail or URI
	// subject alternative name (disjunctive: one exact match, here or in
	// ClientAllowedSANPatterns, grants access). A client without a
	// certificate is then refused under every ClientAuthType. It requires a
	// ClientAuthType other than NoClientCert, and a client CA under the
	// types that do not verify (RequestClientCert, RequireAnyClientCert).
	ClientAllowedSANs []string `yaml:"client_allowed_sans,omitempty"`
	// ClientAllowedSANPatterns (an extension, not in exporter-toolkit)
	// admits clients as ClientAllowedSANs does, by pattern: "*.example.org"
	// (one left-most DNS label) or a SPIFFE ID prefix
	// "spiffe://example.org/ns/monitoring/*" (see SANPattern). The same
	// requirements apply.
	ClientAllowedSANPatterns []string `yaml:"client_allowed_san_patterns,omitempty"`
	// ClientCRLFile (an extension, not in exporter-toolkit) names
	// certificate revocation lists, PEM or DER, several in one file
	// allowed, each signed by a certificate of the client CA. A client
	// whose verified chain holds a listed certificate is refused. It
	// requires a client CA, is read with it and reloaded with it; a list
	// past its next update keeps being used (Warnings says so).
	ClientCRLFile string `yaml:"client_crl_file,omitempty"`
	// MinVersion and MaxVersion bound the TLS versions offered; TLS12 and
	// TLS13 by default. MinVersion is not above MaxVersion.
	MinVersion TLSVersion `yaml:"min_version,omitempty"`
	MaxVersion TLSVersion `yaml:"max_version,omitempty"`
	// CipherSuites restricts the TLS 1.0–1.2 cipher suites, in file order;
	// empty means Go's defaults. TLS 1.3 suites are not configurable. With
	// HTTP/2 on and TLS 1.2 allowed, the list holds one of the two
	// AES-128-GCM ECDHE suites HTTP/2 requires.
	CipherSuites []Cipher `yaml:"cipher_suites,omitempty"`
	// CurvePreferences restricts the key exchange groups, in preference
	// order; empty means Go's defaults (which include X25519MLKEM768).
	CurvePreferences []Curve `yaml:"curve_preferences,omitempty"`
	// PreferServerCipherSuites is accepted for compatibility; Go always
	// chooses the cipher suite order itself since 1.17. Default true.
	PreferServerCipherSuites *bool `yaml:"prefer_server_cipher_suites,omitempty"`
}

// IsEnabled reports whether the section configures a server certificate, that
// is whether the server speaks TLS.
func (t *TLSConfig) IsEnabled() bool {
	return t.CertFile != "" || t.Cert != ""
}

// MarshalYAML writes nothing for a section without a certificate: its
// defaults alone (min_version and the like) would read back as TLS options
// set without a certificate, which Load refuses.
func (t TLSConfig) MarshalYAML() (any, error) {
	if !t.IsEnabled() {
		return nil, nil
	}
	type plain TLSConfig // the same fields, without this method
	return plain(t), nil
}

// HTTPConfig is the http_server_config section.
type HTTPConfig struct {
	// HTTP2 enables HTTP/2 over TLS; default true. A change applies to new
	// connections.
	HTTP2 *bool `yaml:"http2,omitempty"`
	// Headers are security headers added to every response. Only
	// Content-Security-Policy, X-Frame-Options (deny or sameorigin),
	// X-Content-Type-Options (nosniff), X-XSS-Protection and
	// Strict-Transport-Security are allowed, names and enumerated values
	// exactly as written here. After loading, values hold no line breaks
	// (folded into spaces) and blank free-form values are dropped: every
	// entry is a header to send as is.
	Headers map[string]string `yaml:"headers,omitempty"`
	// UnauthenticatedPaths (an extension of exporter-toolkit's format) are
	// request paths served without basic auth, such as /-/healthy for a
	// liveness probe. Each is absolute, clean, without a query and
	// compared exactly with the request's path, which must itself be in
	// clean form and not percent-encoded beyond the usual. TLS and client
	// certificate checks still apply: they happen before the path is known.
	UnauthenticatedPaths []string `yaml:"unauthenticated_paths,omitempty"`
}

// HTTP2Enabled reports whether HTTP/2 is on, applying the default.
func (h *HTTPConfig) HTTP2Enabled() bool {
	return h.HTTP2 == nil || *h.HTTP2
}

// RateLimitConfig is the rate_limit section: a token bucket refilled with one
// token every Interval and holding at most Burst tokens, shared by all
// requests to the server. Interval zero (the default) disables rate limiting;
// an interval with no burst refuses every request.
type RateLimitConfig struct {
	// Interval is written as a Go duration with a unit ("1s", "250ms"); a
	// bare 0 also disables. Negative values are rejected.
	Interval time.Duration `yaml:"interval,omitempty"`
	// Burst is the bucket size; negative values are rejected.
	Burst int `yaml:"burst,omitempty"`
}

// UnmarshalYAML reads interval as a duration with a unit. A bare number other
// than 0 is refused: exporter-toolkit reads it as nanoseconds, which is never
// what was meant.
func (r *RateLimitConfig) UnmarshalYAML(n *yaml.Node) error {
	var raw struct {
		Interval yaml.Node `yaml:"interval"`
		Burst    yaml.Node `yaml:"burst"`
	}
	if err := n.Decode(&raw); err != nil {
		return err
	}
	iv := &raw.Interval
	var interval time.Duration
	switch {
	case iv.Kind == 0 || isEmpty(iv):
	case iv.Kind == yaml.ScalarNode && iv.ShortTag() == "!!int":
		if v, err := strconv.ParseInt(iv.Value, 0, 64); err != nil || v != 0 {
			return &Error{Line: iv.Line, Msg: fmt.Sprintf("%s has no unit (want a duration such as 1s or 500ms; 0 disables)", iv.Value)}
		}
	case iv.Kind == yaml.ScalarNode && iv.ShortTag() == "!!str":
		d, err := time.ParseDuration(iv.Value)
		if err != nil {
			return &Error{Line: iv.Line, Msg: fmt.Sprintf("invalid duration %s (want a number with a unit such as 1s or 500ms; 0 disables)", shown(iv.Value))}
		}
		interval = d
	default:
		return &Error{Line: iv.Line, Msg: fmt.Sprintf("want a duration such as 1s, got %s", describe(iv))}
	}
	var burst int
	switch b := &raw.Burst; {
	case b.Kind == 0 || isEmpty(b):
	case b.Kind == yaml.ScalarNode && b.ShortTag() == "!!int":
		if err := b.Decode(&burst); err != nil {
			return &Error{Line: b.Line, Msg: typeMsg(err.Error())}
		}
	case b.Kind == yaml.ScalarNode && b.ShortTag() == "!!float":
		// The YAML library would truncate it; half a request means nothing.
		return &Error{Line: b.Line, Msg: fmt.Sprintf("want a whole number, got %s", shown(b.Value))}
	default:
		return &Error{Line: b.Line, Msg: fmt.Sprintf("want an integer, got %s", describe(b))}
	}
	*r = RateLimitConfig{Interval: interval, Burst: burst}
	return nil
}

// Enabled reports whether requests are rate limited.
func (r RateLimitConfig) Enabled() bool { return r.Interval > 0 }

// TLSMaterial is what the certificate, key and client CA files (or their
// inline forms) held when the config was loaded, read together.
type TLSMaterial struct {
	// Certificate is the server certificate chain and key, Leaf set.
	Certificate tls.Certificate
	// ClientCAs is the pool client certificates are verified against; nil
	// when no client CA is configured.
	ClientCAs *x509.CertPool
	// ClientCACerts lists the certificates in ClientCAs, in file order.
	ClientCACerts []*x509.Certificate
	// ClientCRLs are the revocation lists of client_crl_file, in file
	// order, each one's signature checked against the client CA that
	// issued it.
	ClientCRLs []*x509.RevocationList

	// keyEncrypted says whether the key was read encrypted, for the
	// warning about a key_password_file that is not needed.
	keyEncrypted bool
}

// Path returns the file the config was loaded from ("" for Parse without a
// name).
func (c *Config) Path() string { return c.path }

// TLSMaterial returns the certificate, key and client CAs read at load time,
// or nil when TLS is off.
func (c *Config) TLSMaterial() *TLSMaterial { return c.material }

// Files returns the absolute paths of every file the config depends on: the
// config file itself (when loaded from a file, not for ParseSection) and the
// certificate, key, key password, client CA and client CRL files it names.
// These are the files to watch for changes.
func (c *Config) Files() []string {
	var files []string
	for _, f := range []string{c.path, c.TLS.CertFile, c.TLS.KeyFile, c.TLS.KeyPasswordFile, c.TLS.ClientCAFile, c.TLS.ClientCRLFile} {
		if f == "" || f == c.path && c.section != "" {
			continue
		}
		if abs, err := filepath.Abs(f); err == nil {
			f = abs
		}
		files = append(files, f)
	}
	return files
}
