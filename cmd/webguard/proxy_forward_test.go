package main

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// caPool reads dir/ca.crt, as written by tlsPKI.
func caPool(t *testing.T, dir string) *x509.CertPool {
	t.Helper()
	pem, err := os.ReadFile(filepath.Join(dir, "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatal("no certificate in ca.crt")
	}
	return pool
}

// rawConn opens a TLS connection to addr that speaks HTTP/1.1 by hand, so
// that a test can send exactly the headers it means.
type rawConn struct {
	conn net.Conn
	br   *bufio.Reader
}

func dialRaw(t *testing.T, addr string, roots *x509.CertPool) *rawConn {
	t.Helper()
	d := &net.Dialer{Timeout: 10 * time.Second}
	c, err := tls.DialWithDialer(d, "tcp", addr, &tls.Config{RootCAs: roots, ServerName: "localhost", NextProtos: []string{"http/1.1"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(20 * time.Second))
	return &rawConn{conn: c, br: bufio.NewReader(c)}
}

// roundTrip sends head (request line and headers, without the blank line)
// and reads the answer.
func (rc *rawConn) roundTrip(t *testing.T, head string) (*http.Response, string) {
	t.Helper()
	if _, err := io.WriteString(rc.conn, strings.ReplaceAll(strings.TrimSpace(head), "\n", "\r\n")+"\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(rc.br, nil)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(body)
}

func basic(user, password string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+password))
}

// protectedProxy starts a proxy with TLS and the user prometheus:s3cret in
// front of upstreamURL, returning its address and the directory of its PKI.
func protectedProxy(t *testing.T, upstreamURL string, extra ...string) (*proxyProc, string) {
	t.Helper()
	dir := t.TempDir()
	tlsPKI(t, dir)
	writeTestFile(t, filepath.Join(dir, "web.yml"), "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\nbasic_auth_users:\n  prometheus: "+hashOf(t, "s3cret", 4)+"\nhttp_server_config:\n  headers:\n    X-Frame-Options: deny\n", 0o600)
	return startProxy(t, dir, "web.yml", upstreamURL, 1, extra...), dir
}

// TestProxyHeaders: the upstream never sees the client's credentials, its
// hop-by-hop headers or its own X-Forwarded-*/X-Real-Ip/Forwarded; the
// proxy sets those from the connection. The upstream's hop-by-hop headers
// do not reach the client, and web.yml's security headers win over the
// upstream's.
func TestProxyHeaders(t *testing.T) {
	var mu sync.Mutex
	var got http.Header
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = r.Header.Clone()
		got.Set("Host", r.Host)
		mu.Unlock()
		w.Header().Set("Connection", "X-Up-Hop")
		w.Header().Set("X-Up-Hop", "1")
		w.Header().Set("Keep-Alive", "timeout=1")
		w.Header().Set("X-Frame-Options", "sameorigin")
		w.Header().Set("X-Exporter", "node")
		io.WriteString(w, "node_load1 0.5\n")
	}))
	t.Cleanup(up.Close)
	p, dir := protectedProxy(t, up.URL)
	rc := dialRaw(t, p.addrs[0], caPool(t, dir))

	resp, body := rc.roundTrip(t, `
GET /metrics?x=1 HTTP/1.1
Host: localhost
Authorization: `+basic("prometheus", "s3cret")+`
Connection: keep-alive, X-Hop
X-Hop: secret-hop
Keep-Alive: timeout=5
Proxy-Authorization: `+basic("proxy", "pw")+`
Proxy-Connection: keep-alive
Te: trailers
Upgrade: websocket
X-Real-IP: 6.6.6.6
X-Forwarded-For: 6.6.6.6
X-Forwarded-Host: evil.example
X-Forwarded-Proto: http
Forwarded: for=6.6.6.6
X-End-To-End: kept`)
	if resp.StatusCode != 200 || body != "node_load1 0.5\n" {
		t.Fatalf("%s: %q", resp.Status, body)
	}
	mu.Lock()
	hdr := got
	mu.Unlock()
	for _, k := range []string{"Authorization", "Proxy-Authorization", "Connection", "Proxy-Connection", "X-Hop", "Keep-Alive", "Te", "Upgrade", "Forwarded"} {
		if v, ok := hdr[k]; ok {
			t.Errorf("the upstream saw %s: %q", k, v)
		}
	}
	for k, want := range map[string]string{
		"X-Real-Ip":         "127.0.0.1",
		"X-Forwarded-For":   "127.0.0.1",
		"X-Forwarded-Host":  "localhost",
		"X-Forwarded-Proto": "https",
		"X-End-To-End":      "kept",
		"Host":              strings.TrimPrefix(up.URL, "http://"),
	} {
		if v := hdr.Values(k); len(v) != 1 || v[0] != want {
			t.Errorf("the upstream saw %s: %q, want %q", k, v, want)
		}
	}
	for _, k := range []string{"X-Up-Hop", "Keep-Alive"} {
		if v, ok := resp.Header[k]; ok {
			t.Errorf("the client got the upstream's hop-by-hop %s: %q", k, v)
		}
	}
	if v := resp.Header.Values("X-Frame-Options"); len(v) != 1 || v[0] != "deny" {
		t.Errorf("X-Frame-Options: %q, want web.yml's deny alone", v)
	}
	if v := resp.Header.Get("X-Exporter"); v != "node" {
		t.Errorf("X-Exporter: %q", v)
	}

	// The same connection carries a second request: the answer was framed.
	resp, body = rc.roundTrip(t, "GET /metrics HTTP/1.1\nHost: localhost\nAuthorization: "+basic("prometheus", "s3cret"))
	if resp.StatusCode != 200 || body != "node_load1 0.5\n" {
		t.Fatalf("second request: %s: %q", resp.Status, body)
	}
	// Wrong credentials never reach the upstream, on the same connection.
	mu.Lock()
	got = nil
	mu.Unlock()
	resp, _ = rc.roundTrip(t, "GET /metrics HTTP/1.1\nHost: localhost\nAuthorization: "+basic("prometheus", "wrong"))
	mu.Lock()
	defer mu.Unlock()
	if resp.StatusCode != 401 || got != nil {
		t.Errorf("wrong password: %s, upstream saw %v", resp.Status, got)
	}
}

