package web

import (
	"crypto/tls"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"sync"
	"sync/atomic"

	commoncfg "github.com/prometheus/common/config"
	"go.yaml.in/yaml/v3"

	"github.com/webguard/webguard/config"
)

// Conversions between exporter-toolkit's exchange types (toolkit.go) and
// package config, which stays the one parser and validator: a value built
// in code is written out as the YAML it stands for and loaded by config, so
// it is held to the same rules and error messages as a file.

// Load checks c as config.Load checks a web.yml, with the same rules and
// messages (naming the field), reads the certificate, key and client CA
// files it names (relative paths are relative to the working directory, as
// after SetDirectory), and returns it in package config's form. It is how
// a program serves a Config it built or decoded itself: pass the result as
// Options.Config to New, and a changed one to Guard.Update. HTTPConfig.HTTP2
// is taken as given: the zero Config has HTTP/2 off. (Not in
// exporter-toolkit.)
func (c *Config) Load() (*config.Config, error) {
	cc, err := toConfig(c)
	if err != nil {
		return nil, err
	}
	return loadConfig(cc)
}

// toConfig converts c field by field. It fails only on a client auth type
// config does not know.
func toConfig(c *Config) (config.Config, error) {
	t, err := toConfigTLS(&c.TLSConfig)
	if err != nil {
		return config.Config{}, err
	}
	http2 := c.HTTPConfig.HTTP2
	return config.Config{
		TLS:       t,
		HTTP:      config.HTTPConfig{HTTP2: &http2, Headers: maps.Clone(c.HTTPConfig.Header)},
		Users:     maps.Clone(c.Users),
		RateLimit: config.RateLimitConfig{Interval: c.RateLimiterConfig.Interval, Burst: c.RateLimiterConfig.Burst},
	}, nil
}

// fromConfig converts c field by field; defaults config applied are kept
// as values (HTTP2 true, TLS 1.2 to 1.3).
func fromConfig(c *config.Config) Config {
	return Config{
		TLSConfig:         fromConfigTLS(&c.TLS),
		HTTPConfig:        HTTPConfig{HTTP2: c.HTTP.HTTP2Enabled(), Header: maps.Clone(c.HTTP.Headers)},
		RateLimiterConfig: RateLimiterConfig{Burst: c.RateLimit.Burst, Interval: c.RateLimit.Interval},
		Users:             maps.Clone(c.Users),
	}
}

// toConfigTLS converts t field by field. ClientAuth is read by config's own
// name table; PreferServerCipherSuites false, the toolkit's zero value,
// stays unset.
func toConfigTLS(t *TLSConfig) (config.TLSConfig, error) {
	var auth config.ClientAuthType
	if err := auth.UnmarshalYAML(&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: t.ClientAuth}); err != nil {
		e := &config.Error{Field: "tls_server_config.client_auth_type", Msg: err.Error(), Err: err}
		var ce *config.Error
		if errors.As(err, &ce) {
			e.Msg = ce.Msg
		}
		return config.TLSConfig{}, fmt.Errorf("web: %w", e)
	}
	c := config.TLSConfig{
		CertFile:          t.TLSCertPath,
		KeyFile:           t.TLSKeyPath,
		Cert:              t.TLSCert,
		Key:               t.TLSKey,
		ClientCAFile:      t.ClientCAs,
		ClientCA:          t.ClientCAsText,
		ClientAuthType:    auth,
		ClientAllowedSANs: slices.Clone(t.ClientAllowedSans),
		MinVersion:        config.TLSVersion(t.MinVersion),
		MaxVersion:        config.TLSVersion(t.MaxVersion),
	}
	for _, s := range t.CipherSuites {
		c.CipherSuites = append(c.CipherSuites, config.Cipher(s))
	}
	for _, s := range t.CurvePreferences {
		c.CurvePreferences = append(c.CurvePreferences, config.Curve(s))
	}
	if t.PreferServerCipherSuites {
		on := true
		c.PreferServerCipherSuites = &on
	}
	return c, nil
}

// fromConfigTLS converts t field by field. NoClientCert becomes "", so
// that a section without TLS is not IsEnabled.
func fromConfigTLS(t *config.TLSConfig) TLSConfig {
	c := TLSConfig{
		TLSCert:                  t.Cert,
		TLSKey:                   t.Key,
		TLSCertPath:              t.CertFile,
		TLSKeyPath:               t.KeyFile,
		ClientCAsText:            t.ClientCA,
		ClientCAs:                t.ClientCAFile,
		ClientAllowedSans:        slices.Clone(t.ClientAllowedSANs),
		MinVersion:               TLSVersion(t.MinVersion),
		MaxVersion:               TLSVersion(t.MaxVersion),
		PreferServerCipherSuites: t.PreferServerCipherSuites != nil && *t.PreferServerCipherSuites,
	}
	if t.ClientAuthType.TLS() != tls.NoClientCert {
		c.ClientAuth = t.ClientAuthType.String()
	}
	for _, s := range t.CipherSuites {
		c.CipherSuites = append(c.CipherSuites, Cipher(s))
	}
	for _, s := range t.CurvePreferences {
		c.CurvePreferences = append(c.CurvePreferences, Curve(s))
	}
	return c
}

// document is a Config as web.yml spells it, for loadConfig. Its TLS
// section is a plain copy of config.TLSConfig, without that type's
// MarshalYAML, which leaves out a section that has no certificate: a key
// or client CA given without one must reach config and be refused, not
// vanish. Users are plain strings: config.Secret writes "<secret>".
type document struct {
	TLS       plainTLS               `yaml:"tls_server_config,omitempty"`
	HTTP      config.HTTPConfig      `yaml:"http_server_config,omitempty"`
	Users     map[string]string      `yaml:"basic_auth_users,omitempty"`
	RateLimit config.RateLimitConfig `yaml:"rate_limit,omitempty"`
}

