package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/webguard/webguard/bcrypt"
	"github.com/webguard/webguard/config"
	"github.com/webguard/webguard/internal/pki"
)

// warnFixture is a directory holding a CA, a server certificate and the
// files a test case writes next to them.
type warnFixture struct {
	t   *testing.T
	dir string
	ca  *pki.Cert
}

func newWarnFixture(t *testing.T) *warnFixture {
	t.Helper()
	ca, err := pki.NewCA(pki.Request{})
	if err != nil {
		t.Fatal(err)
	}
	f := &warnFixture{t: t, dir: t.TempDir(), ca: ca}
	f.server("server", pki.Request{Hosts: []string{"localhost", "127.0.0.1"}})
	if err := ca.WriteFiles(filepath.Join(f.dir, "ca.crt"), ""); err != nil {
		t.Fatal(err)
	}
	return f
}

// server writes NAME.crt and NAME.key (mode 0600) signed by the fixture's CA.
func (f *warnFixture) server(name string, r pki.Request) {
	f.t.Helper()
	c, err := f.ca.Server(r)
	if err != nil {
		f.t.Fatal(err)
	}
	if err := c.WriteFiles(filepath.Join(f.dir, name+".crt"), filepath.Join(f.dir, name+".key")); err != nil {
		f.t.Fatal(err)
	}
}

func (f *warnFixture) hash(cost int) string {
	f.t.Helper()
	h, err := bcrypt.Hash([]byte("secret"), cost)
	if err != nil {
		f.t.Fatal(err)
	}
	return string(h)
}

const warnTLS = `tls_server_config:
  cert_file: server.crt
  key_file: server.key
`

const warnMTLS = warnTLS + `  client_ca_file: ca.crt
  client_auth_type: RequireAndVerifyClientCert
`