// upgradeUpstream answers Upgrade: websocket with 101 and then echoes, and
// records whether any request it saw asked to upgrade.
type upgradeUpstream struct {
	*httptest.Server
	mu       sync.Mutex
	upgrades []string // Upgrade and HTTP2-Settings headers seen
}

func newUpgradeUpstream(t *testing.T) *upgradeUpstream {
	u := &upgradeUpstream{}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.mu.Lock()
		u.upgrades = append(u.upgrades, r.Header.Values("Upgrade")...)
		u.upgrades = append(u.upgrades, r.Header.Values("Http2-Settings")...)
		u.mu.Unlock()
		if r.Header.Get("Upgrade") != "websocket" {
			io.WriteString(w, "plain answer\n")
			return
		}
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
		brw.Flush()
		conn.SetDeadline(time.Now().Add(20 * time.Second))
		line, err := brw.ReadString('\n')
		if err == nil {
			io.WriteString(conn, "echo "+line)
		}
	}))
	t.Cleanup(u.Close)
	return u
}

func (u *upgradeUpstream) seen() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]string(nil), u.upgrades...)
}

// TestProxyUpgrade: without --upstream.allow-upgrade, WebSocket and h2c
// upgrade requests reach the upstream as plain requests (after which every
// request is still checked); with it, a WebSocket-style upgrade works.
func TestProxyUpgrade(t *testing.T) {
	ws := "GET /ws HTTP/1.1\nHost: localhost\nAuthorization: " + basic("prometheus", "s3cret") + "\nConnection: Upgrade\nUpgrade: websocket\nSec-WebSocket-Version: 13"
	h2c := "GET /metrics HTTP/1.1\nHost: localhost\nAuthorization: " + basic("prometheus", "s3cret") + "\nConnection: Upgrade, HTTP2-Settings\nUpgrade: h2c\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA"

	t.Run("refused by default", func(t *testing.T) {
		up := newUpgradeUpstream(t)
		p, dir := protectedProxy(t, up.URL)
		rc := dialRaw(t, p.addrs[0], caPool(t, dir))
		for _, req := range []string{ws, h2c} {
			resp, body := rc.roundTrip(t, req)
			if resp.StatusCode != 200 || body != "plain answer\n" {
				t.Errorf("%s: %q", resp.Status, body)
			}
		}
		if s := up.seen(); len(s) != 0 {
			t.Errorf("the upstream saw upgrade headers %q", s)
		}
		// The connection still speaks HTTP, and still checks each request.
		resp, _ := rc.roundTrip(t, "GET /metrics HTTP/1.1\nHost: localhost")
		if resp.StatusCode != 401 {
			t.Errorf("request without credentials after the upgrade attempts: %s", resp.Status)
		}
	})
	t.Run("allowed", func(t *testing.T) {
		up := newUpgradeUpstream(t)
		p, dir := protectedProxy(t, up.URL, "--upstream.allow-upgrade")
		rc := dialRaw(t, p.addrs[0], caPool(t, dir))
		resp, _ := func() (*http.Response, string) {
			io.WriteString(rc.conn, strings.ReplaceAll(ws, "\n", "\r\n")+"\r\n\r\n")
			resp, err := http.ReadResponse(rc.br, nil)
			if err != nil {
				t.Fatal(err)
			}
			return resp, ""
		}()
		if resp.StatusCode != http.StatusSwitchingProtocols || resp.Header.Get("Upgrade") != "websocket" {
			t.Fatalf("upgrade: %s %v", resp.Status, resp.Header)
		}
		io.WriteString(rc.conn, "hello\n")
		line, err := rc.br.ReadString('\n')
		if err != nil || line != "echo hello\n" {
			t.Errorf("after the switch: %q, %v", line, err)
		}
		// Without credentials, no upgrade.
		rc2 := dialRaw(t, p.addrs[0], caPool(t, dir))
		resp, _ = rc2.roundTrip(t, "GET /ws HTTP/1.1\nHost: localhost\nConnection: Upgrade\nUpgrade: websocket")
		if resp.StatusCode != 401 {
			t.Errorf("upgrade without credentials: %s", resp.Status)
		}
	})
}

