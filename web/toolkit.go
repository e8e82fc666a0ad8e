package web

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	commoncfg "github.com/prometheus/common/config"
	"go.yaml.in/yaml/v3"

	"github.com/webguard/webguard/config"
)

// This file holds exporter-toolkit's exchange types: the names, field names,
// field types and YAML keys programs written against
// github.com/prometheus/exporter-toolkit/web use, so that they switch by
// module path. They carry values only; package config parses and validates
// web-config files, and toolkit_convert.go turns one form into the other.

// Errors the package-level serving functions return, as exporter-toolkit
// defines them. Test with errors.Is: they may be wrapped with detail.
var (
	// ErrMissingFlag is returned when a serving function is given no
	// FlagConfig.
	ErrMissingFlag = errors.New("web: missing flag configuration")
	// ErrNoListeners is returned when there is nothing to listen on: no
	// listen address, no systemd socket, or an empty list of listeners.
	ErrNoListeners = errors.New("web: no listen address, systemd socket or listener to serve on")
)

// Config is a whole web-config file in exporter-toolkit's shape. Package
// config is what loads and checks files; a Config is for programs that build
// one in code or decode it with their own YAML library.
type Config struct {
	TLSConfig         TLSConfig                   `yaml:"tls_server_config"`
	HTTPConfig        HTTPConfig                  `yaml:"http_server_config"`
	RateLimiterConfig RateLimiterConfig           `yaml:"rate_limit"`
	Users             map[string]commoncfg.Secret `yaml:"basic_auth_users"`
}

// TLSConfig is the tls_server_config section in exporter-toolkit's shape,
// with its field names. It decodes with go.yaml.in/yaml/v3 and
// gopkg.in/yaml.v2 alike (UnmarshalStrict included); relative paths stay as
// written until SetDirectory. ConfigToTLSConfig checks it.
type TLSConfig struct {
	// TLSCert and TLSKey are the server certificate (with any
	// intermediates after it) and key as inline PEM; TLSCertPath and
	// TLSKeyPath name PEM files instead. One of each pair is needed.
	// ClientCAsText (inline PEM) or ClientCAs (a file) are the CAs client
	// certificates are verified against.
	TLSCert       string           `yaml:"cert"`
	TLSKey        commoncfg.Secret `yaml:"key"`
	ClientCAsText string           `yaml:"client_ca"`
	TLSCertPath   string           `yaml:"cert_file"`
	TLSKeyPath    string           `yaml:"key_file"`
	// ClientAuth is the client certificate policy by name, e.g.
	// "RequireAndVerifyClientCert"; "" is NoClientCert.
	ClientAuth string `yaml:"client_auth_type"`
	ClientCAs  string `yaml:"client_ca_file"`
	// CipherSuites and CurvePreferences restrict what is negotiated; empty
	// means Go's defaults.
	CipherSuites     []Cipher `yaml:"cipher_suites"`
	CurvePreferences []Curve  `yaml:"curve_preferences"`
	// MinVersion and MaxVersion bound the TLS versions; zero means TLS 1.2
	// and TLS 1.3.
	MinVersion TLSVersion `yaml:"min_version"`
	MaxVersion TLSVersion `yaml:"max_version"`
	// PreferServerCipherSuites is accepted and has no effect: Go chooses the
	// cipher suite order itself.
	PreferServerCipherSuites bool `yaml:"prefer_server_cipher_suites"`
	// ClientAllowedSans, when not empty, admits only clients whose
	// certificate has one of these values as a DNS, IP, e-mail or URI
	// subject alternative name; a client without a certificate is refused.
	ClientAllowedSans []string `yaml:"client_allowed_sans"`
}

// IsEnabled reports whether any TLS field is set: a certificate, a key,
// client CAs or a client auth type. It does not check that the section is
// complete; ConfigToTLSConfig does. (config.TLSConfig.IsEnabled is stricter:
// it asks for a certificate.)
func (t *TLSConfig) IsEnabled() bool {
	return t.TLSCert != "" || t.TLSKey != "" || t.TLSCertPath != "" || t.TLSKeyPath != "" ||
		t.ClientCAsText != "" || t.ClientCAs != "" || t.ClientAuth != ""
}

// SetDirectory makes the relative file paths (certificate, key, client CAs)
// relative to dir, typically the directory of the file t was decoded from.
// Absolute and empty paths are left alone.
func (t *TLSConfig) SetDirectory(dir string) {
	t.TLSCertPath = commoncfg.JoinDir(dir, t.TLSCertPath)
	t.TLSKeyPath = commoncfg.JoinDir(dir, t.TLSKeyPath)
	t.ClientCAs = commoncfg.JoinDir(dir, t.ClientCAs)
}

