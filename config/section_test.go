package config_test

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/webguard/webguard/bcrypt"
	"github.com/webguard/webguard/config"
	"github.com/webguard/webguard/internal/pki"
)

// serviceFile is a program's own config file with its web settings under
// "web" (line 4 on); @WEB@ stands for the lines of the section.
const serviceFile = `# the service's own settings
listen: 127.0.0.1:7000
greeting: hello
web:
@WEB@
storage:
  path: /var/lib/service
`

func sectionFile(web string) []byte {
	return []byte(strings.Replace(serviceFile, "@WEB@\n", web, 1))
}

func TestParseSection(t *testing.T) {
	dir, _ := fixtureDir(t)
	file := filepath.Join(dir, "service.yml")
	c, err := config.ParseSection(sectionFile("  tls_server_config:\n    cert_file: server.crt\n    key_file: server.key\n"), file, "web")
	if err != nil {
		t.Fatal(err)
	}
	if !c.TLS.IsEnabled() || c.TLSMaterial() == nil {
		t.Fatal("TLS not loaded from the section")
	}
	if got, want := c.TLS.CertFile, filepath.Join(dir, "server.crt"); got != want {
		t.Errorf("cert_file = %q, want %q (relative to the service file)", got, want)
	}
	if c.Path() != file {
		t.Errorf("Path() = %q, want %q", c.Path(), file)
	}
	files := c.Files()
	if slices.Contains(files, file) || len(files) != 2 {
		t.Errorf("Files() = %q, want the certificate and key only", files)
	}

	for name, key := range map[string]string{"missing key": "nothere", "nested missing": "web.nothere"} {
		c, err := config.ParseSection(sectionFile("  rate_limit: {interval: 1s, burst: 2}\n"), file, key)
		if err != nil || c.TLS.IsEnabled() || c.RateLimit.Enabled() {
			t.Errorf("%s: %+v, %v; want an empty config", name, c, err)
		}
	}
	nested := "server:\n  port: 1\n  web:\n    rate_limit:\n      interval: 1s\n      burst: 2\n  other: x\n"
	if c, err := config.ParseSection([]byte(nested), file, "server.web"); err != nil || c.RateLimit.Burst != 2 {
		t.Errorf("nested section: %+v, %v", c, err)
	}
}

func TestParseSectionErrors(t *testing.T) {
	dir, _ := fixtureDir(t)
	file := filepath.Join(dir, "service.yml")
	tests := []struct {
		name, data, key string
		want            string // after "service.yml:"
	}{
		{"unknown key", string(sectionFile("  tls_server_config:\n    cert_fil: server.crt\n")), "web",
			`^6: web\.tls_server_config\.cert_fil: unknown field, did you mean cert_file\?`},
		{"missing file", string(sectionFile("  tls_server_config:\n    cert_file: nothere.crt\n    key_file: server.key\n")), "web",
			`^6: web\.tls_server_config\.cert_file: cannot read .*nothere\.crt`},
		{"wrong type", string(sectionFile("  rate_limit:\n    interval: 1s\n    burst: many\n")), "web",
			`^7: web\.rate_limit\.burst: `},
		{"flow style", "greeting: hi\nweb: {basic_auth_users: {alice: plaintext}}\n", "web",
			`^2: web\.basic_auth_users\["alice"\]: not a bcrypt hash`},
		{"not a mapping", "web:\n  - a\n", "web", `^2: web: want a mapping, got a list`},
		{"nested", "server:\n  web:\n    rate_limit:\n      burst: -1\n", "server.web", `^4: server\.web\.rate_limit\.burst: negative burst`},
		{"not YAML", "web: [unclosed\n", "web", `^\d+: `},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := config.ParseSection([]byte(tc.data), file, tc.key)
			if err == nil {
				t.Fatal("no error")
			}
			msg, ok := strings.CutPrefix(err.Error(), file+":")
			if !ok || !regexp.MustCompile(tc.want).MatchString(msg) {
				t.Errorf("error %q, want %s:%s", err, file, tc.want)
			}
		})
	}
}

