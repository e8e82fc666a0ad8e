package config_test

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/youmark/pkcs8"

	"github.com/webguard/webguard/config"
	"github.com/webguard/webguard/internal/pki"
)

// fixturePassword encrypts server-enc.key; no error may show it.
const fixturePassword = "correct horse battery staple"

// fixturePKI is the certificates and keys every test directory gets, made
// once per test binary: nothing on disk can expire.
type fixturePKI struct {
	files map[string][]byte // file name (may contain a directory) -> content
	keys  [][]byte          // every private key PEM, which no error may show
	ca    *pki.Cert
}

var loadPKI = sync.OnceValues(func() (*fixturePKI, error) {
	ca, err := pki.NewCA(pki.Request{})
	if err != nil {
		return nil, err
	}
	hosts := []string{"localhost", "127.0.0.1"}
	server, err := ca.Server(pki.Request{Hosts: hosts})
	if err != nil {
		return nil, err
	}
	serverRSA, err := ca.Server(pki.Request{Hosts: hosts, RSABits: 2048})
	if err != nil {
		return nil, err
	}
	other, err := ca.Server(pki.Request{Hosts: hosts})
	if err != nil {
		return nil, err
	}
	expired, err := ca.Server(pki.Request{Hosts: hosts, Validity: -time.Hour})
	if err != nil {
		return nil, err
	}
	encrypted, err := pkcs8.MarshalPrivateKey(server.Key, []byte(fixturePassword), nil)
	if err != nil {
		return nil, err
	}
	encryptedPEM := pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: encrypted})
	garbage := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("not DER at all")})
	otherCA, err := pki.NewCA(pki.Request{CommonName: "other CA"})
	if err != nil {
		return nil, err
	}
	crl, err := ca.CRL(pki.CRLRequest{Revoked: []*x509.Certificate{other.Cert}})
	if err != nil {
		return nil, err
	}
	crl2, err := ca.CRL(pki.CRLRequest{Number: 2})
	if err != nil {
		return nil, err
	}
	otherCRL, err := otherCA.CRL(pki.CRLRequest{})
	if err != nil {
		return nil, err
	}
	f := &fixturePKI{ca: ca, files: map[string][]byte{
		"ca.crt":           ca.CertPEM,
		"server.crt":       server.CertPEM,
		"server.key":       server.KeyPEM,
		"certs/server.crt": server.CertPEM,
		"certs/server.key": server.KeyPEM,
		"server-rsa.crt":   serverRSA.CertPEM,
		"server-rsa.key":   serverRSA.KeyPEM,
		"chain-rsa.crt":    slices.Concat(serverRSA.CertPEM, ca.CertPEM),
		"other.key":        other.KeyPEM,
		"expired.crt":      expired.CertPEM,
		"expired.key":      expired.KeyPEM,
		"empty.pem":        {},
		"notpem.txt":       []byte("this is not PEM\n"),
		"garbage.crt":      garbage,
		"server-enc.key":   encryptedPEM,
		"key.password":     []byte(fixturePassword + "\n"),
		"wrong.password":   []byte("not the password"),
		"ca.crl":           crl.PEM,
		"ca.crl.der":       crl.DER,
		"two.crl":          slices.Concat(crl.PEM, crl2.PEM),
		"other.crl":        otherCRL.PEM,
		"garbage.crl":      pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: []byte("not DER at all")}),
	}}
	f.keys = [][]byte{server.KeyPEM, serverRSA.KeyPEM, other.KeyPEM, expired.KeyPEM}
	return f, nil
})

