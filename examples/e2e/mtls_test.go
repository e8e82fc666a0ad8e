package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/webguard/webguard/bcrypt"
)

// TestNativeMTLS rebuilds native mutual TLS: the exporter requires a client
// certificate from the CA (RequireAndVerifyClientCert); the server's own UI
// verifies a certificate if one is presented (VerifyClientCertIfGiven) and
// asks for a password in any case. A person with the password but no
// certificate can use the UI, and still cannot scrape the exporter.
func TestNativeMTLS(t *testing.T) {
	dir := t.TempDir()
	ca := newCA(t)
	writeCert(t, dir, "ca", ca)
	writeCert(t, dir, "exporter", serverCert(t, ca, "127.0.0.1"))
	writeCert(t, dir, "server", serverCert(t, ca, "127.0.0.1"))
	scraperCert := clientCert(t, ca, "prometheus")
	writeCert(t, dir, "client", scraperCert)

	exporterAddr, exp := startExporter(t, writeFile(t, dir, "exporter-web.yml", `
tls_server_config:
  cert_file: exporter.crt
  key_file: exporter.key
  client_ca_file: ca.crt
  client_auth_type: RequireAndVerifyClientCert
`))
	serverWeb := writeFile(t, dir, "server-web.yml", fmt.Sprintf(`
tls_server_config:
  cert_file: server.crt
  key_file: server.key
  client_ca_file: ca.crt
  client_auth_type: VerifyClientCertIfGiven
basic_auth_users:
  admin: %s
`, hash(t, "admin-password", bcrypt.MinCost)))
	promYML := writeFile(t, dir, "prometheus.yml", fmt.Sprintf(`
scrape_configs:
  - job_name: exporter
    scheme: https
    tls_config:
      ca_file: ca.crt
      cert_file: client.crt
      key_file: client.key
    static_configs:
      - targets: ['%[1]s']
  - job_name: exporter-without-client-cert
    scheme: https
    tls_config:
      ca_file: ca.crt
    static_configs:
      - targets: ['%[1]s']
`, exporterAddr))
	serverL := listen(t)
	srv := startServer(t, serverL, promYML, serverWeb)
	targets := scraped(t, srv)
	if st := targets["exporter"]; st.Health != "up" || st.Samples == 0 {
		t.Fatalf("scrape with the client certificate: health %s, error %q; want up", st.Health, st.LastError)
	}
	// The scraper sees the TLS alert or, when its request crossed the alert,
	// a closed connection; the exporter's count says why for certain.
	if st := targets["exporter-without-client-cert"]; st.Health != "down" {
		t.Errorf("scrape without a client certificate: health %s; want down", st.Health)
	}
	// The server counts just after it refuses, so the client may be first.
	counted := false
	for range 250 {
		if counted = counter(t, exp.Registry(), "webguard_tls_handshake_failures_total", "reason", "no_client_cert") > 0; counted {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !counted {
		t.Errorf("the exporter counted no handshake failure for a missing client certificate")
	}

	api := "https://" + serverL.Addr().String() + "/api/v1/targets"
	noCert := client(t, ca, nil)
	withCert := client(t, ca, scraperCert)
	strangerCA := newCA(t)
	stranger := client(t, ca, clientCert(t, strangerCA, "stranger"))

	for _, tc := range []struct {
		name       string
		c          *http.Client
		user, pass string
		want       int // 0: the handshake must fail
	}{
		{"no certificate, password", noCert, "admin", "admin-password", 200},
		{"no certificate, no password", noCert, "", "", 401},
		{"no certificate, wrong password", noCert, "admin", "guess", 401},
		{"scraper's certificate, password", withCert, "admin", "admin-password", 200},
		{"certificate from another CA, password", stranger, "admin", "admin-password", 0},
	} {
		t.Run("server UI/"+tc.name, func(t *testing.T) {
			status, body, err := get(tc.c, api, tc.user, tc.pass)
			switch {
			case tc.want == 0 && err == nil:
				t.Fatalf("got HTTP %d, want the handshake refused", status)
			case tc.want == 0:
				return
			case err != nil:
				t.Fatalf("want HTTP %d, got %v", tc.want, err)
			case status != tc.want:
				t.Fatalf("got HTTP %d, want %d", status, tc.want)
			}
			if status == 200 {
				var resp struct {
					Data struct{ ActiveTargets []struct{ Health string } }
				}
				if err := json.Unmarshal([]byte(body), &resp); err != nil || len(resp.Data.ActiveTargets) != 2 {
					t.Fatalf("api answer %s (%v); want both targets", body, err)
				}
			}
		})
	}

	t.Run("exporter without certificate", func(t *testing.T) {
		status, _, err := get(noCert, "https://"+exporterAddr+"/metrics", "", "")
		if err == nil {
			t.Fatalf("got HTTP %d, want the handshake refused", status)
		}
	})
}
