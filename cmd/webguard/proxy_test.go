package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	commoncfg "github.com/prometheus/common/config"
	"go.yaml.in/yaml/v3"

	"github.com/webguard/webguard/internal/pki"
)

// syncBuffer collects a process's stderr while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// proxyProc is a running "webguard proxy".
type proxyProc struct {
	cmd   *exec.Cmd
	addrs []string // 127.0.0.1:PORT, one per listener
	logs  *syncBuffer
	done  chan struct{} // closed when the process has exited
	err   error         // its exit, once done is closed
}

// freePort returns a port that was free a moment ago.
func freePort(t *testing.T) string {
	t.Helper()
	return freePorts(t, 1)[0]
}

// freePorts returns n distinct ports free on 127.0.0.1 at the call.
func freePorts(t *testing.T, n int) []string {
	t.Helper()
	ports := make([]string, n)
	for i := range ports {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		// Held open until all are chosen, so that none comes twice.
		defer l.Close()
		ports[i] = strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	}
	return ports
}

// startProxy runs webguard proxy on listeners free ports on 127.0.0.1 with
// the given config and upstream, and waits until every port accepts
// connections. A port taken by someone else between freePort and the bind
// makes it try again with new ports.
func startProxy(t *testing.T, dir, config, upstream string, listeners int, extra ...string) *proxyProc {
	t.Helper()
	for attempt := 0; attempt < 5; attempt++ {
		p := &proxyProc{logs: &syncBuffer{}, done: make(chan struct{})}
		args := []string{"proxy", "--web.config.file", config, "--upstream", upstream, "--log.level", "debug"}
		for range listeners {
			addr := "127.0.0.1:" + freePort(t)
			p.addrs = append(p.addrs, addr)
			args = append(args, "--web.listen-address", addr)
		}
		p.cmd = exec.Command(binary, append(args, extra...)...)
		p.cmd.Dir = dir
		p.cmd.Stdout, p.cmd.Stderr = p.logs, p.logs
		if err := p.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() { p.err = p.cmd.Wait(); close(p.done) }()
		t.Cleanup(func() { p.stop(t) })
		if p.waitReady() {
			return p
		}
		<-p.done
		if !strings.Contains(p.logs.String(), "address already in use") {
			t.Fatalf("proxy did not start: %v\n%s", p.err, p.logs)
		}
	}
	t.Fatal("no free port after 5 attempts")
	return nil
}

// waitReady polls the listeners until all accept or the process exits.
func (p *proxyProc) waitReady() bool {
	for range 400 {
		select {
		case <-p.done:
			return false
		default:
		}
		ready := true
		for _, a := range p.addrs {
			c, err := net.Dial("tcp", a)
			if err != nil {
				ready = false
				break
			}
			c.Close()
		}
		if ready {
			return true
		}
		time.Sleep(25 * time.Millisecond)
	}
	return false
}

// signal sends sig to the proxy.
func (p *proxyProc) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
}

// stop ends the process if it still runs: SIGTERM, then SIGKILL if it does
// not exit.
func (p *proxyProc) stop(t *testing.T) {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
		t.Errorf("proxy ignored SIGTERM\n%s", p.logs)
	}
}

// waitLog waits (bounded) until the logs contain s.
func (p *proxyProc) waitLog(t *testing.T, s string) {
	t.Helper()
	p.waitCount(t, s, 1)
}

// waitCount waits until the logs show s at least n times.
func (p *proxyProc) waitCount(t *testing.T, s string, n int) {
	t.Helper()
	for range 400 {
		if strings.Count(p.logs.String(), s) >= n {
			return
		}
		time.Sleep(25 * time.Millisecond)
	}
	t.Fatalf("logs never showed %q %d times:\n%s", s, n, p.logs)
}

// upstream is an exporter stand-in that records the headers it receives.
type recordingUpstream struct {
	*httptest.Server
	mu  sync.Mutex
	got []http.Header
	url []string
}