func TestWarnings(t *testing.T) {
	type want struct {
		field string
		line  int
		msg   string // a substring of Msg
	}
	tests := []struct {
		name  string
		setup func(f *warnFixture) string // writes extra files, returns web.yml
		want  []want
	}{
		{
			name:  "empty file",
			setup: func(*warnFixture) string { return "" },
			want:  []want{{"", 0, "serves plain HTTP to anyone"}},
		},
		{
			name:  "headers only",
			setup: func(*warnFixture) string { return "http_server_config:\n  headers:\n    X-Frame-Options: deny\n" },
			want:  []want{{"", 0, "serves plain HTTP to anyone"}},
		},
		{
			name: "extension keys",
			setup: func(f *warnFixture) string {
				return warnTLS + "http_server_config:\n  unauthenticated_paths: [/-/healthy]\nbasic_auth_users:\n  alice: " + f.hash(10) + "\n"
			},
			want: []want{{"http_server_config.unauthenticated_paths", 5, "unauthenticated_paths is a webguard extension: exporter-toolkit v0.20.0 and Prometheus refuse the file"}},
		},
		{
			name:  "key_password_file with a key that is not encrypted",
			setup: func(*warnFixture) string { return warnTLS + "  key_password_file: server.key\n" },
			want: []want{
				{"tls_server_config.key_password_file", 4, "the private key is not encrypted, so key_password_file is not used"},
				{"tls_server_config.key_password_file", 4, "key_password_file is a webguard extension"},
			},
		},
		{
			name:  "post-quantum curve",
			setup: func(*warnFixture) string { return warnTLS + "  curve_preferences: [X25519, X25519MLKEM768]\n" },
			want:  []want{{"tls_server_config.curve_preferences[1]", 4, "X25519MLKEM768 is unknown to exporter-toolkit v0.20.0 and Prometheus"}},
		},
		{
			name:  "mutual TLS and users at cost 10",
			setup: func(f *warnFixture) string { return warnMTLS + "basic_auth_users:\n  alice: " + f.hash(10) + "\n" },
		},
		{
			name:  "basic auth without TLS",
			setup: func(f *warnFixture) string { return "basic_auth_users:\n  alice: " + f.hash(10) + "\n" },
			want:  []want{{"basic_auth_users", 1, "clear text"}},
		},
		{
			name: "low bcrypt cost",
			setup: func(f *warnFixture) string {
				return warnTLS + "basic_auth_users:\n  alice: " + f.hash(10) + "\n  bob: " + f.hash(4) + "\n"
			},
			want: []want{{`basic_auth_users["bob"]`, 6, "bcrypt cost 4 is below 10"}},
		},
		{
			name: "client CA with RequestClientCert",
			setup: func(*warnFixture) string {
				return warnTLS + "  client_ca_file: ca.crt\n  client_auth_type: RequestClientCert\n"
			},
			want: []want{{"tls_server_config.client_auth_type", 5, "webguard verifies client certificates against it (as VerifyClientCertIfGiven), but exporter-toolkit and Go do not"}},
		},
		{
			name:  "RequireAnyClientCert without CA",
			setup: func(*warnFixture) string { return warnTLS + "  client_auth_type: RequireAnyClientCert\n" },
			want:  []want{{"tls_server_config.client_auth_type", 4, "does not verify client certificates"}},
		},
		{
			name: "legacy RequireClientCert with CA",
			setup: func(*warnFixture) string {
				return warnTLS + "  client_auth_type: RequireClientCert\n  client_ca_file: ca.crt\n"
			},
			want: []want{{"tls_server_config.client_auth_type", 4, "RequireAnyClientCert with a client CA: webguard verifies"}},
		},
		{
			name: "client_allowed_sans with VerifyClientCertIfGiven",
			setup: func(f *warnFixture) string {
				return warnTLS + "  client_ca_file: ca.crt\n  client_auth_type: VerifyClientCertIfGiven\n  client_allowed_sans: [a.example.org]\n"
			},
			want: []want{{"tls_server_config.client_allowed_sans", 6, "with client_auth_type VerifyClientCertIfGiven, a client without a certificate is refused at the handshake"}},
		},
		{
			name: "client_allowed_san_patterns with RequestClientCert",
			setup: func(*warnFixture) string {
				return warnTLS + "  client_ca_file: ca.crt\n  client_auth_type: RequestClientCert\n  client_allowed_san_patterns: ['*.example.org']\n"
			},
			want: []want{
				{"tls_server_config.client_auth_type", 5, "as VerifyClientCertIfGiven"},
				{"tls_server_config.client_allowed_san_patterns", 6, "with client_auth_type RequestClientCert, a client without a certificate is refused at the handshake"},
				{"tls_server_config.client_allowed_san_patterns", 6, "client_allowed_san_patterns is a webguard extension"},
			},
		},
		{
			name: "client CRL past its next update",
			setup: func(f *warnFixture) string {
				crl, err := f.ca.CRL(pki.CRLRequest{ThisUpdate: time.Now().Add(-48 * time.Hour), NextUpdate: time.Now().Add(-24 * time.Hour)})
				if err != nil {
					f.t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(f.dir, "ca.crl"), crl.PEM, 0o644); err != nil {
					f.t.Fatal(err)
				}
				return warnMTLS + "  client_crl_file: ca.crl\n"
			},
			want: []want{
				{"tls_server_config.client_crl_file", 6, `the revocation list of "webguard CA" was due for renewal on`},
				{"tls_server_config.client_crl_file", 6, "client_crl_file is a webguard extension"},
			},
		},
		{
			name:  "RequireAndVerifyClientCert without CA",
			setup: func(*warnFixture) string { return warnTLS + "  client_auth_type: RequireAndVerifyClientCert\n" },
			want:  []want{{"tls_server_config.client_auth_type", 4, "system's root CAs"}},
		},
		{
			name: "VerifyClientCertIfGiven without CA",
			setup: func(f *warnFixture) string {
				return warnTLS + "  client_auth_type: VerifyClientCertIfGiven\nbasic_auth_users:\n  alice: " + f.hash(10) + "\n"
			},
			want: []want{{"tls_server_config.client_auth_type", 4, "system's root CAs"}},
		},
		{
			name: "VerifyClientCertIfGiven with CA and no users",
			setup: func(*warnFixture) string {
				return warnTLS + "  client_ca_file: ca.crt\n  client_auth_type: VerifyClientCertIfGiven\n"
			},
			want: []want{{"tls_server_config.client_auth_type", 5, "not authenticated at all"}},
		},
		{
			name: "VerifyClientCertIfGiven with CA and users",
			setup: func(f *warnFixture) string {
				return warnTLS + "  client_ca_file: ca.crt\n  client_auth_type: VerifyClientCertIfGiven\nbasic_auth_users:\n  alice: " + f.hash(10) + "\n"
			},
		},
		{
			name: "expired server certificate",
			setup: func(f *warnFixture) string {
				f.server("old", pki.Request{Hosts: []string{"localhost"}, Validity: -time.Hour})
				return "tls_server_config:\n  key_file: old.key\n  cert_file: old.crt\n"
			},
			want: []want{{"tls_server_config.cert_file", 3, "server certificate expired on"}},
		},
		{
			name: "server certificate expiring in 10 days",
			setup: func(f *warnFixture) string {
				f.server("soon", pki.Request{Hosts: []string{"localhost"}, NotBefore: time.Now(), Validity: 10*24*time.Hour + time.Hour})
				return "tls_server_config:\n  cert_file: soon.crt\n  key_file: soon.key\n"
			},
			want: []want{{"tls_server_config.cert_file", 2, "(in 10 days)"}},
		},
		{
			name: "server certificate valid for 40 days",
			setup: func(f *warnFixture) string {
				f.server("fine", pki.Request{Hosts: []string{"localhost"}, NotBefore: time.Now(), Validity: 40 * 24 * time.Hour})
				return "tls_server_config:\n  cert_file: fine.crt\n  key_file: fine.key\n"
			},
		},
		{
			name: "server certificate without SANs",
			setup: func(f *warnFixture) string {
				f.server("nosan", pki.Request{CommonName: "node1.example.org"})
				return "tls_server_config:\n  cert_file: nosan.crt\n  key_file: nosan.key\n"
			},
			want: []want{{"tls_server_config.cert_file", 2, `"node1.example.org" has no subject alternative names`}},
		},
		{
			name: "expired client CA",
			setup: func(f *warnFixture) string {
				old, err := pki.NewCA(pki.Request{CommonName: "old CA", Validity: -24 * time.Hour})
				if err != nil {
					f.t.Fatal(err)
				}
				if err := old.WriteFiles(filepath.Join(f.dir, "old-ca.crt"), ""); err != nil {
					f.t.Fatal(err)
				}
				return warnTLS + "  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: old-ca.crt\n"
			},
			want: []want{{"tls_server_config.client_ca_file", 5, `client CA "old CA" expired on`}},
		},
		{
			name: "client CA expiring",
			setup: func(f *warnFixture) string {
				ca, err := pki.NewCA(pki.Request{CommonName: "short CA", NotBefore: time.Now(), Validity: 5*24*time.Hour + time.Hour})
				if err != nil {
					f.t.Fatal(err)
				}
				if err := ca.WriteFiles(filepath.Join(f.dir, "short-ca.crt"), ""); err != nil {
					f.t.Fatal(err)
				}
				return warnTLS + "  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: short-ca.crt\n"
			},
			want: []want{{"tls_server_config.client_ca_file", 5, `client CA "short CA" expires on`}},
		},
		{
			name: "key file readable by group",
			setup: func(f *warnFixture) string {
				if err := os.Chmod(filepath.Join(f.dir, "server.key"), 0o640); err != nil {
					f.t.Fatal(err)
				}
				return warnTLS
			},
			want: []want{{"tls_server_config.key_file", 3, "mode 0640"}},
		},
		{
			name: "key file readable by others",
			setup: func(f *warnFixture) string {
				if err := os.Chmod(filepath.Join(f.dir, "server.key"), 0o604); err != nil {
					f.t.Fatal(err)
				}
				return warnTLS
			},
			want: []want{{"tls_server_config.key_file", 3, "readable by other users"}},
		},
		{
			name:  "TLS 1.0 allowed",
			setup: func(*warnFixture) string { return warnTLS + "  min_version: TLS10\n" },
			want:  []want{{"tls_server_config.min_version", 4, "TLS10 allows TLS versions below 1.2"}},
		},
		{
			name:  "TLS 1.1 allowed",
			setup: func(*warnFixture) string { return warnTLS + "  min_version: TLS11\n" },
			want:  []want{{"tls_server_config.min_version", 4, "TLS11"}},
		},
		{
			name:  "TLS 1.3 only",
			setup: func(*warnFixture) string { return warnTLS + "  min_version: TLS13\n" },
		},
		{
			name: "several at once, in line order",
			setup: func(f *warnFixture) string {
				f.server("nosan", pki.Request{CommonName: "x", Validity: -time.Hour})
				return "basic_auth_users:\n  bob: " + f.hash(5) + "\ntls_server_config:\n  cert_file: nosan.crt\n  key_file: nosan.key\n  min_version: TLS10\n  client_auth_type: RequireAnyClientCert\n"
			},
			want: []want{
				{`basic_auth_users["bob"]`, 2, "bcrypt cost 5"},
				{"tls_server_config.cert_file", 4, "expired"},
				{"tls_server_config.cert_file", 4, "no subject alternative names"},
				{"tls_server_config.min_version", 6, "TLS10"},
				{"tls_server_config.client_auth_type", 7, "does not verify"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newWarnFixture(t)
			path := filepath.Join(f.dir, "web.yml")
			if err := os.WriteFile(path, []byte(tt.setup(f)), 0o600); err != nil {
				t.Fatal(err)
			}
			c, err := config.Load(path)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			got := c.Warnings(time.Now())
			if len(got) != len(tt.want) {
				t.Fatalf("got %d warnings, want %d:\n%s", len(got), len(tt.want), warningLines(got))
			}
			for i, w := range tt.want {
				g := got[i]
				if g.File != path || g.Field != w.field || g.Line != w.line || !strings.Contains(g.Msg, w.msg) {
					t.Errorf("warning %d = %s\nwant %s:%d: %s: ...%s...", i, g, path, w.line, w.field, w.msg)
				}
				if strings.Contains(g.Msg, "$2") {
					t.Errorf("warning %d shows a hash: %s", i, g)
				}
			}
		})
	}
}

// TestWarningsInline covers a config parsed from memory: no file, so no
// lines, and a key held inline in it.
func TestWarningsInline(t *testing.T) {
	ca, err := pki.NewCA(pki.Request{})
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := ca.Server(pki.Request{Hosts: []string{"localhost"}})
	if err != nil {
		t.Fatal(err)
	}
	yml := "tls_server_config:\n  min_version: TLS11\n  cert: |\n" + indentPEM(string(leaf.CertPEM)) + "  key: |\n" + indentPEM(string(leaf.KeyPEM))
	c, err := config.Parse([]byte(yml), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	got := c.Warnings(time.Now())
	if len(got) != 1 || got[0].Field != "tls_server_config.min_version" || got[0].Line != 2 || got[0].File != "" {
		t.Fatalf("got:\n%s\nwant one warning on tls_server_config.min_version, line 2, without a file", warningLines(got))
	}
	if s := got[0].String(); !strings.HasPrefix(s, "line 2: tls_server_config.min_version: TLS11 allows") {
		t.Errorf("String() = %q", s)
	}
}

// TestWarningsInlineKeyMode covers a web.yml that holds its key inline and
// can be read by other users.
func TestWarningsInlineKeyMode(t *testing.T) {
	ca, err := pki.NewCA(pki.Request{})
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := ca.Server(pki.Request{Hosts: []string{"localhost"}})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "web.yml")
	yml := "tls_server_config:\n  cert: |\n" + indentPEM(string(leaf.CertPEM)) + "  key: |\n" + indentPEM(string(leaf.KeyPEM))
	if err := os.WriteFile(path, []byte(yml), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	got := c.Warnings(time.Now())
	if len(got) != 1 || got[0].Field != "tls_server_config.key" || !strings.Contains(got[0].Msg, "mode 0644") {
		t.Fatalf("got:\n%s\nwant one warning on tls_server_config.key", warningLines(got))
	}
	if strings.Contains(got[0].String(), "PRIVATE KEY") {
		t.Errorf("warning shows the key: %s", got[0])
	}
}

func indentPEM(s string) string {
	var b strings.Builder
	for line := range strings.Lines(s) {
		b.WriteString("    " + line)
	}
	return b.String()
}

func warningLines(ws []config.Warning) string {
	var b strings.Builder
	for _, w := range ws {
		b.WriteString("  " + w.String() + "\n")
	}
	return b.String()
}