// TestProxyRetriesClosedIdleConnection: an upstream that closed the idle
// connection the proxy kept costs the client nothing: the request goes out
// again on a new connection.
func TestProxyRetriesClosedIdleConnection(t *testing.T) {
	up := newUpstream(t)
	p, dir := protectedProxy(t, up.URL)
	rc := dialRaw(t, p.addrs[0], caPool(t, dir))
	req := "GET /metrics HTTP/1.1\nHost: localhost\nAuthorization: " + basic("prometheus", "s3cret")
	for i := range 3 {
		resp, body := rc.roundTrip(t, req)
		if resp.StatusCode != 200 || !strings.Contains(body, "node_load1") {
			t.Fatalf("request %d: %s %q\n%s", i, resp.Status, body, p.logs)
		}
		up.CloseClientConnections()
	}
	if up.requests() != 3 {
		t.Errorf("the upstream saw %d requests, want 3", up.requests())
	}
}

// TestProxyRequestBody: a body, with a length or chunked, reaches the
// upstream whole.
func TestProxyRequestBody(t *testing.T) {
	var mu sync.Mutex
	var bodies []string
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, r.Method+" "+string(b))
		mu.Unlock()
		io.WriteString(w, "ok")
	}))
	t.Cleanup(up.Close)
	p, dir := protectedProxy(t, up.URL)
	rc := dialRaw(t, p.addrs[0], caPool(t, dir))
	auth := "\nAuthorization: " + basic("prometheus", "s3cret")
	for _, req := range []string{
		"POST /a HTTP/1.1\nHost: localhost" + auth + "\nContent-Length: 5\n\nhello",
		"PUT /b HTTP/1.1\nHost: localhost" + auth + "\nTransfer-Encoding: chunked\n\n3\nabc\n2\nde\n0\n",
		"POST /c HTTP/1.1\nHost: localhost" + auth + "\nContent-Length: 0",
	} {
		head, body, _ := strings.Cut(req, "\n\n")
		wire := strings.ReplaceAll(head, "\n", "\r\n") + "\r\n\r\n" + strings.ReplaceAll(body, "\n", "\r\n")
		if strings.Contains(head, "chunked") {
			wire += "\r\n"
		}
		if _, err := io.WriteString(rc.conn, wire); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(rc.br, nil)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || string(b) != "ok" {
			t.Errorf("%s: %s %q", head, resp.Status, b)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if want := []string{"POST hello", "PUT abcde", "POST "}; strings.Join(bodies, "|") != strings.Join(want, "|") {
		t.Errorf("the upstream got %q, want %q", bodies, want)
	}
}

// TestProxyInsecureNoProtection: an empty web.yml is served only with
// --insecure-no-protection, and then with a warning.
func TestProxyInsecureNoProtection(t *testing.T) {
	need(t, "curl")
	dir := t.TempDir()
	writeTestFile(t, filepath.Join(dir, "web.yml"), "", 0o600)
	up := newUpstream(t)
	p := startProxy(t, dir, "web.yml", up.URL, 1, "--insecure-no-protection")
	p.waitLog(t, `level=WARN`)
	if !strings.Contains(p.logs.String(), `msg="serving without TLS or basic auth: anyone who can reach the proxy gets the upstream (--insecure-no-protection)"`) {
		t.Errorf("no warning:\n%s", p.logs)
	}
	if code, out, err := curl(t, "http://"+p.addrs[0]+"/metrics"); code != 200 || err != nil {
		t.Errorf("status %d, err %v\n%s", code, err, out)
	}
}

// BenchmarkForward is the forwarder alone, in process: a GET of a 20 KB
// page from a plain-HTTP upstream on 127.0.0.1 into a discarding
// ResponseWriter, on a kept-alive upstream connection. It shows the
// allocations per request; scripts/bench-proxy.sh measures the whole proxy.
func BenchmarkForward(b *testing.B) {
	page := strings.Repeat("bench_metric_total{series=\"000000\"} 1\n", 20<<10/40)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		io.WriteString(w, page)
	}))
	b.Cleanup(up.Close)
	u, err := parseUpstream(up.URL)
	if err != nil {
		b.Fatal(err)
	}
	f := &forwarder{up: u, logger: slog.New(slog.DiscardHandler), bufs: newBufPool()}
	req := httptest.NewRequest(http.MethodGet, "https://localhost/metrics", nil)
	req.RemoteAddr = "127.0.0.1:12345"
	b.ReportAllocs()
	for b.Loop() {
		w := discardWriter{h: http.Header{}}
		f.forward(&w, req, "/metrics")
		if w.code != 200 || w.n != int64(len(page)) {
			b.Fatalf("status %d, %d bytes", w.code, w.n)
		}
	}
}