func newUpstream(t *testing.T) *recordingUpstream {
	u := &recordingUpstream{}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.mu.Lock()
		u.got = append(u.got, r.Header.Clone())
		u.url = append(u.url, r.URL.RequestURI())
		u.mu.Unlock()
		w.Header().Set("X-Exporter", "node")
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		if r.URL.Path != "/metrics" {
			http.Error(w, "no such page", http.StatusNotFound)
			return
		}
		fmt.Fprintln(w, "node_load1 0.5")
	}))
	t.Cleanup(u.Close)
	return u
}

func (u *recordingUpstream) last(t *testing.T) (http.Header, string) {
	t.Helper()
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.got) == 0 {
		t.Fatal("the upstream saw no request")
	}
	return u.got[len(u.got)-1], u.url[len(u.url)-1]
}

func (u *recordingUpstream) requests() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.got)
}

// curl runs curl with args and returns the HTTP status it got (0 when the
// connection failed), the response headers and body, and its error.
func curl(t *testing.T, args ...string) (code int, out string, err error) {
	t.Helper()
	base := []string{"-sS", "--max-time", "20", "-D", "-", "-w", "\n%{http_code}"}
	out, err = tool(t, "curl", append(base, args...)...)
	i := strings.LastIndex(out, "\n")
	code, _ = strconv.Atoi(strings.TrimSpace(out[i+1:]))
	return code, out[:max(i, 0)], err
}