// VerifyPeerCertificate checks the client certificate against
// ClientAllowedSans, in the form of tls.Config.VerifyPeerCertificate. It
// looks at the leaf of the first verified chain when there is one, else at
// the first certificate sent. It returns nil when ClientAllowedSans is
// empty, and an error, never a panic, when a list is set and the client sent
// no certificate or one that does not parse.
func (t *TLSConfig) VerifyPeerCertificate(rawCerts [][]byte, verifiedChains [][]*x509.Certificate) error {
	if len(t.ClientAllowedSans) == 0 {
		return nil
	}
	var leaf *x509.Certificate
	switch {
	case len(verifiedChains) > 0 && len(verifiedChains[0]) > 0:
		leaf = verifiedChains[0][0]
	case len(rawCerts) > 0:
		c, err := x509.ParseCertificate(rawCerts[0])
		if err != nil {
			return fmt.Errorf("web: client certificate: %w", err)
		}
		leaf = c
	}
	if leaf == nil {
		return errNoClientCert
	}
	if !newSANSet(t.ClientAllowedSans).match(leaf) {
		return errors.New("web: client certificate has no subject alternative name listed in client_allowed_sans")
	}
	return nil
}

// HTTPConfig is the http_server_config section in exporter-toolkit's shape.
// Its zero value has HTTP/2 off; a file without the key has it on.
type HTTPConfig struct {
	HTTP2  bool              `yaml:"http2"`
	Header map[string]string `yaml:"headers,omitempty"`
}

// RateLimiterConfig is the rate_limit section in exporter-toolkit's shape:
// one request allowed every Interval, up to Burst at once; Interval zero
// turns the limit off.
type RateLimiterConfig struct {
	Burst    int           `yaml:"burst"`
	Interval time.Duration `yaml:"interval"`
}

// Cipher is a TLS cipher suite ID, written in YAML by its Go name (see
// tls.CipherSuites).
type Cipher uint16

// UnmarshalYAML reads a cipher suite by its Go name. Suites Go lists as
// insecure are refused. The func(any) error form serves both yaml v3 and
// gopkg.in/yaml.v2.
func (c *Cipher) UnmarshalYAML(unmarshal func(any) error) error {
	var v config.Cipher
	if err := decodeName(unmarshal, &v); err != nil {
		return err
	}
	*c = Cipher(v)
	return nil
}

// MarshalYAML writes the suite's Go name.
func (c Cipher) MarshalYAML() (any, error) { return config.Cipher(c).String(), nil }

// Curve is a key exchange group, written in YAML by its Go name: CurveP256,
// CurveP384, CurveP521, X25519 or X25519MLKEM768.
type Curve tls.CurveID

// UnmarshalYAML reads a curve by its Go name.
func (c *Curve) UnmarshalYAML(unmarshal func(any) error) error {
	var v config.Curve
	if err := decodeName(unmarshal, &v); err != nil {
		return err
	}
	*c = Curve(v)
	return nil
}

// MarshalYAML writes the curve's Go name. (A value receiver: it also
// serves the pointer form exporter-toolkit declares.)
func (c Curve) MarshalYAML() (any, error) { return config.Curve(c).String(), nil }

// TLSVersion is a TLS protocol version, written in YAML as TLS10, TLS11,
// TLS12 or TLS13.
type TLSVersion uint16

// UnmarshalYAML reads a version by name.
func (tv *TLSVersion) UnmarshalYAML(unmarshal func(any) error) error {
	var v config.TLSVersion
	if err := decodeName(unmarshal, &v); err != nil {
		return err
	}
	*tv = TLSVersion(v)
	return nil
}

// MarshalYAML writes the version's name; the zero value (unset) writes
// nothing.
func (tv TLSVersion) MarshalYAML() (any, error) {
	if tv == 0 {
		return nil, nil
	}
	return config.TLSVersion(tv).String(), nil
}

// decodeName reads a string with unmarshal (as yaml v2 and v3 offer it) and
// hands it to v's own YAML decoder, so that the names and the error for an
// unknown one come from package config's tables, the only ones.
func decodeName(unmarshal func(any) error, v yaml.Unmarshaler) error {
	var s string
	if err := unmarshal(&s); err != nil {
		return err
	}
	if err := v.UnmarshalYAML(&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s}); err != nil {
		return fmt.Errorf("web: %w", err)
	}
	return nil
}

// ConfigToTLSConfig checks t as package config checks a tls_server_config
// section (certificate and key present and matching, client CAs holding a
// certificate, names known, combinations that make sense) and returns the
// tls.Config a server needs, built by the code a Guard uses. Relative paths
// are relative to the working directory unless SetDirectory was called.
//
// When the certificate and key come from files, a handshake after either
// file changed reads both again; if they do not load (a rotation half
// done), the last good pair is served. Client CAs are read once.
// With ClientAllowedSans, a client that presents no certificate is refused
// at the handshake, whatever ClientAuth says. NextProtos is left empty for
// the caller's server to fill in.
func ConfigToTLSConfig(t *TLSConfig) (*tls.Config, error) {
	if t == nil || !t.IsEnabled() {
		return nil, errors.New("web: tls_server_config: no TLS settings (want cert or cert_file, and key or key_file)")
	}
	section, err := toConfigTLS(t)
	if err != nil {
		return nil, err
	}
	return newServedTLS(section)
}