// discardWriter is a ResponseWriter that counts what it is given.
type discardWriter struct {
	h    http.Header
	code int
	n    int64
}

func (d *discardWriter) Header() http.Header { return d.h }
func (d *discardWriter) WriteHeader(code int) {
	if d.code == 0 {
		d.code = code
	}
}
func (d *discardWriter) Write(p []byte) (int, error) {
	d.WriteHeader(200)
	d.n += int64(len(p))
	return len(p), nil
}

// TestProxyResponseFraming: a chunked answer that fits the proxy's buffer
// goes to the client with a Content-Length; a longer one streams through
// whole; HEAD and 204 answers carry no body.
func TestProxyResponseFraming(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/small":
			io.WriteString(w, strings.Repeat("a", 20<<10)) // over 2 KiB: chunked
		case "/large":
			for range 10 {
				io.WriteString(w, strings.Repeat("b", 10<<10))
				http.NewResponseController(w).Flush()
			}
		case "/empty":
			w.WriteHeader(http.StatusNoContent)
		}
	}))
	t.Cleanup(up.Close)
	p, dir := protectedProxy(t, up.URL)
	rc := dialRaw(t, p.addrs[0], caPool(t, dir))
	auth := "\nHost: localhost\nAuthorization: " + basic("prometheus", "s3cret")

	resp, body := rc.roundTrip(t, "GET /small HTTP/1.1"+auth)
	if resp.ContentLength != 20<<10 || len(body) != 20<<10 {
		t.Errorf("/small: Content-Length %d, %d bytes, chunked %v", resp.ContentLength, len(body), resp.TransferEncoding)
	}
	resp, body = rc.roundTrip(t, "GET /large HTTP/1.1"+auth)
	if resp.StatusCode != 200 || body != strings.Repeat("b", 100<<10) {
		t.Errorf("/large: %s, %d bytes", resp.Status, len(body))
	}
	resp, body = rc.roundTrip(t, "GET /empty HTTP/1.1"+auth)
	if resp.StatusCode != 204 || body != "" || resp.Header.Get("Content-Length") != "" {
		t.Errorf("/empty: %s %v %q", resp.Status, resp.Header, body)
	}
	// HEAD: http.ReadResponse would wait for a body that never comes if
	// the proxy sent one.
	if _, err := io.WriteString(rc.conn, strings.ReplaceAll("HEAD /small HTTP/1.1"+auth, "\n", "\r\n")+"\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodHead, "/small", nil)
	resp, err := http.ReadResponse(rc.br, req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("HEAD: %v %v", resp, err)
	}
	resp.Body.Close()
	resp, body = rc.roundTrip(t, "GET /small HTTP/1.1"+auth)
	if len(body) != 20<<10 {
		t.Errorf("after HEAD: %s, %d bytes", resp.Status, len(body))
	}
}

