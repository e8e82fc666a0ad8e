package config

import (
	"crypto/tls"
	"crypto/x509"
	"path/filepath"
	"time"

	commoncfg "github.com/prometheus/common/config"
)

// Config is one web-config file, as loaded by Load or Parse: defaults applied,
// relative paths resolved, validated, and the certificate, key and client CAs
// it names read once.
//
// A Config is not modified after loading; share it freely.
type Config struct {
	// TLS is the tls_server_config section. TLS is off unless it names a
	// certificate (TLS.IsEnabled).
	TLS TLSConfig `yaml:"tls_server_config"`
	// HTTP is the http_server_config section.
	HTTP HTTPConfig `yaml:"http_server_config"`
	// Users maps user names to bcrypt hashes (basic_auth_users). When it is
	// empty, no password is asked for.
	Users map[string]commoncfg.Secret `yaml:"basic_auth_users,omitempty"`
	// RateLimit is the rate_limit section.
	RateLimit RateLimitConfig `yaml:"rate_limit,omitempty"`

	path     string
	material *TLSMaterial
}

// TLSConfig is the tls_server_config section.
type TLSConfig struct {
	// CertFile and KeyFile name the PEM server certificate (with any
	// intermediates after it) and its private key. Relative paths are relative
	// to the directory of the web-config file. Cert and Key hold the same PEM
	// inline; a file and its inline form cannot both be set.
	CertFile string           `yaml:"cert_file,omitempty"`
	KeyFile  string           `yaml:"key_file,omitempty"`
	Cert     string           `yaml:"cert,omitempty"`
	Key      commoncfg.Secret `yaml:"key,omitempty"`
	// ClientCAFile (or ClientCA inline) holds the PEM certificates that client
	// certificates are verified against. Setting it requires a ClientAuthType
	// that asks for client certificates.
	ClientCAFile string `yaml:"client_ca_file,omitempty"`
	ClientCA     string `yaml:"client_ca,omitempty"`
	// ClientAuthType is the client certificate policy; NoClientCert by default.
	ClientAuthType ClientAuthType `yaml:"client_auth_type,omitempty"`
	// ClientAllowedSANs, when set, admits only clients whose verified
	// certificate carries one of these values as a DNS, IP, e-mail or URI
	// subject alternative name (disjunctive: one exact match grants access).
	ClientAllowedSANs []string `yaml:"client_allowed_sans,omitempty"`
	// MinVersion and MaxVersion bound the TLS versions offered; TLS12 and
	// TLS13 by default.
	MinVersion TLSVersion `yaml:"min_version,omitempty"`
	MaxVersion TLSVersion `yaml:"max_version,omitempty"`
	// CipherSuites restricts the TLS 1.0–1.2 cipher suites, by Go's names;
	// empty means Go's defaults. TLS 1.3 suites are not configurable.
	CipherSuites []Cipher `yaml:"cipher_suites,omitempty"`
	// CurvePreferences restricts the key exchange groups, by Go's names;
	// empty means Go's defaults (which include X25519MLKEM768).
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

// HTTPConfig is the http_server_config section.
type HTTPConfig struct {
	// HTTP2 enables HTTP/2 over TLS; default true. It cannot change without
	// a restart.
	HTTP2 *bool `yaml:"http2,omitempty"`
	// Headers are security headers added to every response. Only
	// Content-Security-Policy, X-Frame-Options, X-Content-Type-Options,
	// X-XSS-Protection and Strict-Transport-Security are allowed.
	Headers map[string]string `yaml:"headers,omitempty"`
}

// HTTP2Enabled reports whether HTTP/2 is on, applying the default.
func (h *HTTPConfig) HTTP2Enabled() bool {
	return h.HTTP2 == nil || *h.HTTP2
}

// RateLimitConfig is the rate_limit section: a token bucket refilled with one
// token every Interval and holding at most Burst tokens. Interval zero (the
// default) disables rate limiting; an interval with no burst refuses every
// request.
type RateLimitConfig struct {
	Interval time.Duration `yaml:"interval,omitempty"`
	Burst    int           `yaml:"burst,omitempty"`
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
}

// Path returns the file the config was loaded from ("" for Parse without a
// name).
func (c *Config) Path() string { return c.path }

// TLSMaterial returns the certificate, key and client CAs read at load time,
// or nil when TLS is off.
func (c *Config) TLSMaterial() *TLSMaterial { return c.material }

// Files returns the absolute paths of every file the config depends on: the
// config file itself (when loaded from a file) and the certificate, key and
// client CA files it names. These are the files to watch for changes.
func (c *Config) Files() []string {
	var files []string
	for _, f := range []string{c.path, c.TLS.CertFile, c.TLS.KeyFile, c.TLS.ClientCAFile} {
		if f == "" {
			continue
		}
		if abs, err := filepath.Abs(f); err == nil {
			f = abs
		}
		files = append(files, f)
	}
	return files
}