// tlsPKI writes ca.crt, server.crt and server.key (for localhost and
// 127.0.0.1) into dir.
func tlsPKI(t *testing.T, dir string) {
	t.Helper()
	ca, err := pki.NewCA(pki.Request{})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := ca.Server(pki.Request{Hosts: []string{"localhost", "127.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := ca.WriteFiles(filepath.Join(dir, "ca.crt"), ""); err != nil {
		t.Fatal(err)
	}
	if err := srv.WriteFiles(filepath.Join(dir, "server.crt"), filepath.Join(dir, "server.key")); err != nil {
		t.Fatal(err)
	}
}

func TestProxyBasicAuth(t *testing.T) {
	need(t, "curl")
	dir := t.TempDir()
	tlsPKI(t, dir)
	writeTestFile(t, filepath.Join(dir, "web.yml"), "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\nbasic_auth_users:\n  prometheus: "+hashOf(t, "s3cret", 4)+"\nhttp_server_config:\n  headers:\n    X-Frame-Options: deny\n", 0o600)
	up := newUpstream(t)
	p := startProxy(t, dir, "web.yml", up.URL, 1)
	base := "https://" + p.addrs[0]
	ca := filepath.Join(dir, "ca.crt")

	t.Run("right password", func(t *testing.T) {
		code, out, err := curl(t, "--cacert", ca, "-u", "prometheus:s3cret", "-H", "X-Forwarded-For: 6.6.6.6", base+"/metrics?collect[]=cpu")
		if err != nil || code != 200 || !strings.Contains(out, "node_load1 0.5") {
			t.Fatalf("status %d, err %v\n%s", code, err, out)
		}
		for _, h := range []string{"x-exporter: node", "content-type: text/plain; version=0.0.4", "x-frame-options: deny"} {
			if !strings.Contains(strings.ToLower(out), h) {
				t.Errorf("response lacks %q:\n%s", h, out)
			}
		}
		hdr, uri := up.last(t)
		if uri != "/metrics?collect[]=cpu" {
			t.Errorf("upstream saw %q", uri)
		}
		if v, ok := hdr["Authorization"]; ok {
			t.Errorf("upstream saw the client's Authorization header %q", v)
		}
		if got := hdr.Get("X-Forwarded-For"); got != "127.0.0.1" {
			t.Errorf("upstream saw X-Forwarded-For %q, want 127.0.0.1 (the client's own value dropped)", got)
		}
		if got := hdr.Get("X-Forwarded-Proto"); got != "https" {
			t.Errorf("upstream saw X-Forwarded-Proto %q", got)
		}
	})
	t.Run("upstream status passes", func(t *testing.T) {
		code, out, _ := curl(t, "--cacert", ca, "-u", "prometheus:s3cret", base+"/nothing")
		if code != 404 || !strings.Contains(out, "no such page") {
			t.Errorf("status %d\n%s", code, out)
		}
	})
	t.Run("refused", func(t *testing.T) {
		before := up.requests()
		for _, args := range [][]string{
			{base + "/metrics"},
			{"-u", "prometheus:wrong", base + "/metrics"},
			{"-u", "nobody:s3cret", base + "/metrics"},
		} {
			code, out, _ := curl(t, append([]string{"--cacert", ca}, args...)...)
			if code != 401 {
				t.Errorf("curl %v: status %d, want 401\n%s", args, code, out)
			}
		}
		if up.requests() != before {
			t.Error("a refused request reached the upstream")
		}
	})
	t.Run("plain HTTP refused", func(t *testing.T) {
		code, out, _ := curl(t, "http://"+p.addrs[0]+"/metrics")
		if code == 200 {
			t.Errorf("plain HTTP served:\n%s", out)
		}
	})
}

// TestProxyMetricsPath: --web.telemetry-path serves the Guard's own metrics behind
// the same authentication, and every other path still goes upstream.
func TestProxyMetricsPath(t *testing.T) {
	need(t, "curl")
	dir := t.TempDir()
	tlsPKI(t, dir)
	writeTestFile(t, filepath.Join(dir, "web.yml"), "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\nbasic_auth_users:\n  prometheus: "+hashOf(t, "s3cret", 4)+"\n", 0o600)
	up := newUpstream(t)
	p := startProxy(t, dir, "web.yml", up.URL, 1, "--web.telemetry-path", "/webguard/metrics")
	base := "https://" + p.addrs[0]
	ca := filepath.Join(dir, "ca.crt")

	code, out, err := curl(t, "--cacert", ca, "-u", "prometheus:s3cret", base+"/webguard/metrics")
	if err != nil || code != 200 {
		t.Fatalf("status %d, err %v\n%s", code, err, out)
	}
	for _, want := range []string{"webguard_config_last_reload_successful 1", `webguard_tls_certificate_expiry_timestamp_seconds{kind="server"`} {
		if !strings.Contains(out, want) {
			t.Errorf("metrics lack %q:\n%s", want, out)
		}
	}
	if up.requests() != 0 {
		t.Error("the metrics path was forwarded upstream")
	}
	if code, _, _ := curl(t, "--cacert", ca, base+"/webguard/metrics"); code != 401 {
		t.Errorf("metrics without credentials: %d", code)
	}
	if code, out, _ := curl(t, "--cacert", ca, "-u", "prometheus:s3cret", base+"/metrics"); code != 200 || !strings.Contains(out, "node_load1") {
		t.Errorf("/metrics with --metrics-path set: %d\n%s", code, out)
	}
}

func TestProxyUpstreamDown(t *testing.T) {
	need(t, "curl")
	dir := t.TempDir()
	writeTestFile(t, filepath.Join(dir, "web.yml"), "", 0o600)
	p := startProxy(t, dir, "web.yml", "http://127.0.0.1:"+freePort(t), 1, "--insecure-no-protection")
	code, out, err := curl(t, "http://"+p.addrs[0]+"/metrics")
	if err != nil || code != http.StatusBadGateway {
		t.Fatalf("status %d, err %v, want 502\n%s", code, err, out)
	}
	p.waitLog(t, "upstream unreachable")
	if !strings.Contains(p.logs.String(), "connection refused") {
		t.Errorf("the log does not say why:\n%s", p.logs)
	}
}

// TestProxyMutualTLSWithCerts is the operator's path: webguard certs makes the
// PKI, its printed web.yml configures the proxy, and only a client with the
// client certificate gets through, with curl, openssl s_client and the
// printed Prometheus tls_config.
func TestProxyMutualTLSWithCerts(t *testing.T) {
	need(t, "curl")
	need(t, "openssl")
	dir := t.TempDir()
	for _, args := range [][]string{
		{"certs", "ca", "--out", "pki"},
		{"certs", "client", "--ca", "pki", "--out", "pki", "--cn", "prometheus"},
	} {
		if r := run(t, dir, "", args...); r.code != 0 {
			t.Fatal(r)
		}
	}
	server := run(t, dir, "", "certs", "server", "--ca", "pki", "--out", "pki", "--host", "localhost,127.0.0.1")
	if server.code != 0 {
		t.Fatal(server)
	}
	writeTestFile(t, filepath.Join(dir, "web.yml"), snippet(server.stdout, "tls_server_config:"), 0o600)
	up := newUpstream(t)
	p := startProxy(t, dir, "web.yml", up.URL, 1)
	url := "https://" + p.addrs[0] + "/metrics"
	f := func(name string) string { return filepath.Join(dir, "pki", name) }

	code, out, err := curl(t, "--cacert", f("ca.crt"), "--cert", f("client.crt"), "--key", f("client.key"), url)
	if err != nil || code != 200 || !strings.Contains(out, "node_load1") {
		t.Errorf("curl with the client certificate: status %d, err %v\n%s", code, err, out)
	}
	code, out, err = curl(t, "--cacert", f("ca.crt"), url)
	if err == nil || code == 200 {
		t.Errorf("curl without a client certificate: status %d, err %v\n%s", code, err, out)
	}

	// openssl s_client: the chain verifies and the client certificate is
	// accepted (the request gets an answer).
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	sc := exec.CommandContext(ctx, need(t, "openssl"), "s_client", "-connect", p.addrs[0], "-servername", "localhost",
		"-CAfile", f("ca.crt"), "-cert", f("client.crt"), "-key", f("client.key"), "-verify_return_error", "-ign_eof")
	sc.Stdin = strings.NewReader("GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
	scOut, err := sc.CombinedOutput()
	if err != nil || !strings.Contains(string(scOut), "Verify return code: 0 (ok)") || !strings.Contains(string(scOut), "node_load1") {
		t.Errorf("openssl s_client: %v\n%s", err, scOut)
	}

	// The printed Prometheus tls_config, loaded by Prometheus' own code.
	tc := promTLSConfig(t, server.stdout)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: tc}, Timeout: 20 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		t.Fatalf("scrape with the printed tls_config: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Contains(body, []byte("node_load1")) {
		t.Errorf("scrape with the printed tls_config: %s\n%s", resp.Status, body)
	}
	// The same without the client certificate fails.
	tc.Certificates, tc.GetClientCertificate = nil, nil
	bare := &http.Client{Transport: &http.Transport{TLSClientConfig: tc}, Timeout: 20 * time.Second}
	if resp, err := bare.Get(url); err == nil {
		resp.Body.Close()
		t.Errorf("scrape without a client certificate: %s", resp.Status)
	}
}

// promTLSConfig parses the tls_config block the certs command printed with
// prometheus/common/config, as Prometheus does.
func promTLSConfig(t *testing.T, out string) *tls.Config {
	t.Helper()
	_, block, ok := strings.Cut(out, "    tls_config:\n")
	if !ok {
		t.Fatalf("no tls_config in:\n%s", out)
	}
	var lines []string
	for line := range strings.Lines(block) {
		if !strings.HasPrefix(line, "      ") {
			break
		}
		lines = append(lines, strings.TrimPrefix(line, "      "))
	}
	var cfg commoncfg.TLSConfig
	if err := yaml.Unmarshal([]byte(strings.Join(lines, "")), &cfg); err != nil {
		t.Fatalf("tls_config: %v\n%s", err, strings.Join(lines, ""))
	}
	tc, err := commoncfg.NewTLSConfig(&cfg)
	if err != nil {
		t.Fatalf("tls_config: %v", err)
	}
	return tc
}

// TestProxySignals: a change that lowers security is held back by the file
// watcher and applied by SIGHUP, unless it would leave the proxy without
// TLS and basic auth, which not even SIGHUP applies; SIGTERM stops the
// proxy with status 0.
func TestProxySignals(t *testing.T) {
	need(t, "curl")
	dir := t.TempDir()
	cfg := filepath.Join(dir, "web.yml")
	users := "basic_auth_users:\n  prometheus: " + hashOf(t, "s3cret", 4) + "\n"
	writeTestFile(t, cfg, users, 0o600)
	up := newUpstream(t)
	p := startProxy(t, dir, "web.yml", up.URL, 2)
	// The Guard logs the config's warnings once, with file, line and field.
	const warning = `file=web.yml line=1 field=basic_auth_users`
	p.waitLog(t, warning)
	if n := strings.Count(p.logs.String(), warning); n != 1 {
		t.Fatalf("warning logged %d times, want once:\n%s", n, p.logs)
	}

	for _, a := range p.addrs {
		if code, out, _ := curl(t, "http://"+a+"/metrics"); code != 401 {
			t.Fatalf("%s without credentials: %d\n%s", a, code, out)
		}
	}
	// Remove every user: refused by the watcher, and by SIGHUP.
	writeTestFile(t, cfg, "", 0o600)
	p.waitLog(t, `msg="web config reload failed; serving the previous config" file=web.yml err="turns on neither TLS`)
	p.signal(t, syscall.SIGHUP)
	p.waitLog(t, "SIGHUP")
	p.waitCount(t, `msg="web config reload failed; serving the previous config"`, 2)
	if code, _, _ := curl(t, "http://"+p.addrs[0]+"/metrics"); code != 401 {
		t.Fatalf("the emptied config was applied: %d\n%s", code, p.logs)
	}

	// Open /metrics to anyone while keeping the users: a downgrade the
	// watcher holds back and SIGHUP applies.
	writeTestFile(t, cfg, users+"http_server_config:\n  unauthenticated_paths: [/metrics]\n", 0o600)
	p.waitLog(t, "held back")
	if code, _, _ := curl(t, "http://"+p.addrs[0]+"/metrics"); code != 401 {
		t.Fatalf("the downgrade was applied without SIGHUP: %d", code)
	}
	p.signal(t, syscall.SIGHUP)
	p.waitCount(t, `msg="SIGHUP: reloading the web config"`, 2)
	var code int
	for range 200 {
		if code, _, _ = curl(t, "http://"+p.addrs[1]+"/metrics"); code == 200 {
			break
		}
		time.Sleep(25 * time.Millisecond)
	}
	if code != 200 {
		t.Fatalf("after SIGHUP: %d\n%s", code, p.logs)
	}

	p.signal(t, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		t.Fatalf("still running after SIGTERM\n%s", p.logs)
	}
	if p.err != nil {
		t.Errorf("exit after SIGTERM: %v\n%s", p.err, p.logs)
	}
	if !strings.Contains(p.logs.String(), "shutting down") {
		t.Errorf("no shutdown log:\n%s", p.logs)
	}
}

func TestProxyUsage(t *testing.T) {
	dir := t.TempDir()
	writeTestFile(t, filepath.Join(dir, "web.yml"), "basic_auth_users:\n  prometheus: "+hashOf(t, "s3cret", 4)+"\n", 0o600)
	writeTestFile(t, filepath.Join(dir, "empty.yml"), "", 0o600)
	writeTestFile(t, filepath.Join(dir, "bad.yml"), "tls_server_config:\n  cert_file: nope.crt\n  key_file: nope.key\n", 0o600)
	up := []string{"--web.config.file", "web.yml", "--upstream", "http://127.0.0.1:9"}
	tests := []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"no config", []string{"--upstream", "http://127.0.0.1:9"}, 2, "--web.config.file is required"},
		{"no upstream", []string{"--web.config.file", "web.yml"}, 2, "--upstream: required"},
		{"upstream not a URL", []string{"--web.config.file", "web.yml", "--upstream", "127.0.0.1:9101"}, 2, "want http://HOST:PORT, https://HOST:PORT or unix:///PATH"},
		{"upstream with a path", []string{"--web.config.file", "web.yml", "--upstream", "http://127.0.0.1:9101/metrics"}, 2, `has a path (/metrics): the proxy forwards each request's own path, so give the upstream as http://127.0.0.1:9101`},
		{"upstream with a query", []string{"--web.config.file", "web.yml", "--upstream", "http://127.0.0.1:9101?x=1"}, 2, "a query or fragment is not supported"},
		{"unix upstream without its path", []string{"--web.config.file", "web.yml", "--upstream", "unix://run/x.sock"}, 2, "want unix:///ABSOLUTE/PATH"},
		{"several unnamed upstreams", []string{"--web.config.file", "web.yml", "--upstream", "http://127.0.0.1:9", "--upstream", "b=http://127.0.0.1:8"}, 2, "give each a name, as NAME=http://127.0.0.1:9"},
		{"a name twice", []string{"--web.config.file", "web.yml", "--upstream", "a=http://127.0.0.1:9", "--upstream", "a=http://127.0.0.1:8"}, 2, `the name "a" is given twice`},
		{"a bad name", []string{"--web.config.file", "web.yml", "--upstream", "a/b=http://127.0.0.1:9"}, 2, `name "a/b"`},
		{"upstream TLS without https", append(up, "--upstream.ca-file", "ca.crt"), 2, "apply to https:// upstreams, and none is given"},
		{"cert without key", []string{"--web.config.file", "web.yml", "--upstream", "https://127.0.0.1:9", "--upstream.cert-file", "c.crt"}, 2, "--upstream.cert-file and --upstream.key-file go together"},
		{"missing upstream CA", []string{"--web.config.file", "web.yml", "--upstream", "https://127.0.0.1:9", "--upstream.ca-file", "nope.crt"}, 1, "upstream TLS: stat nope.crt: no such file"},
		{"bad telemetry path", append(up, "--web.telemetry-path", "metrics"), 2, "--web.telemetry-path must start with /"},
		{"bad log level", append(up, "--log.level", "loud"), 2, `invalid value "loud" for flag -log.level`},
		{"bad log format", append(up, "--log.format", "xml"), 2, `invalid value "xml" for flag -log.format`},
		{"broken config", []string{"--web.config.file", "bad.yml", "--upstream", "http://127.0.0.1:9"}, 1, "bad.yml:2: tls_server_config.cert_file: cannot read"},
		{"empty config", []string{"--web.config.file", "empty.yml", "--upstream", "http://127.0.0.1:9"}, 1, "empty.yml turns on neither TLS (tls_server_config) nor basic auth (basic_auth_users): the proxy would forward plain HTTP to anyone who can reach it; configure one, or pass --insecure-no-protection"},
		{"bad listen address", append(up, "--web.listen-address", "256.0.0.1:1"), 1, "cannot serve"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := run(t, dir, "", append([]string{"proxy"}, tt.args...)...)
			if r.code != tt.code || !strings.Contains(r.stderr, tt.stderr) {
				t.Errorf("got %s\nwant exit %d, stderr with %q", r, tt.code, tt.stderr)
			}
			// A usage error is one line and a pointer to --help, not the
			// whole help.
			if tt.code == exitUsage {
				want := "webguard proxy: "
				if lines := strings.Split(strings.TrimSpace(r.stderr), "\n"); len(lines) != 2 || !strings.HasPrefix(lines[0], want) || lines[1] != `Run "webguard proxy --help" for usage.` {
					t.Errorf("usage error is not one line and a pointer to --help:\n%s", r.stderr)
				}
			}
		})
	}
}

// TestProxyMetricsPathAlias: --metrics-path, the flag's former name, still
// works, with a warning, and is not in --help.
func TestProxyMetricsPathAlias(t *testing.T) {
	up := newUpstream(t)
	p, dir := protectedProxy(t, up.URL, "--metrics-path=/webguard/metrics")
	p.waitLog(t, `msg="--metrics-path is deprecated; use --web.telemetry-path"`)
	if code, _, body := get(t, dir, "https://"+p.addrs[0]+"/webguard/metrics"); code != 200 || !strings.Contains(body, "webguard_config_last_reload_successful 1") {
		t.Errorf("%d\n%s", code, body)
	}
	if up.requests() != 0 {
		t.Error("the metrics path was forwarded upstream")
	}
	// --help, which also no longer says an empty config serves plain HTTP.
	if r := run(t, "", "", "proxy", "--help"); strings.Contains(r.stdout, "metrics-path") || !strings.Contains(r.stdout, "--web.telemetry-path PATH") ||
		strings.Contains(r.stdout, "empty serves plain HTTP") || !strings.Contains(r.stdout, "it must turn on TLS or basic auth (required)") {
		t.Errorf("--help:\n%s", r.stdout)
	}
}
