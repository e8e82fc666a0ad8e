package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/webguard/webguard/internal/pki"
)

// unixUpstream starts newUpstream's exporter stand-in on a unix socket and
// returns it with its unix:// URL.
func unixUpstream(t *testing.T) (*recordingUpstream, string) {
	t.Helper()
	// Socket paths are limited to about 100 bytes; TempDir's can be longer.
	dir, err := os.MkdirTemp("", "wg")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "exporter.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	u := newUpstream(t)
	u.Close()
	u.Server = httptest.NewUnstartedServer(u.Config.Handler)
	u.Listener = l
	u.Start()
	t.Cleanup(u.Close)
	return u, "unix://" + sock
}

// get fetches url with the proxy's CA and the user prometheus:s3cret.
func get(t *testing.T, dir, url string) (int, http.Header, string) {
	t.Helper()
	client := &http.Client{
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: caPool(t, dir)}},
		Timeout:   20 * time.Second,
		// Redirects are part of what is tested.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	t.Cleanup(client.CloseIdleConnections)
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth("prometheus", "s3cret")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// TestProxyUnixUpstream: --upstream=unix:///PATH reaches an exporter that
// listens on a socket, with Host: localhost.
func TestProxyUnixUpstream(t *testing.T) {
	up, sock := unixUpstream(t)
	p, dir := protectedProxy(t, sock)
	code, _, body := get(t, dir, "https://"+p.addrs[0]+"/metrics?collect[]=cpu")
	if code != 200 || body != "node_load1 0.5\n" {
		t.Fatalf("%d %q\n%s", code, body, p.logs)
	}
	hdr, uri := up.last(t)
	if uri != "/metrics?collect[]=cpu" || hdr.Get("X-Forwarded-Host") != p.addrs[0] {
		t.Errorf("upstream saw %s, X-Forwarded-Host %q", uri, hdr.Get("X-Forwarded-Host"))
	}
}

// TestProxySeveralUpstreams: one port, two exporters (TCP and unix socket),
// each under /NAME/ with the prefix removed, a landing page listing them.
func TestProxySeveralUpstreams(t *testing.T) {
	node := newUpstream(t)
	app, sock := unixUpstream(t)
	p, dir := protectedProxy(t, "node="+node.URL, "--upstream", "app="+sock)
	base := "https://" + p.addrs[0]

	if code, _, body := get(t, dir, base+"/node/metrics"); code != 200 || body != "node_load1 0.5\n" {
		t.Errorf("/node/metrics: %d %q", code, body)
	}
	if _, uri := node.last(t); uri != "/metrics" {
		t.Errorf("node saw %q, want /metrics", uri)
	}
	if code, _, _ := get(t, dir, base+"/app/metrics?name[]=x"); code != 200 {
		t.Errorf("/app/metrics: %d", code)
	}
	if _, uri := app.last(t); uri != "/metrics?name[]=x" {
		t.Errorf("app saw %q, want /metrics?name[]=x", uri)
	}
	if code, _, _ := get(t, dir, base+"/app/other"); code != 404 {
		t.Errorf("/app/other: %d, want the upstream's 404", code)
	}
	if _, uri := app.last(t); uri != "/other" {
		t.Errorf("app saw %q, want /other", uri)
	}

	code, hdr, body := get(t, dir, base+"/")
	if code != 200 || !strings.HasPrefix(hdr.Get("Content-Type"), "text/html") {
		t.Fatalf("landing page: %d %v", code, hdr)
	}
	for _, want := range []string{`href="/node/metrics"`, `href="/app/metrics"`, node.URL, sock} {
		if !strings.Contains(body, want) {
			t.Errorf("landing page lacks %q:\n%s", want, body)
		}
	}
	before := node.requests() + app.requests()
	for path, want := range map[string]int{"/metrics": 404, "/nodes/metrics": 404, "/node": 301, "/node%2Fmetrics": 404} {
		if code, hdr, _ := get(t, dir, base+path); code != want {
			t.Errorf("%s: %d, want %d", path, code, want)
		} else if want == 301 && hdr.Get("Location") != "/node/" {
			t.Errorf("%s: redirected to %q", path, hdr.Get("Location"))
		}
	}
	if after := node.requests() + app.requests(); after != before {
		t.Errorf("paths outside the upstreams' prefixes were forwarded (%d requests)", after-before)
	}
	// Without credentials, the landing page is refused too.
	resp, err := (&http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: caPool(t, dir)}}, Timeout: 20 * time.Second}).Get(base + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Errorf("landing page without credentials: %s", resp.Status)
	}
}