// TestProxyHTTP2: HTTP/2 clients, with concurrent streams on one
// connection, are forwarded over the idle upstream connections too.
func TestProxyHTTP2(t *testing.T) {
	up := newUpstream(t)
	p, dir := protectedProxy(t, up.URL)
	client := &http.Client{
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: caPool(t, dir)}, ForceAttemptHTTP2: true},
		Timeout:   20 * time.Second,
	}
	t.Cleanup(client.CloseIdleConnections)
	var wg sync.WaitGroup
	errs := make(chan string, 20)
	for i := range 20 {
		wg.Go(func() {
			req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("https://%s/metrics?i=%d", p.addrs[0], i), nil)
			req.SetBasicAuth("prometheus", "s3cret")
			resp, err := client.Do(req)
			if err != nil {
				errs <- err.Error()
				return
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != 200 || resp.ProtoMajor != 2 || string(b) != "node_load1 0.5\n" {
				errs <- fmt.Sprintf("%s %s %q", resp.Proto, resp.Status, b)
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if n := up.requests(); n != 20 {
		t.Errorf("the upstream saw %d requests, want 20", n)
	}
}

// TestProxyUpstreamCutsOff: an upstream that dies within the first
// buffer's worth of its body gets the client a clean 502, without the
// upstream's headers.
func TestProxyUpstreamCutsOff(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.SetDeadline(time.Now().Add(20 * time.Second))
			http.ReadRequest(bufio.NewReader(c))
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\nContent-Encoding: gzip\r\nX-Exporter: node\r\n\r\nshort")
			c.Close()
		}
	}()
	p, dir := protectedProxy(t, "http://"+l.Addr().String())
	rc := dialRaw(t, p.addrs[0], caPool(t, dir))
	resp, body := rc.roundTrip(t, "GET /metrics HTTP/1.1\nHost: localhost\nAuthorization: "+basic("prometheus", "s3cret"))
	if resp.StatusCode != http.StatusBadGateway || resp.Header.Get("Content-Encoding") != "" || resp.Header.Get("X-Exporter") != "" {
		t.Errorf("%s %v %q", resp.Status, resp.Header, body)
	}
	p.waitLog(t, "unexpected EOF")
}
