package web

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	commoncfg "github.com/prometheus/common/config"
	yamlv3 "go.yaml.in/yaml/v3"
	yamlv2 "gopkg.in/yaml.v2"

	"github.com/webguard/webguard/config"
	"github.com/webguard/webguard/internal/pki"
)

// serveTLSConfig serves okHandler over TLS with tc on 127.0.0.1:0, as an
// embedder of ConfigToTLSConfig would, and returns the base URL.
func serveTLSConfig(t *testing.T, tc *tls.Config) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: okHandler, TLSConfig: tc, ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: log.New(io.Discard, "", 0)}
	done := make(chan error, 1)
	go func() { done <- srv.ServeTLS(l, "", "") }()
	t.Cleanup(func() {
		srv.Close()
		<-done
	})
	return "https://" + l.Addr().String()
}

// A tls_server_config as Alertmanager decodes it: inside its own struct,
// with gopkg.in/yaml.v2 UnmarshalStrict, then SetDirectory. The same with
// yaml v3 and KnownFields.
func TestToolkitTLSConfigYAML(t *testing.T) {
	p := newTestPKI(t)
	doc := `tls_server_config:
  cert_file: server.crt
  key_file: server.key
  client_ca_file: ca.crt
  client_auth_type: RequireAndVerifyClientCert
  client_allowed_sans: [scraper.example]
  min_version: TLS12
  max_version: TLS13
  cipher_suites: [TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384]
  curve_preferences: [X25519, CurveP256]
  prefer_server_cipher_suites: true
`
	type file struct {
		TLSServerConfig *TLSConfig `yaml:"tls_server_config"`
	}
	want := TLSConfig{
		TLSCertPath:              p.serverCrt,
		TLSKeyPath:               p.serverKey,
		ClientCAs:                p.caFile,
		ClientAuth:               "RequireAndVerifyClientCert",
		ClientAllowedSans:        []string{"scraper.example"},
		MinVersion:               TLSVersion(tls.VersionTLS12),
		MaxVersion:               TLSVersion(tls.VersionTLS13),
		CipherSuites:             []Cipher{Cipher(tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256), Cipher(tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384)},
		CurvePreferences:         []Curve{Curve(tls.X25519), Curve(tls.CurveP256)},
		PreferServerCipherSuites: true,
	}
	decoders := map[string]func(data []byte, v any) error{
		"yaml.v2 UnmarshalStrict": yamlv2.UnmarshalStrict,
		"yaml v3 KnownFields": func(data []byte, v any) error {
			d := yamlv3.NewDecoder(bytes.NewReader(data))
			d.KnownFields(true)
			return d.Decode(v)
		},
	}
	marshalers := map[string]func(any) ([]byte, error){
		"yaml.v2 UnmarshalStrict": yamlv2.Marshal,
		"yaml v3 KnownFields":     yamlv3.Marshal,
	}
	for name, decode := range decoders {
		t.Run(name, func(t *testing.T) {
			var f file
			if err := decode([]byte(doc), &f); err != nil {
				t.Fatal(err)
			}
			f.TLSServerConfig.SetDirectory(p.dir)
			if !reflect.DeepEqual(*f.TLSServerConfig, want) {
				t.Fatalf("decoded\n%+v\nwant\n%+v", *f.TLSServerConfig, want)
			}
			tc, err := ConfigToTLSConfig(f.TLSServerConfig)
			if err != nil {
				t.Fatal(err)
			}
			base := serveTLSConfig(t, tc)
			mustGet(t, p.httpClient(p.client), base, http.StatusOK)

			// What the library writes reads back the same.
			out, err := marshalers[name](f)
			if err != nil {
				t.Fatal(err)
			}
			var again file
			if err := decode(out, &again); err != nil {
				t.Fatalf("%v reading back\n%s", err, out)
			}
			if !reflect.DeepEqual(again, f) {
				t.Errorf("read back\n%+v\nwant\n%+v\nfrom\n%s", *again.TLSServerConfig, *f.TLSServerConfig, out)
			}

			for _, bad := range []struct{ yml, want string }{
				{"tls_server_config:\n  min_version: TLS14\n", `unknown value "TLS14" (want one of TLS10, TLS11, TLS12, TLS13)`},
				{"tls_server_config:\n  cipher_suites: [TLS_RSA_WITH_RC4_128_SHA]\n", "is insecure and not allowed"},
				{"tls_server_config:\n  curve_preferences: [x25519]\n", "names are case-sensitive, did you mean X25519?"},
				{"tls_server_config:\n  cert_fil: a.crt\n", "cert_fil"},
			} {
				var f file
				err := decode([]byte(bad.yml), &f)
				if err == nil || !strings.Contains(err.Error(), bad.want) {
					t.Errorf("%q: got %v, want an error with %q", bad.yml, err, bad.want)
				}
			}
		})
	}
}

