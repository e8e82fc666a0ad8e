package e2e

import (
	"fmt"
	"strings"
	"testing"
)

// TestSidecar rebuilds the TLS sidecar setup: an exporter that knows nothing
// of TLS, bound to 127.0.0.1, behind `webguard proxy` requiring a client
// certificate. The proxy's certificate names only exporter.example.internal,
// not the address scraped, so the scraper must set tls_config.server_name;
// the job that does not fails with the x509 name mismatch, shown on /targets.
func TestSidecar(t *testing.T) {
	dir := t.TempDir()
	webguard := build(t, "./cmd/webguard")

	upstream, _ := startExporter(t, "") // plain HTTP, no auth

	ca := newCA(t)
	writeCert(t, dir, "ca", ca)
	writeCert(t, dir, "proxy", serverCert(t, ca, "exporter.example.internal"))
	writeCert(t, dir, "client", clientCert(t, ca, "prometheus"))
	webYML := writeFile(t, dir, "web.yml", `
tls_server_config:
  cert_file: proxy.crt
  key_file: proxy.key
  client_ca_file: ca.crt
  client_auth_type: RequireAndVerifyClientCert
`)
	proxy := startProcess(t, webguard, "proxy",
		"--web.config.file="+webYML,
		"--web.listen-address=127.0.0.1:0",
		"--upstream=http://"+upstream)
	proxyAddr := proxy.waitLine(t, listeningRE)[1]

	promYML := writeFile(t, dir, "prometheus.yml", fmt.Sprintf(`
global:
  scrape_interval: 1m
scrape_configs:
  - job_name: with-server-name
    scheme: https
    tls_config:
      ca_file: ca.crt
      cert_file: client.crt
      key_file: client.key
      server_name: exporter.example.internal
    static_configs:
      - targets: ['%[1]s']
  - job_name: without-server-name
    scheme: https
    tls_config:
      ca_file: ca.crt
      cert_file: client.crt
      key_file: client.key
    static_configs:
      - targets: ['%[1]s']
`, proxyAddr))
	serverL := listen(t)
	srv := startServer(t, serverL, promYML, "")
	targets := scraped(t, srv)

	if st := targets["with-server-name"]; st.Health != "up" || st.Samples == 0 || st.TLSVersion == "" {
		t.Errorf("with server_name: health %s, %d samples, TLS %q, error %q; want up over TLS", st.Health, st.Samples, st.TLSVersion, st.LastError)
	}
	const mismatch = "x509: cannot validate certificate for 127.0.0.1"
	st := targets["without-server-name"]
	if st.Health != "down" || !strings.Contains(st.LastError, mismatch) {
		t.Errorf("without server_name: health %s, error %q; want down with %q", st.Health, st.LastError, mismatch)
	}

	// The reason is on the page an operator looks at.
	status, page, err := get(client(t, nil, nil), "http://"+serverL.Addr().String()+"/targets", "", "")
	if err != nil || status != 200 || !strings.Contains(page, mismatch) {
		t.Errorf("/targets: status %d, err %v; want 200 and a page showing %q:\n%s", status, err, mismatch, page)
	}

	// And the proxy lets no one in without a client certificate.
	if _, _, err := get(client(t, ca, nil), "https://"+proxyAddr+"/metrics", "", ""); err == nil {
		t.Error("proxy served a client without a certificate")
	}
}