// fixtureDir returns a new directory holding the fixture PKI.
func fixtureDir(t *testing.T) (string, *fixturePKI) {
	t.Helper()
	p, err := loadPKI()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for name, data := range p.files {
		path := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir, p
}

// placeholder is a line that stands for the content of a fixture file,
// written as a YAML block at the line's indentation.
var placeholder = regexp.MustCompile(`^(\s*)@([\w./-]+)@\s*$`)

// expand turns a testdata file into the file under test: "$DIR" becomes dir
// and placeholder lines become the named fixture file.
func expand(t *testing.T, data []byte, dir string, p *fixturePKI) []byte {
	t.Helper()
	data = bytes.ReplaceAll(data, []byte("$DIR"), []byte(filepath.ToSlash(dir)))
	var out bytes.Buffer
	for line := range strings.Lines(string(data)) {
		m := placeholder.FindStringSubmatch(line)
		if m == nil {
			out.WriteString(line)
			continue
		}
		content, ok := p.files[m[2]]
		if !ok {
			t.Fatalf("placeholder @%s@ names no fixture file", m[2])
		}
		for l := range strings.Lines(string(content)) {
			out.WriteString(m[1] + l)
		}
	}
	return out.Bytes()
}

// located matches a want that starts with a line number; it must follow the
// file name. Other wants match anywhere.
var located = regexp.MustCompile(`^\d+: `)

// wants returns the "# want: ..." lines at the top of a bad case.
func wants(data []byte) []string {
	var ws []string
	for line := range strings.Lines(string(data)) {
		w, ok := strings.CutPrefix(strings.TrimRight(line, "\n"), "# want: ")
		if !ok {
			break
		}
		ws = append(ws, w)
	}
	return ws
}

// hashLike finds bcrypt hashes, and things that almost are, in a file.
var hashLike = regexp.MustCompile(`\$2[a-z]?\$\d\d\$[./A-Za-z0-9]{20,}`)

// assertNoSecrets fails when text shows a private key or a hash from the
// config file.
func assertNoSecrets(t *testing.T, text string, file []byte, p *fixturePKI) {
	t.Helper()
	for _, h := range hashLike.FindAllString(string(file), -1) {
		if strings.Contains(text, h[7:27]) {
			t.Errorf("shows a password hash:\n%s", text)
		}
	}
	if strings.Contains(text, fixturePassword) {
		t.Errorf("shows the key password:\n%s", text)
	}
	for _, k := range p.keys {
		b, _ := pem.Decode(k)
		body := strings.Split(string(k), "\n")[1] // the first base64 line
		if strings.Contains(text, body) || bytes.Contains([]byte(text), b.Bytes[:16]) {
			t.Errorf("shows a private key:\n%s", text)
		}
	}
}

// goodChecks assert what a good case means, beyond loading.
var goodChecks = map[string]func(t *testing.T, c *config.Config, dir string){
	"empty_file.good.yml": func(t *testing.T, c *config.Config, dir string) {
		assertDefaults(t, c)
	},
	"comments_only.good.yml": func(t *testing.T, c *config.Config, dir string) {
		assertDefaults(t, c)
	},
	"document_marker_only.good.yml": func(t *testing.T, c *config.Config, dir string) {
		assertDefaults(t, c)
	},
	"null_sections.good.yml": func(t *testing.T, c *config.Config, dir string) {
		assertDefaults(t, c)
	},
	"empty_strings_mean_unset.good.yml": func(t *testing.T, c *config.Config, dir string) {
		assertDefaults(t, c)
		if c.TLS.ClientAuthType.TLS() != tls.NoClientCert {
			t.Errorf("client_auth_type %v, want NoClientCert", c.TLS.ClientAuthType)
		}
	},
	"tls_cert_and_key_files.good.yml": func(t *testing.T, c *config.Config, dir string) {
		if !c.TLS.IsEnabled() {
			t.Fatal("TLS off")
		}
		m := c.TLSMaterial()
		if m == nil || m.Certificate.Leaf == nil || len(m.Certificate.Certificate) != 1 || m.ClientCAs != nil {
			t.Fatalf("material %+v", m)
		}
		want := []string{filepath.Join(dir, "tls_cert_and_key_files.good.yml"), filepath.Join(dir, "server.crt"), filepath.Join(dir, "server.key")}
		if got := c.Files(); !slices.Equal(got, want) {
			t.Errorf("Files() = %q, want %q", got, want)
		}
		if c.TLS.MinVersion != config.TLSVersion(tls.VersionTLS12) || c.TLS.MaxVersion != config.TLSVersion(tls.VersionTLS13) {
			t.Errorf("versions %v..%v, want TLS12..TLS13", c.TLS.MinVersion, c.TLS.MaxVersion)
		}
		if c.TLS.PreferServerCipherSuites == nil || !*c.TLS.PreferServerCipherSuites || !c.HTTP.HTTP2Enabled() {
			t.Error("prefer_server_cipher_suites and http2 should default to true")
		}
	},
	"tls_inline_cert_and_key.good.yml": func(t *testing.T, c *config.Config, dir string) {
		if !c.TLS.IsEnabled() || c.TLSMaterial() == nil || c.TLSMaterial().Certificate.Leaf == nil {
			t.Fatal("inline certificate not loaded")
		}
		if len(c.Files()) != 1 {
			t.Errorf("Files() = %q, want only the config file", c.Files())
		}
	},
	"tls_paths_relative_to_config_dir.good.yml": func(t *testing.T, c *config.Config, dir string) {
		for _, p := range []string{c.TLS.CertFile, c.TLS.KeyFile, c.TLS.ClientCAFile} {
			if !filepath.IsAbs(p) || !strings.HasPrefix(p, dir) {
				t.Errorf("path %q not resolved against %s", p, dir)
			}
		}
		if c.TLS.ClientCAFile != filepath.Join(dir, "ca.crt") {
			t.Errorf("client_ca_file = %q", c.TLS.ClientCAFile)
		}
		if len(c.TLSMaterial().ClientCACerts) != 1 {
			t.Errorf("client CAs: %d", len(c.TLSMaterial().ClientCACerts))
		}
	},
	"tls_cert_chain_rsa.good.yml": func(t *testing.T, c *config.Config, dir string) {
		if n := len(c.TLSMaterial().Certificate.Certificate); n != 2 {
			t.Errorf("chain of %d certificates, want 2", n)
		}
	},
	"tls_expired_certificate_accepted.good.yml": func(t *testing.T, c *config.Config, dir string) {
		if leaf := c.TLSMaterial().Certificate.Leaf; !leaf.NotAfter.Before(time.Now()) {
			t.Errorf("certificate not expired: %v", leaf.NotAfter)
		}
	},
	"mtls_require_and_verify_with_allowed_sans.good.yml": func(t *testing.T, c *config.Config, dir string) {
		a := c.TLS.ClientAuthType
		if a.TLS() != tls.RequireAndVerifyClientCert || !a.Verifies() || !a.Requires() {
			t.Errorf("client_auth_type %v", a)
		}
		if len(c.TLS.ClientAllowedSANs) != 4 || c.TLSMaterial().ClientCAs == nil {
			t.Errorf("sans %q, pool %v", c.TLS.ClientAllowedSANs, c.TLSMaterial().ClientCAs)
		}
		if got := c.Files(); len(got) != 4 || got[3] != filepath.Join(dir, "ca.crt") {
			t.Errorf("Files() = %q", got)
		}
	},
	"mtls_inline_client_ca.good.yml": func(t *testing.T, c *config.Config, dir string) {
		p, _ := loadPKI()
		certs := c.TLSMaterial().ClientCACerts
		if len(certs) != 1 || !certs[0].Equal(p.ca.Cert) {
			t.Errorf("client CAs %v", certs)
		}
	},
	"client_auth_legacy_require_client_cert.good.yml": func(t *testing.T, c *config.Config, dir string) {
		if c.TLS.ClientAuthType.TLS() != tls.RequireAnyClientCert || c.TLS.ClientAuthType.String() != "RequireAnyClientCert" {
			t.Errorf("RequireClientCert read as %v", c.TLS.ClientAuthType)
		}
	},
	"client_auth_request_client_cert.good.yml": func(t *testing.T, c *config.Config, dir string) {
		if a := c.TLS.ClientAuthType; a.TLS() != tls.RequestClientCert || a.Verifies() || a.Requires() {
			t.Errorf("client_auth_type %v", a)
		}
	},
	"client_auth_verify_if_given_without_ca.good.yml": func(t *testing.T, c *config.Config, dir string) {
		if a := c.TLS.ClientAuthType; a.TLS() != tls.VerifyClientCertIfGiven || !a.Verifies() || a.Requires() {
			t.Errorf("client_auth_type %v", a)
		}
	},
	"cipher_suites_all_allowed.good.yml": func(t *testing.T, c *config.Config, dir string) {
		if len(c.TLS.CipherSuites) != len(tls.CipherSuites()) {
			t.Errorf("%d suites, want %d", len(c.TLS.CipherSuites), len(tls.CipherSuites()))
		}
	},
	"cipher_suites_tls12_only_no_server_order.good.yml": func(t *testing.T, c *config.Config, dir string) {
		want := []config.Cipher{config.Cipher(tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384), config.Cipher(tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256)}
		if !slices.Equal(c.TLS.CipherSuites, want) {
			t.Errorf("cipher suites %v, want %v (in file order)", c.TLS.CipherSuites, want)
		}
		if *c.TLS.PreferServerCipherSuites || c.TLS.MaxVersion != config.TLSVersion(tls.VersionTLS12) {
			t.Error("prefer_server_cipher_suites or max_version not read")
		}
	},
	"cipher_suites_without_aes128_http2_off.good.yml": func(t *testing.T, c *config.Config, dir string) {
		if c.HTTP.HTTP2Enabled() {
			t.Error("http2 on")
		}
	},
	"curve_preferences_all.good.yml": func(t *testing.T, c *config.Config, dir string) {
		want := []config.Curve{config.Curve(tls.X25519MLKEM768), config.Curve(tls.X25519), config.Curve(tls.CurveP256), config.Curve(tls.CurveP384), config.Curve(tls.CurveP521)}
		if !slices.Equal(c.TLS.CurvePreferences, want) {
			t.Errorf("curves %v, want %v", c.TLS.CurvePreferences, want)
		}
	},
	"versions_tls10_to_tls11.good.yml": func(t *testing.T, c *config.Config, dir string) {
		if c.TLS.MinVersion != config.TLSVersion(tls.VersionTLS10) || c.TLS.MaxVersion != config.TLSVersion(tls.VersionTLS11) {
			t.Errorf("versions %v..%v", c.TLS.MinVersion, c.TLS.MaxVersion)
		}
	},
	"http2_disabled_plain_http.good.yml": func(t *testing.T, c *config.Config, dir string) {
		if c.HTTP.HTTP2Enabled() || c.TLS.IsEnabled() {
			t.Error("http2 on or TLS on")
		}
	},
	"headers_all_allowed.good.yml": func(t *testing.T, c *config.Config, dir string) {
		want := map[string]string{
			"Content-Security-Policy":   "default-src 'self'",
			"X-Frame-Options":           "deny",
			"X-Content-Type-Options":    "nosniff",
			"X-XSS-Protection":          "1; mode=block",
			"Strict-Transport-Security": "max-age=31536000; includeSubDomains",
		}
		if !reflect.DeepEqual(c.HTTP.Headers, want) {
			t.Errorf("headers %q, want %q", c.HTTP.Headers, want)
		}
	},
	"headers_sameorigin_and_blank_unset.good.yml": func(t *testing.T, c *config.Config, dir string) {
		if want := map[string]string{"X-Frame-Options": "sameorigin"}; !reflect.DeepEqual(c.HTTP.Headers, want) {
			t.Errorf("headers %q, want %q (blank values unset)", c.HTTP.Headers, want)
		}
	},
	"headers_folded_long_value.good.yml": func(t *testing.T, c *config.Config, dir string) {
		want := "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'"
		if got := c.HTTP.Headers["Content-Security-Policy"]; got != want {
			t.Errorf("Content-Security-Policy %q, want %q", got, want)
		}
	},
	"basic_auth_users_without_tls.good.yml": func(t *testing.T, c *config.Config, dir string) {
		if len(c.Users) != 4 || c.TLS.IsEnabled() {
			t.Errorf("%d users, TLS %v", len(c.Users), c.TLS.IsEnabled())
		}
	},
	"basic_auth_users_with_tls.good.yml": func(t *testing.T, c *config.Config, dir string) {
		if _, ok := c.Users["user with spaces"]; !ok || len(c.Users) != 2 {
			t.Errorf("users %v", slices.Sorted(maps.Keys(c.Users)))
		}
	},
	"rate_limit_interval_and_burst.good.yml": func(t *testing.T, c *config.Config, dir string) {
		if c.RateLimit.Interval != time.Second || c.RateLimit.Burst != 20 || !c.RateLimit.Enabled() {
			t.Errorf("rate limit %+v", c.RateLimit)
		}
	},
	"rate_limit_zero_interval_disables.good.yml": func(t *testing.T, c *config.Config, dir string) {
		if c.RateLimit.Enabled() || c.RateLimit.Burst != 5 {
			t.Errorf("rate limit %+v", c.RateLimit)
		}
	},
	"rate_limit_interval_without_burst.good.yml": func(t *testing.T, c *config.Config, dir string) {
		if c.RateLimit.Interval != 250*time.Millisecond || c.RateLimit.Burst != 0 || !c.RateLimit.Enabled() {
			t.Errorf("rate limit %+v", c.RateLimit)
		}
	},
	"yaml_merge_key.good.yml": func(t *testing.T, c *config.Config, dir string) {
		if c.RateLimit.Interval != time.Second || c.RateLimit.Burst != 3 || c.HTTP.Headers["X-Frame-Options"] != "deny" {
			t.Errorf("rate limit %+v, headers %q", c.RateLimit, c.HTTP.Headers)
		}
	},
	"yaml_anchor_reused_value.good.yml": func(t *testing.T, c *config.Config, dir string) {
		if !slices.Equal(c.TLS.ClientAllowedSANs, []string{"server.crt"}) {
			t.Errorf("sans %q", c.TLS.ClientAllowedSANs)
		}
	},
}

func assertDefaults(t *testing.T, c *config.Config) {
	t.Helper()
	if c.TLS.IsEnabled() || c.TLSMaterial() != nil {
		t.Error("TLS on")
	}
	if len(c.Users) != 0 || len(c.HTTP.Headers) != 0 || c.RateLimit.Enabled() {
		t.Errorf("users %d, headers %q, rate limit %+v", len(c.Users), c.HTTP.Headers, c.RateLimit)
	}
	if !c.HTTP.HTTP2Enabled() || c.TLS.MinVersion != config.TLSVersion(tls.VersionTLS12) || c.TLS.MaxVersion != config.TLSVersion(tls.VersionTLS13) {
		t.Errorf("defaults: http2 %v, versions %v..%v", c.HTTP.HTTP2Enabled(), c.TLS.MinVersion, c.TLS.MaxVersion)
	}
	if c.TLS.PreferServerCipherSuites == nil || !*c.TLS.PreferServerCipherSuites {
		t.Error("prefer_server_cipher_suites default not true")
	}
	if len(c.Files()) != 1 || c.Files()[0] != c.Path() {
		t.Errorf("Files() = %q, want [%s]", c.Files(), c.Path())
	}
}

// TestTestdata loads every testdata/<case>.good.yml, which must load, and
// every testdata/<case>.bad.yml, which must fail with the errors its
// "# want:" lines give: "LINE: FIELD: message" matched right after the file
// name, or any other text matched anywhere, with file paths written relative
// to the case's directory.
// Each case runs in its own directory next to a fresh copy of the fixture
// PKI.
func TestTestdata(t *testing.T) {
	files, err := filepath.Glob("testdata/*.yml")
	if err != nil {
		t.Fatal(err)
	}
	var good, bad int
	for _, src := range files {
		name := filepath.Base(src)
		switch {
		case strings.HasSuffix(name, ".good.yml"):
			good++
		case strings.HasSuffix(name, ".bad.yml"):
			bad++
		default:
			t.Errorf("%s: name a case <what>.good.yml or <what>.bad.yml", src)
			continue
		}
		t.Run(strings.TrimSuffix(name, ".yml"), func(t *testing.T) {
			raw, err := os.ReadFile(src)
			if err != nil {
				t.Fatal(err)
			}
			dir, p := fixtureDir(t)
			data := expand(t, raw, dir, p)
			path := filepath.Join(dir, name)
			if err := os.WriteFile(path, data, 0o600); err != nil {
				t.Fatal(err)
			}
			c, err := config.Load(path)
			if strings.HasSuffix(name, ".good.yml") {
				if err != nil {
					t.Fatalf("want no error, got:\n%v", err)
				}
				if c.Path() != path {
					t.Errorf("Path() = %q, want %q", c.Path(), path)
				}
				if check := goodChecks[name]; check != nil {
					check(t, c, dir)
				}
				out, err := yaml.Marshal(c)
				if err != nil {
					t.Fatal(err)
				}
				assertNoSecrets(t, string(out), data, p)
				// What a config marshals to loads again, secrets aside.
				if c.TLS.Key == "" && len(c.Users) == 0 {
					if _, err := config.Parse(out, dir); err != nil {
						t.Errorf("marshalled config does not load: %v\n%s", err, out)
					}
				}
				return
			}
			ws := wants(raw)
			if len(ws) == 0 {
				t.Fatal(`a bad case needs a first line "# want: LINE: FIELD: message"`)
			}
			if err == nil {
				t.Fatalf("want an error, got none")
			}
			// Paths in messages are those of the fixture directory; the
			// wants name files relative to it.
			msg := strings.ReplaceAll(err.Error(), dir+string(filepath.Separator), "")
			for _, w := range ws {
				if located.MatchString(w) {
					w = name + ":" + w
				}
				if !strings.Contains(msg, w) {
					t.Errorf("error does not contain %q:\n%s", w, msg)
				}
			}
			var ce *config.Error
			if !errors.As(err, &ce) || ce.File != path || ce.Line == 0 {
				t.Errorf("want a *config.Error with file %s and a line, got %#v", path, ce)
			}
			assertNoSecrets(t, msg, data, p)
		})
	}
	if good < 20 || bad < 20 {
		t.Errorf("%d good and %d bad cases; want at least 20 of each", good, bad)
	}
}

// TestTestdataCoversEveryField checks that some case writes each field of
// the format, and each allowed header.
func TestTestdataCoversEveryField(t *testing.T) {
	files, err := filepath.Glob("testdata/*.yml")
	if err != nil {
		t.Fatal(err)
	}
	var all strings.Builder
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		all.Write(b)
	}
	text := all.String()
	var keys []string
	var collect func(reflect.Type)
	collect = func(rt reflect.Type) {
		for i := range rt.NumField() {
			f := rt.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if name == "" || name == "-" {
				continue
			}
			keys = append(keys, name)
			if f.Type.Kind() == reflect.Struct && f.Type.PkgPath() == rt.PkgPath() {
				collect(f.Type)
			}
		}
	}
	collect(reflect.TypeOf(config.Config{}))
	keys = append(keys, "Content-Security-Policy", "X-Frame-Options", "X-Content-Type-Options", "X-XSS-Protection", "Strict-Transport-Security")
	for _, k := range keys {
		if !regexp.MustCompile(`(?m)^\s*"?` + regexp.QuoteMeta(k) + `"?\s*:`).MatchString(text) {
			t.Errorf("no testdata case sets %s", k)
		}
	}
}