// ConfigToTLSConfig against real TLS clients: who gets in and who does not.
func TestConfigToTLSConfig(t *testing.T) {
	p := newTestPKI(t)
	other, err := p.ca.Client(pki.Request{CommonName: "other", Hosts: []string{"other.example"}})
	if err != nil {
		t.Fatal(err)
	}
	files := TLSConfig{TLSCertPath: p.serverCrt, TLSKeyPath: p.serverKey}
	with := func(f func(*TLSConfig)) *TLSConfig {
		c := files
		f(&c)
		return &c
	}
	for _, tc := range []struct {
		name string
		cfg  *TLSConfig
		ok   map[string]*pki.Cert // clients let in, by name
		no   map[string]*pki.Cert // clients refused
	}{
		{
			name: "TLS only",
			cfg:  &files,
			ok:   map[string]*pki.Cert{"no cert": nil, "client": p.client},
		},
		{
			name: "inline certificate and key",
			cfg:  &TLSConfig{TLSCert: string(p.server.CertPEM), TLSKey: commoncfg.Secret(p.server.KeyPEM)},
			ok:   map[string]*pki.Cert{"no cert": nil},
		},
		{
			name: "mTLS",
			cfg:  with(func(c *TLSConfig) { c.ClientCAs, c.ClientAuth = p.caFile, "RequireAndVerifyClientCert" }),
			ok:   map[string]*pki.Cert{"client": p.client},
			no:   map[string]*pki.Cert{"no cert": nil, "wrong CA": p.wrongCA, "expired": p.expired},
		},
		{
			name: "mTLS with the CA inline",
			cfg:  with(func(c *TLSConfig) { c.ClientCAsText, c.ClientAuth = string(p.ca.CertPEM), "RequireAndVerifyClientCert" }),
			ok:   map[string]*pki.Cert{"client": p.client},
			no:   map[string]*pki.Cert{"no cert": nil, "wrong CA": p.wrongCA},
		},
		{
			name: "allowed SANs",
			cfg: with(func(c *TLSConfig) {
				c.ClientCAs, c.ClientAuth, c.ClientAllowedSans = p.caFile, "RequireAndVerifyClientCert", []string{"scraper.example"}
			}),
			ok: map[string]*pki.Cert{"client": p.client},
			no: map[string]*pki.Cert{"no cert": nil, "other SAN": other, "wrong CA with the SAN": p.wrongCA},
		},
		{
			name: "optional certificate",
			cfg:  with(func(c *TLSConfig) { c.ClientCAs, c.ClientAuth = p.caFile, "VerifyClientCertIfGiven" }),
			ok:   map[string]*pki.Cert{"no cert": nil, "client": p.client},
			no:   map[string]*pki.Cert{"wrong CA": p.wrongCA},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := ConfigToTLSConfig(tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			if len(cfg.NextProtos) != 0 {
				t.Errorf("NextProtos %q, want none: the caller's server sets ALPN", cfg.NextProtos)
			}
			base := serveTLSConfig(t, cfg)
			for name, c := range tc.ok {
				resp := mustGet(t, p.httpClient(c), base, http.StatusOK)
				if resp.Proto != "HTTP/2.0" {
					t.Errorf("%s: %s, want HTTP/2.0 (net/http offers h2 by ALPN)", name, resp.Proto)
				}
			}
			for name, c := range tc.no {
				if _, _, err := fetch(t, p.httpClient(c), base); err == nil {
					t.Errorf("%s: let in", name)
				}
			}
		})
	}
}

