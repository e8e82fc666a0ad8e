package config_test

import (
	"crypto/tls"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/webguard/webguard/bcrypt"
	"github.com/webguard/webguard/config"
)

// writeConfig writes a web.yml into a fresh fixture directory and returns
// its path.
func writeConfig(t *testing.T, body string) (string, *fixturePKI) {
	t.Helper()
	dir, p := fixtureDir(t)
	path := filepath.Join(dir, "web.yml")
	if err := os.WriteFile(path, expand(t, []byte(body), dir, p), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, p
}

func TestSecretsNotMarshalled(t *testing.T) {
	hash, err := bcrypt.Hash([]byte("s3cret"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	path, p := writeConfig(t, `tls_server_config:
  cert: |
    @server.crt@
  key: |
    @server.key@
basic_auth_users:
  alice: `+string(hash)+`
  bob: `+string(hash)+`
`)
	c, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(c.TLS.Key) != string(p.files["server.key"]) || string(c.Users["alice"]) != string(hash) {
		t.Fatal("the loaded config should hold the key and hashes themselves")
	}
	out, err := yaml.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	text := string(out)
	if strings.Contains(text, "PRIVATE KEY") || strings.Contains(text, string(hash)) || strings.Contains(text, string(hash[7:29])) {
		t.Fatalf("marshalled config shows a secret:\n%s", text)
	}
	if n := strings.Count(text, "<secret>"); n != 3 {
		t.Errorf("want the key and both hashes as <secret>, got %d:\n%s", n, text)
	}
	if !strings.Contains(text, "BEGIN CERTIFICATE") {
		t.Errorf("the certificate is not secret and should be kept:\n%s", text)
	}
	assertNoSecrets(t, text, []byte(hash), p)
}

// TestErrorsNeverShowSecrets puts hashes and an inline key where they do not
// belong, or next to other mistakes, and checks that no error shows them.
func TestErrorsNeverShowSecrets(t *testing.T) {
	hash, err := bcrypt.Hash([]byte("s3cret"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	h := string(hash)
	for name, body := range map[string]string{
		"hash as section":         "rate_limit: " + h + "\n",
		"hash as users":           "basic_auth_users: " + h + "\n",
		"hash as http2":           "http_server_config:\n  http2: " + h + "\n",
		"hash as burst":           "rate_limit:\n  burst: " + h + "\n",
		"hash as version":         "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  min_version: " + h + "\n",
		"hash as auth type":       "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  client_auth_type: " + h + "\n",
		"hash as header":          "http_server_config:\n  headers:\n    X-Frame-Options: " + h + "\n",
		"hash as interval":        "rate_limit:\n  interval: " + h + "\n",
		"hash as list":            "basic_auth_users:\n  - " + h + "\n",
		"hash as user name":       "basic_auth_users:\n  " + h + ": x\n",
		"hash one char short":     "basic_auth_users:\n  alice: " + h[:59] + "\n",
		"hash bad char":           "basic_auth_users:\n  alice: " + h[:59] + "!\n",
		"hash wrong prefix":       "basic_auth_users:\n  alice: $3" + h[2:] + "\n",
		"hash as a mapping":       "basic_auth_users:\n  alice:\n    hash: " + h + "\n",
		"key without cert":        "tls_server_config:\n  key: |\n    @server.key@\n",
		"key as cert":             "tls_server_config:\n  cert: |\n    @server.key@\n  key: |\n    @server.key@\n",
		"key not matching":        "tls_server_config:\n  cert_file: server.crt\n  key: |\n    @other.key@\n",
		"key and key file":        "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  key: |\n    @server.key@\n",
		"key as client CA":        "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  client_auth_type: RequireAndVerifyClientCert\n  client_ca: |\n    @server.key@\n",
		"key as SAN list":         "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  client_auth_type: RequireAndVerifyClientCert\n  client_allowed_sans: |\n    @server.key@\n",
		"key as section":          "http_server_config: |\n  @server.key@\n",
		"key with bad indent":     "tls_server_config:\n  cert_file: server.crt\n  key: |\n    @server.key@\n   oops: 1\n",
		"key with unknown option": "tls_server_config:\n  cert_file: server.crt\n  key: |\n    @server.key@\n  min_versoin: TLS12\n",
		"key as cipher":           "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  cipher_suites:\n    - |\n      @server.key@\n",
	} {
		t.Run(name, func(t *testing.T) {
			path, p := writeConfig(t, body)
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			_, err = config.Load(path)
			if err == nil {
				t.Fatal("want an error")
			}
			assertNoSecrets(t, err.Error(), data, p)
			if strings.Contains(err.Error(), h[7:27]) {
				t.Errorf("error shows the hash: %v", err)
			}
			// Nothing reachable by unwrapping shows one either.
			var ce *config.Error
			for e := range allErrors(err) {
				if errors.As(e, &ce) && ce.Err != nil {
					assertNoSecrets(t, ce.Err.Error(), data, p)
				}
			}
		})
	}
}

// allErrors yields err and every error it wraps.
func allErrors(err error) func(func(error) bool) {
	return func(yield func(error) bool) {
		var walk func(error) bool
		walk = func(e error) bool {
			if e == nil {
				return true
			}
			if !yield(e) {
				return false
			}
			switch u := e.(type) {
			case interface{ Unwrap() []error }:
				for _, x := range u.Unwrap() {
					if !walk(x) {
						return false
					}
				}
			case interface{ Unwrap() error }:
				return walk(u.Unwrap())
			}
			return true
		}
		walk(err)
	}
}

func TestLoadMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "web.yml")
	_, err := config.Load(path)
	var ce *config.Error
	if !errors.As(err, &ce) || ce.File != path || !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("want a *config.Error for %s wrapping fs.ErrNotExist, got %v", path, err)
	}
	if want := path + ": cannot read config file: no such file or directory"; err.Error() != want {
		t.Errorf("got %q, want %q", err, want)
	}
}

func TestParseWithoutName(t *testing.T) {
	dir, _ := fixtureDir(t)
	c, err := config.Parse([]byte("tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"), dir)
	if err != nil {
		t.Fatal(err)
	}
	if c.Path() != "" || c.TLS.CertFile != filepath.Join(dir, "server.crt") || c.TLSMaterial() == nil {
		t.Errorf("path %q, cert %q", c.Path(), c.TLS.CertFile)
	}
	if got := c.Files(); len(got) != 2 || got[0] != filepath.Join(dir, "server.crt") {
		t.Errorf("Files() = %q, want cert and key only", got)
	}
	_, err = config.Parse([]byte("\nrate_limit:\n  burst: -1\n"), dir)
	if err == nil || err.Error() != "line 3: rate_limit.burst: negative burst -1 (want 0 or more)" {
		t.Errorf("got %v", err)
	}
}

func TestParseNamed(t *testing.T) {
	c, err := config.ParseNamed([]byte("http_server_config:\n  http2: false\n"), "inline.yml", "")
	if err != nil || c.Path() != "" || c.HTTP.HTTP2Enabled() {
		t.Fatalf("got %v, %v", c, err)
	}
	_, err = config.ParseNamed([]byte("http_server_config:\n  http3: false\n"), "inline.yml", "")
	if err == nil || !strings.HasPrefix(err.Error(), "inline.yml:2: http_server_config.http3: unknown field") {
		t.Errorf("got %v", err)
	}
}

func TestErrorFormat(t *testing.T) {
	for _, tc := range []struct {
		err  config.Error
		want string
	}{
		{config.Error{File: "web.yml", Line: 7, Field: "tls_server_config.client_auth_type", Msg: "bad"}, "web.yml:7: tls_server_config.client_auth_type: bad"},
		{config.Error{File: "web.yml", Field: "f", Msg: "bad"}, "web.yml: f: bad"},
		{config.Error{File: "web.yml", Msg: "bad"}, "web.yml: bad"},
		{config.Error{Line: 3, Msg: "bad"}, "line 3: bad"},
		{config.Error{Msg: "bad"}, "bad"},
	} {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("got %q, want %q", got, tc.want)
		}
	}
}

func TestSeveralErrorsJoined(t *testing.T) {
	_, err := config.Parse([]byte("http_server_config:\n  headers:\n    Content-Type: x\n    X-Frame-Options: DENY\nrate_limit:\n  burst: -1\n"), "")
	if err == nil {
		t.Fatal("want errors")
	}
	joined, ok := err.(interface{ Unwrap() []error })
	if !ok || len(joined.Unwrap()) != 3 {
		t.Fatalf("want 3 joined errors, got %v", err)
	}
	var ce *config.Error
	if !errors.As(err, &ce) || ce.Line != 3 || ce.Field != `http_server_config.headers["Content-Type"]` {
		t.Errorf("errors.As found %+v, want the first problem", ce)
	}
}

func TestClientAuthTypeNames(t *testing.T) {
	for _, tc := range []struct {
		name              string
		want              tls.ClientAuthType
		canonical         string
		verifies, require bool
	}{
		{"NoClientCert", tls.NoClientCert, "NoClientCert", false, false},
		{"RequestClientCert", tls.RequestClientCert, "RequestClientCert", false, false},
		{"RequireAnyClientCert", tls.RequireAnyClientCert, "RequireAnyClientCert", false, true},
		{"RequireClientCert", tls.RequireAnyClientCert, "RequireAnyClientCert", false, true},
		{"VerifyClientCertIfGiven", tls.VerifyClientCertIfGiven, "VerifyClientCertIfGiven", true, false},
		{"RequireAndVerifyClientCert", tls.RequireAndVerifyClientCert, "RequireAndVerifyClientCert", true, true},
	} {
		var a config.ClientAuthType
		if err := yaml.Unmarshal([]byte(tc.name), &a); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if a.TLS() != tc.want || a.String() != tc.canonical || a.Verifies() != tc.verifies || a.Requires() != tc.require {
			t.Errorf("%s: got %v (%d), verifies %v, requires %v", tc.name, a, a.TLS(), a.Verifies(), a.Requires())
		}
		out, err := yaml.Marshal(a)
		if err != nil || strings.TrimSpace(string(out)) != tc.canonical {
			t.Errorf("%s: marshals as %q, %v", tc.name, out, err)
		}
	}
}

// TestMarshalRoundTrip checks that a loaded config written back as YAML
// loads again with the same meaning (secrets aside).
func TestMarshalRoundTrip(t *testing.T) {
	path, _ := writeConfig(t, `tls_server_config:
  cert_file: server.crt
  key_file: server.key
  client_ca_file: ca.crt
  client_auth_type: RequireClientCert
  client_allowed_sans: [a.example.org]
  min_version: TLS13
  cipher_suites: [TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384]
  curve_preferences: [X25519MLKEM768, CurveP384]
  prefer_server_cipher_suites: false
http_server_config:
  http2: false
  headers: {X-Frame-Options: sameorigin}
rate_limit: {interval: 1m30s, burst: 3}
`)
	c1, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	out, err := yaml.Marshal(c1)
	if err != nil {
		t.Fatal(err)
	}
	c2, err := config.Parse(out, filepath.Dir(path))
	if err != nil {
		t.Fatalf("%v in:\n%s", err, out)
	}
	a, b := c1.TLS, c2.TLS
	if a.ClientAuthType != b.ClientAuthType || a.MinVersion != b.MinVersion || a.MaxVersion != b.MaxVersion ||
		a.CertFile != b.CertFile || a.ClientCAFile != b.ClientCAFile || *a.PreferServerCipherSuites != *b.PreferServerCipherSuites ||
		len(b.CipherSuites) != 1 || a.CipherSuites[0] != b.CipherSuites[0] ||
		len(b.CurvePreferences) != 2 || a.CurvePreferences[1] != b.CurvePreferences[1] ||
		c2.HTTP.HTTP2Enabled() || c2.HTTP.Headers["X-Frame-Options"] != "sameorigin" || c2.RateLimit != c1.RateLimit {
		t.Errorf("round trip changed the config:\n%s", out)
	}
}
