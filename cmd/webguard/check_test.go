package main

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/webguard/webguard/bcrypt"
	"github.com/webguard/webguard/internal/pki"
)

// checkDir is a directory with a CA (ca.crt), a server certificate
// (server.crt, server.key) and a second, unrelated key (other.key).
func checkDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	ca, err := pki.NewCA(pki.Request{})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := ca.Server(pki.Request{Hosts: []string{"localhost", "127.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	other, err := ca.Server(pki.Request{Hosts: []string{"localhost"}})
	if err != nil {
		t.Fatal(err)
	}
	old, err := ca.Server(pki.Request{Hosts: []string{"localhost"}, Validity: -time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []struct {
		c        *pki.Cert
		crt, key string
	}{{ca, "ca.crt", ""}, {srv, "server.crt", "server.key"}, {other, "", "other.key"}, {old, "old.crt", "old.key"}} {
		crt, key := f.crt, f.key
		if crt != "" {
			crt = filepath.Join(dir, crt)
		}
		if key != "" {
			key = filepath.Join(dir, key)
		}
		if err := f.c.WriteFiles(crt, key); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func hashOf(t *testing.T, password string, cost int) string {
	t.Helper()
	h, err := bcrypt.Hash([]byte(password), cost)
	if err != nil {
		t.Fatal(err)
	}
	return string(h)
}

const checkMTLS = `tls_server_config:
  cert_file: server.crt
  key_file: server.key
  client_ca_file: ca.crt
  client_auth_type: RequireAndVerifyClientCert
`

func TestCheck(t *testing.T) {
	dir := checkDir(t)
	good := hashOf(t, "secret", 10)
	weak := hashOf(t, "secret", 4)
	files := map[string]string{
		"empty.yml":    "",
		"mtls.yml":     checkMTLS,
		"users.yml":    checkMTLS + "basic_auth_users:\n  alice: " + good + "\n",
		"weak.yml":     checkMTLS + "basic_auth_users:\n  alice: " + good + "\n  bob: " + weak + "\n",
		"plain.yml":    "basic_auth_users:\n  alice: " + good + "\n",
		"expired.yml":  "tls_server_config:\n  cert_file: old.crt\n  key_file: old.key\n",
		"typo.yml":     "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  client_auth: RequireAndVerifyClientCert\n",
		"many.yml":     "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  min_version: TLS13\n  max_version: TLS12\nbasic_auth_users:\n  alice: not-a-hash\n",
		"mismatch.yml": "tls_server_config:\n  cert_file: server.crt\n  key_file: other.key\n",
		"nofile.yml":   "tls_server_config:\n  cert_file: missing.crt\n  key_file: server.key\n",
	}
	for name, content := range files {
		writeTestFile(t, filepath.Join(dir, name), content, 0o600)
	}

	tests := []struct {
		name    string
		args    []string
		code    int
		stdout  []string // lines, exactly
		stderr  []string // substrings, each on its own line, in order
		hideout []string // must appear nowhere
	}{
		{name: "empty file", args: []string{"empty.yml"}, code: 0, stdout: []string{"empty.yml: OK"}},
		{name: "mutual TLS", args: []string{"mtls.yml"}, code: 0, stdout: []string{"mtls.yml: OK"}},
		{name: "mutual TLS and users", args: []string{"users.yml"}, code: 0, stdout: []string{"users.yml: OK"}},
		{
			name: "several files", args: []string{"mtls.yml", "users.yml", "empty.yml"}, code: 0,
			stdout: []string{"mtls.yml: OK", "users.yml: OK", "empty.yml: OK"},
		},
		{
			name: "weak hash warns", args: []string{"weak.yml"}, code: 0,
			stdout:  []string{"weak.yml: OK (1 warning)"},
			stderr:  []string{`weak.yml:8: warning: basic_auth_users["bob"]: bcrypt cost 4 is below 10`},
			hideout: []string{weak},
		},
		{
			name: "weak hash with --strict", args: []string{"--strict", "weak.yml"}, code: 1,
			stderr: []string{`weak.yml:8: warning: basic_auth_users["bob"]: bcrypt cost 4`, "weak.yml: 1 warning, failing because of --strict"},
		},
		{
			name: "--strict after the file", args: []string{"weak.yml", "--strict"}, code: 1,
			stderr: []string{"failing because of --strict"},
		},
		{
			name: "--strict with a clean file", args: []string{"--strict", "users.yml"}, code: 0,
			stdout: []string{"users.yml: OK"},
		},
		{
			name: "basic auth without TLS", args: []string{"plain.yml"}, code: 0,
			stdout: []string{"plain.yml: OK (1 warning)"},
			stderr: []string{"plain.yml:1: warning: basic_auth_users: basic auth without TLS"},
		},
		{
			name: "expired certificate", args: []string{"--strict", "expired.yml"}, code: 1,
			stderr: []string{"expired.yml:2: warning: tls_server_config.cert_file: server certificate expired on"},
		},
		{
			name: "misspelled field", args: []string{"typo.yml"}, code: 1,
			stderr: []string{"typo.yml:4: tls_server_config.client_auth: unknown field (want one of cert_file,"},
		},
		{
			name: "one error per line", args: []string{"many.yml"}, code: 1,
			stderr: []string{"many.yml:4: tls_server_config.min_version: min_version TLS13 is above max_version TLS12", `many.yml:7: basic_auth_users["alice"]: not a bcrypt hash`},
		},
		{
			name: "key does not match", args: []string{"mismatch.yml"}, code: 1,
			stderr: []string{"mismatch.yml:2: tls_server_config.cert_file:", "do not make a key pair"},
		},
		{
			name: "certificate file missing", args: []string{"nofile.yml"}, code: 1,
			stderr: []string{"nofile.yml:2: tls_server_config.cert_file: cannot read", "no such file or directory"},
		},
		{
			name: "config file missing", args: []string{"absent.yml"}, code: 1,
			stderr: []string{"absent.yml: cannot read config file: no such file or directory"},
		},
		{
			name: "a bad file among good ones", args: []string{"mtls.yml", "typo.yml", "empty.yml"}, code: 1,
			stdout: []string{"mtls.yml: OK", "empty.yml: OK"},
			stderr: []string{"typo.yml:4:"},
		},
		{name: "no file", args: nil, code: 2, stderr: []string{"webguard check: no file given"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := run(t, dir, "", append([]string{"check"}, tt.args...)...)
			if r.code != tt.code {
				t.Errorf("exit %d, want %d\n%s", r.code, tt.code, r)
			}
			got := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
			if r.stdout == "" {
				got = nil
			}
			if strings.Join(got, "\n") != strings.Join(tt.stdout, "\n") {
				t.Errorf("stdout:\n%s\nwant:\n%s", r.stdout, strings.Join(tt.stdout, "\n"))
			}
			rest := r.stderr
			for _, want := range tt.stderr {
				i := strings.Index(rest, want)
				if i < 0 {
					t.Errorf("stderr lacks %q (in order)\n%s", want, r)
					break
				}
				rest = rest[i+len(want):]
			}
			if tt.code == 1 && len(tt.stdout) == 0 && strings.Contains(r.stdout, "OK") {
				t.Errorf("a failing file printed OK\n%s", r)
			}
			for _, secret := range tt.hideout {
				if strings.Contains(r.stdout+r.stderr, secret) {
					t.Errorf("output shows a hash\n%s", r)
				}
			}
		})
	}
}

// TestCheckOneLinePerError checks that joined errors come out one per line,
// each with its file and line.
func TestCheckOneLinePerError(t *testing.T) {
	dir := t.TempDir()
	writeTestFile(t, filepath.Join(dir, "web.yml"), "tls_server_config:\n  foo: 1\n  bar: 2\nhttp_server_config:\n  http3: true\n", 0o600)
	r := run(t, dir, "", "check", "web.yml")
	lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
	if r.code != 1 || len(lines) < 3 {
		t.Fatalf("want exit 1 and at least 3 error lines\n%s", r)
	}
	for _, l := range lines {
		if !strings.HasPrefix(l, "web.yml:") {
			t.Errorf("line without file and line number: %q", l)
		}
	}
}

// TestCheckAgreesWithPromtool: files promtool check web-config accepts are
// accepted here too; the hazard it does not see gets a warning.
func TestCheckAgreesWithPromtool(t *testing.T) {
	need(t, "promtool")
	dir := checkDir(t)
	good := hashOf(t, "secret", 10)
	files := map[string]string{
		"mtls.yml":       checkMTLS + "basic_auth_users:\n  alice: " + good + "\n",
		"tls.yml":        "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  min_version: TLS13\n",
		"headers.yml":    "http_server_config:\n  headers:\n    X-Frame-Options: deny\n",
		"systemroot.yml": "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  client_auth_type: RequireAndVerifyClientCert\n",
	}
	for name, content := range files {
		path := filepath.Join(dir, name)
		writeTestFile(t, path, content, 0o600)
		if out, err := tool(t, "promtool", "check", "web-config", path); err != nil {
			t.Fatalf("promtool refuses %s: %v\n%s", name, err, out)
		}
		r := run(t, dir, "", "check", name)
		if r.code != 0 || !strings.HasPrefix(r.stdout, name+": OK") {
			t.Errorf("%s: promtool accepts it, webguard check does not\n%s", name, r)
		}
	}
	r := run(t, dir, "", "check", "systemroot.yml")
	if !strings.Contains(r.stderr, "system's root CAs") {
		t.Errorf("no warning about verifying against the system roots\n%s", r)
	}
}