// With client_allowed_sans under a client auth type that lets clients in
// without a certificate, such a client is refused, never a crash (the
// toolkit indexes an empty certificate list there). Package config decides
// whether the combination loads at all.
func TestConfigToTLSConfigSANsWithoutClientCert(t *testing.T) {
	p := newTestPKI(t)
	for _, auth := range []string{"VerifyClientCertIfGiven", "RequestClientCert"} {
		c := &TLSConfig{TLSCertPath: p.serverCrt, TLSKeyPath: p.serverKey, ClientCAs: p.caFile, ClientAuth: auth, ClientAllowedSans: []string{"scraper.example"}}
		if auth == "RequestClientCert" {
			c.ClientCAs = ""
		}
		cfg, err := ConfigToTLSConfig(c)
		if err != nil {
			if !strings.Contains(err.Error(), "client_allowed_sans") {
				t.Errorf("%s: %v, want an error about client_allowed_sans", auth, err)
			}
			continue
		}
		base := serveTLSConfig(t, cfg)
		if _, _, err := fetch(t, p.httpClient(nil), base); err == nil {
			t.Errorf("%s: a client without a certificate was let in", auth)
		}
		mustGet(t, p.httpClient(p.client), base, http.StatusOK)
	}
	var empty TLSConfig
	empty.ClientAllowedSans = []string{"scraper.example"}
	if err := empty.VerifyPeerCertificate(nil, nil); err == nil {
		t.Error("VerifyPeerCertificate: nil for no certificate")
	}
	if err := empty.VerifyPeerCertificate([][]byte{[]byte("junk")}, nil); err == nil {
		t.Error("VerifyPeerCertificate: nil for a certificate that does not parse")
	}
	if err := empty.VerifyPeerCertificate([][]byte{p.client.Cert.Raw}, nil); err != nil {
		t.Errorf("VerifyPeerCertificate: %v for an allowed certificate", err)
	}
	// The verified leaf decides, not what the client sent first.
	if err := empty.VerifyPeerCertificate([][]byte{p.server.Cert.Raw}, [][]*x509.Certificate{{p.client.Cert}}); err != nil {
		t.Errorf("VerifyPeerCertificate: %v for an allowed verified leaf", err)
	}
}