// TestSectionReread changes the files a section names: Reread reads them
// again, and its errors still name the service file, line and field.
func TestSectionReread(t *testing.T) {
	dir, p := fixtureDir(t)
	file := filepath.Join(dir, "service.yml")
	c, err := config.ParseSection(sectionFile("  tls_server_config:\n    cert_file: server.crt\n    key_file: server.key\n"), file, "web")
	if err != nil {
		t.Fatal(err)
	}
	next, err := p.ca.Server(pki.Request{Hosts: []string{"localhost"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := next.WriteFiles(filepath.Join(dir, "server.crt"), filepath.Join(dir, "server.key")); err != nil {
		t.Fatal(err)
	}
	r, err := c.Reread()
	if err != nil {
		t.Fatal(err)
	}
	if !r.TLSMaterial().Certificate.Leaf.Equal(next.Cert) {
		t.Error("Reread serves the old certificate")
	}
	if c.TLSMaterial().Certificate.Leaf.Equal(next.Cert) {
		t.Error("Reread changed the config it was called on")
	}
	if err := os.Remove(filepath.Join(dir, "server.key")); err != nil {
		t.Fatal(err)
	}
	_, err = c.Reread()
	if err == nil || !strings.HasPrefix(err.Error(), file+":7: web.tls_server_config.key_file: cannot read") {
		t.Errorf("Reread with the key gone: %v", err)
	}
}

// TestSectionWarnings: warnings of a section name the service file, the
// line in it and the field under the section's key.
func TestSectionWarnings(t *testing.T) {
	hash, err := bcrypt.Hash([]byte("pw"), bcrypt.DefaultCost)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "service.yml")
	c, err := config.ParseSection(sectionFile("  basic_auth_users:\n    alice: "+string(hash)+"\n"), file, "web")
	if err != nil {
		t.Fatal(err)
	}
	ws := c.Warnings(time.Now())
	if len(ws) == 0 {
		t.Fatal("no warning for basic auth without TLS")
	}
	if w := ws[0]; w.File != file || w.Line != 5 || w.Field != "web.basic_auth_users" {
		t.Errorf("warning at %s:%d field %q, want %s:5 web.basic_auth_users", w.File, w.Line, w.Field, file)
	}
}

// TestRereadLiteral completes a Config built in Go: defaults applied,
// validated, its files read.
func TestRereadLiteral(t *testing.T) {
	dir, _ := fixtureDir(t)
	c := &config.Config{TLS: config.TLSConfig{CertFile: filepath.Join(dir, "server.crt"), KeyFile: filepath.Join(dir, "server.key")}}
	r, err := c.Reread()
	if err != nil {
		t.Fatal(err)
	}
	if r.TLSMaterial() == nil || r.TLS.MinVersion == 0 || !r.HTTP.HTTP2Enabled() {
		t.Errorf("Reread of a literal: material %v, min_version %v", r.TLSMaterial() != nil, r.TLS.MinVersion)
	}
	bad := &config.Config{TLS: config.TLSConfig{CertFile: filepath.Join(dir, "server.crt")}}
	if _, err := bad.Reread(); err == nil || !strings.Contains(err.Error(), "needs a key") {
		t.Errorf("Reread of a certificate without key: %v", err)
	}
}

// FuzzParseSection feeds arbitrary files and keys: ParseSection returns a
// config or an error, never panics, and an error names the file.
func FuzzParseSection(f *testing.F) {
	f.Add([]byte("web:\n  rate_limit:\n    interval: 1s\n    burst: 2\nother: 1\n"), "web")
	f.Add([]byte("{web: {rate_limit: {interval: 1s}}, other: 2}\n"), "web")
	f.Add([]byte("a:\n  web:\n    basic_auth_users: {u: x}\n  b: 2\n"), "a.web")
	f.Add([]byte("web: [1, 2]\n"), "web")
	f.Add([]byte("web: &x\n  rate_limit: {}\nw2: *x\n"), "w2")
	f.Add([]byte("é: 1\nweb:   {http_server_config: {http2: false}}\n"), "web")
	f.Fuzz(func(t *testing.T, data []byte, key string) {
		c, err := config.ParseSection(data, "/svc/service.yml", key)
		if err == nil && c == nil {
			t.Fatal("nil config without error")
		}
		if err != nil && !strings.Contains(err.Error(), "service.yml") {
			t.Fatalf("error without the file name: %v", err)
		}
	})
}
