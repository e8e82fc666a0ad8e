package e2e

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/webguard/webguard/bcrypt"
)

// TestServerScrapesItself rebuilds the setup where Prometheus scrapes its
// own HTTPS endpoint with basic auth: the server's web.yml protects it, and
// the same server's scrape config carries the password. The web.yml is also
// checked by `webguard check` and by `promtool check web-config`: both must
// accept it.
func TestServerScrapesItself(t *testing.T) {
	promtool := lookPath(t, "promtool")
	webguard := build(t, "./cmd/webguard")
	dir := t.TempDir()
	ca := newCA(t)
	writeCert(t, dir, "ca", ca)
	writeCert(t, dir, "server", serverCert(t, ca, "127.0.0.1", "localhost"))
	writeFile(t, dir, "password", "correct horse battery staple")
	webYML := writeFile(t, dir, "web.yml", fmt.Sprintf(`
tls_server_config:
  cert_file: server.crt
  key_file: server.key
  min_version: TLS12
http_server_config:
  headers:
    X-Content-Type-Options: nosniff
basic_auth_users:
  prometheus: %s
`, hash(t, "correct horse battery staple", bcrypt.DefaultCost)))

	for _, tool := range [][]string{
		{webguard, "check", webYML},
		{promtool, "check", "web-config", webYML},
	} {
		if out, err := exec.Command(tool[0], tool[1:]...).CombinedOutput(); err != nil {
			t.Errorf("%s %v: %v\n%s", filepath.Base(tool[0]), tool[1:], err, out)
		}
	}

	// Listen first: the scrape config names the server's own address.
	l := listen(t)
	promYML := writeFile(t, dir, "prometheus.yml", fmt.Sprintf(`
scrape_configs:
  - job_name: self
    scheme: https
    tls_config:
      ca_file: ca.crt
    basic_auth:
      username: prometheus
      password_file: password
    static_configs:
      - targets: ['%s']
`, l.Addr()))
	srv := startServer(t, l, promYML, webYML)
	st := scraped(t, srv)["self"]
	if st.Health != "up" || st.Samples == 0 || st.TLSVersion != "TLS 1.3" {
		t.Fatalf("self-scrape: health %s, %d samples, TLS %q, error %q; want up over TLS 1.3", st.Health, st.Samples, st.TLSVersion, st.LastError)
	}

	// Without the password the same endpoint is closed.
	status, _, err := get(client(t, ca, nil), "https://"+l.Addr().String()+"/metrics", "", "")
	if err != nil || status != 401 {
		t.Errorf("unauthenticated GET /metrics: status %d, err %v; want 401", status, err)
	}
}