// ConfigToTLSConfig refuses what config refuses, naming the field.
func TestConfigToTLSConfigErrors(t *testing.T) {
	p := newTestPKI(t)
	for _, tc := range []struct {
		name string
		cfg  TLSConfig
		want string
	}{
		{"nothing", TLSConfig{}, "no TLS settings"},
		{"key without certificate", TLSConfig{TLSKeyPath: p.serverKey}, "cert"},
		{"certificate without key", TLSConfig{TLSCertPath: p.serverCrt}, "key"},
		{"client auth only", TLSConfig{ClientAuth: "RequireAndVerifyClientCert"}, "cert"},
		{"unknown client auth", TLSConfig{TLSCertPath: p.serverCrt, TLSKeyPath: p.serverKey, ClientAuth: "RequireClient"}, `tls_server_config.client_auth_type: unknown value "RequireClient"`},
		{"missing file", TLSConfig{TLSCertPath: filepath.Join(p.dir, "nope.crt"), TLSKeyPath: p.serverKey}, "tls_server_config.cert_file"},
		{"CA without client auth", TLSConfig{TLSCertPath: p.serverCrt, TLSKeyPath: p.serverKey, ClientCAs: p.caFile}, "client_auth_type"},
		{"insecure cipher", TLSConfig{TLSCertPath: p.serverCrt, TLSKeyPath: p.serverKey, CipherSuites: []Cipher{Cipher(tls.TLS_RSA_WITH_RC4_128_SHA)}}, "cipher_suites"},
		{"min above max", TLSConfig{TLSCertPath: p.serverCrt, TLSKeyPath: p.serverKey, MinVersion: TLSVersion(tls.VersionTLS13), MaxVersion: TLSVersion(tls.VersionTLS12)}, "min_version"},
		{"key of another certificate", TLSConfig{TLSCert: string(p.client.CertPEM), TLSKey: commoncfg.Secret(p.server.KeyPEM)}, "key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ConfigToTLSConfig(&tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error with %q", err, tc.want)
			}
			if !strings.HasPrefix(err.Error(), "web: ") {
				t.Errorf("%q lacks the package prefix", err)
			}
			if regexp.MustCompile(`\bline \d|:\d+:`).MatchString(err.Error()) {
				t.Errorf("%q names a line of YAML no one wrote", err)
			}
			if strings.Contains(err.Error(), "PRIVATE KEY") {
				t.Errorf("the key reached the error: %q", err)
			}
		})
	}
}