// TestProxyOneNamedUpstream: a single upstream with a name is served at
// /NAME/ and, as before names existed, at every other path.
func TestProxyOneNamedUpstream(t *testing.T) {
	node := newUpstream(t)
	p, dir := protectedProxy(t, "node="+node.URL)
	for _, path := range []string{"/node/metrics", "/metrics"} {
		if code, _, body := get(t, dir, "https://"+p.addrs[0]+path); code != 200 || body != "node_load1 0.5\n" {
			t.Errorf("%s: %d %q", path, code, body)
		}
		if _, uri := node.last(t); uri != "/metrics" {
			t.Errorf("%s: upstream saw %q", path, uri)
		}
	}
}

// tlsUpstream is an https upstream that requires a client certificate from
// its CA and records the common name of each client.
type tlsUpstream struct {
	*httptest.Server
	mu  sync.Mutex
	cns []string
}

func newTLSUpstream(t *testing.T, ca *pki.Cert, host string) *tlsUpstream {
	t.Helper()
	srv, err := ca.Server(pki.Request{Hosts: []string{host}})
	if err != nil {
		t.Fatal(err)
	}
	u := &tlsUpstream{}
	u.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.mu.Lock()
		u.cns = append(u.cns, r.TLS.PeerCertificates[0].Subject.CommonName)
		u.mu.Unlock()
		io.WriteString(w, "secure_metric 1\n")
	}))
	u.TLS = &tls.Config{
		Certificates: []tls.Certificate{srv.TLSCertificate()},
		ClientCAs:    ca.Pool(),
		ClientAuth:   tls.RequireAndVerifyClientCert,
	}
	u.Config.ErrorLog = log.New(io.Discard, "", 0) // refused handshakes are expected
	u.StartTLS()
	t.Cleanup(u.Close)
	return u
}

func (u *tlsUpstream) lastCN() string {
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.cns) == 0 {
		return ""
	}
	return u.cns[len(u.cns)-1]
}