type plainTLS config.TLSConfig

// loadConfig loads c through package config, as if it were a file relative
// to the working directory: defaults, validation, and the certificate, key
// and client CA files read. Errors name the field, without the line of the
// YAML written here, which no one has seen.
func loadConfig(c config.Config) (*config.Config, error) {
	d := document{TLS: plainTLS(c.TLS), HTTP: c.HTTP, RateLimit: c.RateLimit}
	if len(c.Users) > 0 {
		d.Users = make(map[string]string, len(c.Users))
		for u, h := range c.Users {
			d.Users[u] = string(h)
		}
	}
	var n yaml.Node
	if err := n.Encode(&d); err != nil {
		return nil, fmt.Errorf("web: %w", err)
	}
	if c.TLS.Key != "" {
		revealKey(&n, c.TLS.Key)
	}
	data, err := yaml.Marshal(&n)
	if err != nil {
		return nil, fmt.Errorf("web: %w", err)
	}
	cfg, err := config.Parse(data, "")
	if err != nil {
		return nil, fmt.Errorf("web: %w", withoutLines(err))
	}
	return cfg, nil
}

// revealKey puts the inline key back in the encoded document, where
// config.Secret wrote "<secret>".
func revealKey(doc *yaml.Node, key commoncfg.Secret) {
	section := mappingValue(doc, "tls_server_config")
	if v := mappingValue(section, "key"); v != nil {
		v.Value, v.Tag, v.Style = string(key), "!!str", yaml.DoubleQuotedStyle
	}
}

// mappingValue returns the value of key in the mapping n, or nil.
func mappingValue(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// withoutLines drops the line numbers from config's errors.
func withoutLines(err error) error {
	errs := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	}
	out := make([]error, len(errs))
	for i, e := range errs {
		if ce, ok := e.(*config.Error); ok {
			c := *ce
			c.Line = 0
			e = &c
		}
		out[i] = e
	}
	if len(out) == 1 {
		return out[0]
	}
	return errors.Join(out...)
}

// newServedTLS loads section through config, compiles it as a Guard does,
// and returns the tls.Config for ConfigToTLSConfig.
func newServedTLS(section config.TLSConfig) (*tls.Config, error) {
	off := false
	load := func() (*config.Config, error) {
		return loadConfig(config.Config{TLS: section, HTTP: config.HTTPConfig{HTTP2: &off}})
	}
	stamps := stampFiles(section.CertFile, section.KeyFile)
	cfg, err := load()
	if err != nil {
		return nil, err
	}
	if !cfg.TLS.IsEnabled() {
		return nil, errors.New("web: tls_server_config: no server certificate (want cert or cert_file)")
	}
	s, err := compile(cfg)
	if err != nil {
		return nil, err
	}
	tc := s.tls.config.Clone()
	// The caller's server fills ALPN in for the protocols it speaks (net/http
	// adds h2, gRPC requires it); a list here would override theirs.
	tc.NextProtos = nil
	if section.CertFile != "" || section.KeyFile != "" {
		r := &certReloader{load: load, files: []string{section.CertFile, section.KeyFile}}
		r.cur.Store(&servedCert{stamps: stamps, cert: &cfg.TLSMaterial().Certificate})
		tc.Certificates = nil
		tc.GetCertificate = r.certificate
	}
	return tc, nil
}

// certReloader serves the certificate of a ConfigToTLSConfig whose
// certificate or key is a file, reading both again when either changed.
// A stat of each file per handshake is the whole cost while nothing
// changes; no goroutine watches, since the caller has no way to stop one.
type certReloader struct {
	load  func() (*config.Config, error)
	files []string
	mu    sync.Mutex // one load at a time
	cur   atomic.Pointer[servedCert]
}

// servedCert is a certificate and the files it was read from, as stat saw
// them before the read.
type servedCert struct {
	stamps []fileStamp
	cert   *tls.Certificate
}

func (r *certReloader) certificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	cur := r.cur.Load()
	now := stampFiles(r.files...)
	if sameStamps(cur.stamps, now) {
		return cur.cert, nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if cur = r.cur.Load(); sameStamps(cur.stamps, now) {
		return cur.cert, nil
	}
	next := &servedCert{stamps: now, cert: cur.cert}
	// A pair that does not load (half rotated, unreadable) keeps the last
	// good certificate; the new stamps make the next change try again.
	if cfg, err := r.load(); err == nil && cfg.TLSMaterial() != nil {
		next.cert = &cfg.TLSMaterial().Certificate
	}
	r.cur.Store(next)
	return next.cert, nil
}

// fileStamp is what os.Stat says about a file, enough to tell it changed.
type fileStamp struct {
	info os.FileInfo // nil when the file cannot be stat'ed
}

func stampFiles(files ...string) []fileStamp {
	s := make([]fileStamp, len(files))
	for i, f := range files {
		if f == "" {
			continue
		}
		if fi, err := os.Stat(f); err == nil {
			s[i].info = fi
		}
	}
	return s
}

func sameStamps(a, b []fileStamp) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i].info, b[i].info
		if (x == nil) != (y == nil) {
			return false
		}
		if x != nil && (!os.SameFile(x, y) || x.Size() != y.Size() || !x.ModTime().Equal(y.ModTime())) {
			return false
		}
	}
	return true
}
