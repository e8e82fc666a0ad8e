package e2e

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/webguard/webguard/bcrypt"
	"github.com/webguard/webguard/internal/pki"
)

// TestBasicAuthSelfSigned rebuilds the simplest secured setup: TLS with a
// self-signed certificate, which the scraper trusts by naming the same file
// as its ca_file, and a password. curl shows what a person sees: with -u the
// metrics, without it 401.
func TestBasicAuthSelfSigned(t *testing.T) {
	curl := lookPath(t, "curl")
	dir := t.TempDir()
	cert, err := pki.SelfSigned(pki.Request{Hosts: []string{"127.0.0.1", "localhost"}})
	if err != nil {
		t.Fatal(err)
	}
	writeCert(t, dir, "exporter", cert)
	writeFile(t, dir, "password", "s3cret")
	exporterAddr, _ := startExporter(t, writeFile(t, dir, "web.yml", fmt.Sprintf(`
tls_server_config:
  cert_file: exporter.crt
  key_file: exporter.key
basic_auth_users:
  prometheus: %s
`, hash(t, "s3cret", bcrypt.MinCost))))

	promYML := writeFile(t, dir, "prometheus.yml", fmt.Sprintf(`
scrape_configs:
  - job_name: exporter
    scheme: https
    tls_config:
      ca_file: exporter.crt   # a self-signed certificate is its own CA
    basic_auth:
      username: prometheus
      password_file: password
    static_configs:
      - targets: ['%[1]s']
  - job_name: wrong-password
    scheme: https
    tls_config:
      ca_file: exporter.crt
    basic_auth:
      username: prometheus
      password: guess
    static_configs:
      - targets: ['%[1]s']
`, exporterAddr))
	targets := scraped(t, startServer(t, listen(t), promYML, ""))
	if st := targets["exporter"]; st.Health != "up" || st.Samples == 0 {
		t.Errorf("scrape with ca_file = the certificate and the password: health %s, error %q; want up", st.Health, st.LastError)
	}
	if st := targets["wrong-password"]; st.Health != "down" || st.LastError != "server returned HTTP status 401 Unauthorized" {
		t.Errorf("scrape with a wrong password: health %s, error %q; want down, 401", st.Health, st.LastError)
	}

	url := "https://" + exporterAddr + "/metrics"
	for _, tc := range []struct {
		name     string
		args     []string
		wantCode string
		wantBody string
	}{
		{"curl -u user:pass -k", []string{"-u", "prometheus:s3cret", "-k"}, "200", "exporter_scrapes_total"},
		{"curl -u user:pass --cacert cert", []string{"-u", "prometheus:s3cret", "--cacert", filepath.Join(dir, "exporter.crt")}, "200", "exporter_scrapes_total"},
		{"curl -k", []string{"-k"}, "401", "Unauthorized"},
		{"curl -u user:wrong -k", []string{"-u", "prometheus:guess", "-k"}, "401", "Unauthorized"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"-sS", "--max-time", "20", "-w", "\n%{http_code}"}, tc.args...)
			out, err := exec.Command(curl, append(args, url)...).CombinedOutput()
			if err != nil {
				t.Fatalf("curl: %v\n%s", err, out)
			}
			body, code, _ := cutLast(string(out), "\n")
			if code != tc.wantCode || !strings.Contains(body, tc.wantBody) {
				t.Fatalf("got HTTP %s, want %s with %q in the body:\n%s", code, tc.wantCode, tc.wantBody, body)
			}
		})
	}
	t.Run("curl without -k", func(t *testing.T) {
		// Not trusted by the system: curl refuses, as it should.
		out, err := exec.Command(curl, "-sS", "--max-time", "20", "-u", "prometheus:s3cret", url).CombinedOutput()
		if err == nil {
			t.Fatalf("curl trusted a self-signed certificate:\n%s", out)
		}
	})
}

// cutLast splits s around the last sep.
func cutLast(s, sep string) (before, after string, found bool) {
	i := strings.LastIndex(s, sep)
	if i < 0 {
		return s, "", false
	}
	return s[:i], s[i+len(sep):], true
}