// TestProxyTLSUpstream: an https upstream with mutual TLS, verified against
// --upstream.ca-file under --upstream.server-name, given the client
// certificate in --upstream.cert-file; a rotated client certificate is
// used without a restart.
func TestProxyTLSUpstream(t *testing.T) {
	ca, err := pki.NewCA(pki.Request{CommonName: "upstream CA"})
	if err != nil {
		t.Fatal(err)
	}
	up := newTLSUpstream(t, ca, "exporter.internal")
	files := t.TempDir()
	f := func(name string) string { return filepath.Join(files, name) }
	if err := ca.WriteFiles(f("upstream-ca.crt"), ""); err != nil {
		t.Fatal(err)
	}
	writeClient := func(cn string) {
		c, err := ca.Client(pki.Request{CommonName: cn})
		if err != nil {
			t.Fatal(err)
		}
		if err := c.WriteFiles(f("client.crt"), f("client.key")); err != nil {
			t.Fatal(err)
		}
	}
	writeClient("proxy-1")
	tlsFlags := []string{"--upstream.ca-file", f("upstream-ca.crt"), "--upstream.cert-file", f("client.crt"), "--upstream.key-file", f("client.key")}

	p, dir := protectedProxy(t, up.URL, append(tlsFlags, "--upstream.server-name", "exporter.internal")...)
	base := "https://" + p.addrs[0]
	if code, _, body := get(t, dir, base+"/metrics"); code != 200 || body != "secure_metric 1\n" {
		t.Fatalf("%d %q\n%s", code, body, p.logs)
	}
	if cn := up.lastCN(); cn != "proxy-1" {
		t.Fatalf("the upstream saw client %q", cn)
	}

	// Rotate the client certificate: the proxy uses the new one (on a new
	// connection) once it has seen the files change, and every request in
	// between is answered.
	writeClient("proxy-2")
	deadline := time.Now().Add(30 * time.Second)
	for up.lastCN() != "proxy-2" {
		if time.Now().After(deadline) {
			t.Fatalf("the rotated client certificate was never used\n%s", p.logs)
		}
		if code, _, body := get(t, dir, base+"/metrics"); code != 200 {
			t.Fatalf("during the rotation: %d %q\n%s", code, body, p.logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
	p.waitLog(t, "upstream TLS files reloaded")

	// A broken change keeps the last good files in use.
	writeTestFile(t, f("client.key"), "not a key\n", 0o600)
	p.waitLog(t, "upstream TLS files not reloaded; keeping the previous ones")
	if code, _, _ := get(t, dir, base+"/metrics"); code != 200 {
		t.Errorf("after a broken key: %d", code)
	}
	writeClient("proxy-3")

	t.Run("wrong server name", func(t *testing.T) {
		p, dir := protectedProxy(t, up.URL, tlsFlags...) // checked for 127.0.0.1
		if code, _, _ := get(t, dir, "https://"+p.addrs[0]+"/metrics"); code != 502 {
			t.Errorf("status %d, want 502", code)
		}
		p.waitLog(t, "upstream unreachable")
		if !strings.Contains(p.logs.String(), "x509: cannot validate certificate for 127.0.0.1") {
			t.Errorf("the log does not say why:\n%s", p.logs)
		}
	})
	t.Run("no client certificate", func(t *testing.T) {
		p, dir := protectedProxy(t, up.URL, "--upstream.ca-file", f("upstream-ca.crt"), "--upstream.server-name", "exporter.internal")
		if code, _, _ := get(t, dir, "https://"+p.addrs[0]+"/metrics"); code != 502 {
			t.Errorf("status %d, want 502", code)
		}
	})
}

// TestProxyPrometheusScrapesSeveralExporters: Debian's node exporter and a
// second exporter on a unix socket behind one TLS port with basic auth,
// scraped by a real Prometheus through metrics_path.
func TestProxyPrometheusScrapesSeveralExporters(t *testing.T) {
	nodeExporter := need(t, "prometheus-node-exporter")
	prometheus := need(t, "prometheus")
	nodePort := freePort(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ne := exec.CommandContext(ctx, nodeExporter, "--web.listen-address=127.0.0.1:"+nodePort, "--collector.disable-defaults", "--collector.loadavg")
	if err := ne.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ne.Process.Kill(); ne.Wait() })
	_, sock := unixUpstream(t)

	p, dir := protectedProxy(t, "node=http://127.0.0.1:"+nodePort, "--upstream", "app="+sock)
	writeTestFile(t, filepath.Join(dir, "password"), "s3cret\n", 0o600)
	promYML := `global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
`
	for _, job := range []string{"node", "app"} {
		promYML += fmt.Sprintf(`  - job_name: %s
    scheme: https
    metrics_path: /%s/metrics
    basic_auth:
      username: prometheus
      password_file: %s
    tls_config:
      ca_file: %s
      server_name: localhost
    static_configs:
      - targets: ['%s']
`, job, job, filepath.Join(dir, "password"), filepath.Join(dir, "ca.crt"), p.addrs[0])
	}
	writeTestFile(t, filepath.Join(dir, "prometheus.yml"), promYML, 0o600)
	promPort := freePort(t)
	prom := exec.CommandContext(ctx, prometheus, "--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "data"), "--web.listen-address=127.0.0.1:"+promPort)
	promLogs := &syncBuffer{}
	prom.Stdout, prom.Stderr = promLogs, promLogs
	if err := prom.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { prom.Process.Kill(); prom.Wait() })

	// Both targets up, and a node exporter series scraped through the proxy.
	query := func(q string) map[string]string {
		resp, err := http.Get("http://127.0.0.1:" + promPort + "/api/v1/query?query=" + url.QueryEscape(q))
		if err != nil {
			return nil
		}
		defer resp.Body.Close()
		var r struct {
			Data struct {
				Result []struct {
					Metric map[string]string `json:"metric"`
					Value  []any             `json:"value"`
				} `json:"result"`
			} `json:"data"`
		}
		if json.NewDecoder(resp.Body).Decode(&r) != nil {
			return nil
		}
		out := map[string]string{}
		for _, s := range r.Data.Result {
			if len(s.Value) == 2 {
				out[s.Metric["job"]] = fmt.Sprint(s.Value[1])
			}
		}
		return out
	}
	deadline := time.Now().Add(90 * time.Second)
	for {
		up := query("up")
		load := query("node_load1")
		if up["node"] == "1" && up["app"] == "1" && load["node"] != "" && load["app"] != "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("targets not both up through the proxy: up=%v node_load1=%v\nproxy:\n%s\nprometheus:\n%s", up, load, p.logs, promLogs)
		}
		time.Sleep(250 * time.Millisecond)
	}
}