// A certificate rotated on disk is served from the next handshake on; a
// pair caught half-way keeps the last good one.
func TestConfigToTLSConfigRotation(t *testing.T) {
	p := newTestPKI(t)
	cfg, err := ConfigToTLSConfig(&TLSConfig{TLSCertPath: p.serverCrt, TLSKeyPath: p.serverKey})
	if err != nil {
		t.Fatal(err)
	}
	base := serveTLSConfig(t, cfg)
	serial := func() string {
		t.Helper()
		resp := mustGet(t, p.httpClient(nil), base, http.StatusOK)
		return resp.TLS.PeerCertificates[0].SerialNumber.String()
	}
	if got := serial(); got != p.server.Cert.SerialNumber.String() {
		t.Fatalf("serial %s, want the first certificate's", got)
	}
	next, err := p.ca.Server(pki.Request{Hosts: []string{"127.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	// The certificate alone: it does not match the key on disk.
	if err := os.WriteFile(p.serverCrt, next.CertPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if got := serial(); got != p.server.Cert.SerialNumber.String() {
		t.Errorf("half a rotation: serial %s, want the last good certificate's", got)
	}
	if err := os.WriteFile(p.serverKey, next.KeyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if got := serial(); got != next.Cert.SerialNumber.String() {
		t.Errorf("after the rotation: serial %s, want the new certificate's", got)
	}
}

// The conversions each way keep every field, and config's defaults.
func TestToolkitConversion(t *testing.T) {
	on := true
	c := config.Config{
		TLS: config.TLSConfig{
			CertFile: "/a.crt", KeyFile: "/a.key", Cert: "C", Key: "K",
			ClientCAFile: "/ca.crt", ClientCA: "CA",
			ClientAuthType:           config.ClientAuthType(tls.RequireAndVerifyClientCert),
			ClientAllowedSANs:        []string{"a", "b"},
			MinVersion:               config.TLSVersion(tls.VersionTLS12),
			MaxVersion:               config.TLSVersion(tls.VersionTLS13),
			CipherSuites:             []config.Cipher{config.Cipher(tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256)},
			CurvePreferences:         []config.Curve{config.Curve(tls.X25519MLKEM768)},
			PreferServerCipherSuites: &on,
		},
		HTTP:      config.HTTPConfig{HTTP2: &on, Headers: map[string]string{"X-Frame-Options": "deny"}},
		Users:     map[string]commoncfg.Secret{"alice": "$2y$10$x"},
		RateLimit: config.RateLimitConfig{Interval: time.Second, Burst: 3},
	}
	w := fromConfig(&c)
	want := Config{
		TLSConfig: TLSConfig{
			TLSCertPath: "/a.crt", TLSKeyPath: "/a.key", TLSCert: "C", TLSKey: "K",
			ClientCAs: "/ca.crt", ClientCAsText: "CA",
			ClientAuth:               "RequireAndVerifyClientCert",
			ClientAllowedSans:        []string{"a", "b"},
			MinVersion:               TLSVersion(tls.VersionTLS12),
			MaxVersion:               TLSVersion(tls.VersionTLS13),
			CipherSuites:             []Cipher{Cipher(tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256)},
			CurvePreferences:         []Curve{Curve(tls.X25519MLKEM768)},
			PreferServerCipherSuites: true,
		},
		HTTPConfig:        HTTPConfig{HTTP2: true, Header: map[string]string{"X-Frame-Options": "deny"}},
		Users:             map[string]commoncfg.Secret{"alice": "$2y$10$x"},
		RateLimiterConfig: RateLimiterConfig{Interval: time.Second, Burst: 3},
	}
	if !reflect.DeepEqual(w, want) {
		t.Fatalf("fromConfig\n%+v\nwant\n%+v", w, want)
	}
	back, err := toConfig(&w)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, c) {
		t.Fatalf("toConfig(fromConfig(c))\n%+v\nwant\n%+v", back, c)
	}

	// The toolkit's zero values: no client auth, HTTP/2 as given (off).
	z, err := toConfig(&Config{})
	if err != nil {
		t.Fatal(err)
	}
	if z.TLS.ClientAuthType.TLS() != tls.NoClientCert || z.HTTP.HTTP2Enabled() || z.TLS.PreferServerCipherSuites != nil {
		t.Errorf("toConfig(zero) = %+v", z)
	}
	if fz := fromConfigTLS(&config.TLSConfig{}); fz.IsEnabled() {
		t.Errorf("fromConfigTLS(zero) is enabled: %+v", fz)
	}
	if _, err := toConfig(&Config{TLSConfig: TLSConfig{ClientAuth: "requireandverifyclientcert"}}); err == nil || !strings.Contains(err.Error(), "case-sensitive") {
		t.Errorf("toConfig with a wrongly cased client auth type: %v", err)
	}
}

// loadConfig holds a Config built in code to the rules of a file: a key
// without a certificate is refused, not dropped as "TLS off".
func TestToolkitLoadConfig(t *testing.T) {
	p := newTestPKI(t)
	c, err := toConfig(&Config{
		TLSConfig:  TLSConfig{TLSCert: string(p.server.CertPEM), TLSKey: commoncfg.Secret(p.server.KeyPEM)},
		HTTPConfig: HTTPConfig{HTTP2: true},
		Users:      map[string]commoncfg.Secret{"alice": commoncfg.Secret(testHash(t, "pw"))},
	})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := loadConfig(c)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.TLSMaterial() == nil || !cfg.TLS.IsEnabled() || len(cfg.Users) != 1 {
		t.Errorf("loaded %+v", cfg)
	}
	c, _ = toConfig(&Config{TLSConfig: TLSConfig{TLSKeyPath: p.serverKey}})
	if _, err := loadConfig(c); err == nil {
		t.Error("a key without a certificate loaded")
	}
	c, _ = toConfig(&Config{Users: map[string]commoncfg.Secret{"bob": "not a hash"}})
	if _, err := loadConfig(c); err == nil || !strings.Contains(err.Error(), "basic_auth_users") || strings.Contains(err.Error(), "not a hash") {
		t.Errorf("a bad hash: %v", err)
	}
}

// The toolkit's sentinel errors come back where it returns them.
func TestToolkitErrors(t *testing.T) {
	srv := &http.Server{}
	if err := ListenAndServe(srv, nil, nil); !errors.Is(err, ErrMissingFlag) {
		t.Errorf("ListenAndServe without flags: %v, want ErrMissingFlag", err)
	}
	if err := Serve(nil, srv, nil, nil); !errors.Is(err, ErrMissingFlag) {
		t.Errorf("Serve without flags: %v, want ErrMissingFlag", err)
	}
	empty := ""
	if err := ServeMultiple(nil, srv, &FlagConfig{WebConfigFile: &empty}, nil); !errors.Is(err, ErrNoListeners) {
		t.Errorf("ServeMultiple without listeners: %v, want ErrNoListeners", err)
	}
	none := []string{}
	if err := ListenAndServe(srv, &FlagConfig{WebListenAddresses: &none, WebConfigFile: &empty}, nil); !errors.Is(err, ErrNoListeners) {
		t.Errorf("ListenAndServe without an address: %v, want ErrNoListeners", err)
	}
}

// A Config built in code, served by a Guard through Load, and changed with
// Update: the same rules as a file.
func TestToolkitConfigServedByGuard(t *testing.T) {
	p := newTestPKI(t)
	users := func(user, password string) map[string]commoncfg.Secret {
		return map[string]commoncfg.Secret{user: commoncfg.Secret(testHash(t, password))}
	}
	c := Config{
		TLSConfig:  TLSConfig{TLSCertPath: p.serverCrt, TLSKeyPath: p.serverKey, ClientCAs: p.caFile, ClientAuth: "RequireAndVerifyClientCert"},
		HTTPConfig: HTTPConfig{HTTP2: true, Header: map[string]string{"X-Frame-Options": "deny"}},
		Users:      users("alice", "a"),
	}
	cfg, err := c.Load()
	if err != nil {
		t.Fatal(err)
	}
	g, err := New(Options{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	base, _ := startServing(t, g)
	client := p.httpClient(p.client)
	resp := mustGet(t, client, base, http.StatusOK, basicAuth("alice", "a"))
	if resp.Proto != "HTTP/2.0" || resp.Header.Get("X-Frame-Options") != "deny" {
		t.Errorf("served %s with X-Frame-Options %q", resp.Proto, resp.Header.Get("X-Frame-Options"))
	}
	mustGet(t, client, base, http.StatusUnauthorized)
	if _, _, err := fetch(t, p.httpClient(nil), base); err == nil {
		t.Error("a client without a certificate was let in")
	}

	// Another user: a change that does not lower security applies at once.
	c.Users = users("bob", "b")
	next, err := c.Load()
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Update(next); err != nil {
		t.Fatal(err)
	}
	mustGet(t, client, base, http.StatusOK, basicAuth("bob", "b"))
	mustGet(t, client, base, http.StatusUnauthorized, basicAuth("alice", "a"))

	// A Config that does not load never reaches the Guard.
	c.TLSConfig.ClientAuth = "RequireClient"
	if _, err := c.Load(); err == nil || !strings.Contains(err.Error(), "tls_server_config.client_auth_type") {
		t.Errorf("Load of a bad client auth type: %v", err)
	}
}

// The zero Config writes YAML that both libraries read back strictly, to
// the zero Config: unset versions are null, not a name nobody accepts.
func TestToolkitZeroConfigYAML(t *testing.T) {
	for name, lib := range map[string]struct {
		marshal   func(any) ([]byte, error)
		unmarshal func([]byte, any) error
	}{
		"yaml.v2": {yamlv2.Marshal, yamlv2.UnmarshalStrict},
		"yaml v3": {yamlv3.Marshal, func(b []byte, v any) error {
			d := yamlv3.NewDecoder(bytes.NewReader(b))
			d.KnownFields(true)
			return d.Decode(v)
		}},
	} {
		var zero, back Config
		out, err := lib.marshal(&zero)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := lib.unmarshal(out, &back); err != nil {
			t.Fatalf("%s: %v reading back\n%s", name, err, out)
		}
		if back.TLSConfig.IsEnabled() || back.TLSConfig.MinVersion != 0 || back.HTTPConfig.HTTP2 || back.RateLimiterConfig.Interval != 0 {
			t.Errorf("%s: read back %+v", name, back)
		}
	}
}
