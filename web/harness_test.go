package web

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/webguard/webguard/bcrypt"
	"github.com/webguard/webguard/internal/pki"
)

// testPKI is a CA with a server certificate for 127.0.0.1 and the client
// certificates the tests present, the CA's files written to dir.
type testPKI struct {
	dir                          string
	ca, otherCA                  *pki.Cert
	server                       *pki.Cert
	client, wrongCA, expired     *pki.Cert
	caFile, serverCrt, serverKey string
}

func newTestPKI(t *testing.T) *testPKI {
	t.Helper()
	p := &testPKI{dir: t.TempDir()}
	var err error
	must := func(c *pki.Cert, e error) *pki.Cert {
		t.Helper()
		if e != nil {
			t.Fatal(e)
		}
		return c
	}
	p.ca = must(pki.NewCA(pki.Request{}))
	p.otherCA = must(pki.NewCA(pki.Request{CommonName: "other CA"}))
	p.server = must(p.ca.Server(pki.Request{Hosts: []string{"127.0.0.1", "localhost"}}))
	p.client = must(p.ca.Client(pki.Request{CommonName: "scraper", Hosts: []string{"scraper.example"}}))
	p.wrongCA = must(p.otherCA.Client(pki.Request{CommonName: "scraper", Hosts: []string{"scraper.example"}}))
	p.expired = must(p.ca.Client(pki.Request{CommonName: "scraper", Hosts: []string{"scraper.example"}, Validity: -time.Hour}))
	p.caFile = filepath.Join(p.dir, "ca.crt")
	p.serverCrt = filepath.Join(p.dir, "server.crt")
	p.serverKey = filepath.Join(p.dir, "server.key")
	if err = p.ca.WriteFiles(p.caFile, ""); err != nil {
		t.Fatal(err)
	}
	if err = p.server.WriteFiles(p.serverCrt, p.serverKey); err != nil {
		t.Fatal(err)
	}
	return p
}

// tlsSection is a tls_server_config with the PKI's server certificate and
// extra lines (indented by the caller with two spaces).
func (p *testPKI) tlsSection(extra ...string) string {
	s := "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"
	for _, e := range extra {
		s += "  " + e + "\n"
	}
	return s
}

// client returns an HTTP client that trusts the PKI's CA and presents cert
// (none when nil) whenever the server asks, whatever CAs the server names.
func (p *testPKI) httpClient(cert *pki.Cert, mod ...func(*tls.Config)) *http.Client {
	tc := &tls.Config{RootCAs: p.ca.Pool()}
	if cert != nil {
		c := cert.TLSCertificate()
		tc.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &c, nil }
	}
	for _, m := range mod {
		m(tc)
	}
	return &http.Client{
		Transport: &http.Transport{TLSClientConfig: tc, ForceAttemptHTTP2: true, DisableKeepAlives: true},
		Timeout:   10 * time.Second,
	}
}

// writeFile writes data to name in dir and returns the path.
func putFile(t testing.TB, dir, name, data string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// hash returns a cheap bcrypt hash of password.
func testHash(t testing.TB, password string) string {
	t.Helper()
	h, err := bcrypt.Hash([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return string(h)
}

// newGuard writes yml as web.yml in dir and returns a Guard for it, closed
// at cleanup.
func newGuard(t *testing.T, dir, yml string, logger *slog.Logger) *Guard {
	t.Helper()
	return newGuardWith(t, dir, yml, Options{Logger: logger})
}

// newGuardWith is newGuard with more options; opts.ConfigFile is set to
// the web.yml written from yml.
func newGuardWith(t *testing.T, dir, yml string, opts Options) *Guard {
	t.Helper()
	opts.ConfigFile = putFile(t, dir, "web.yml", yml)
	g, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { g.Close() })
	return g
}

// okHandler answers 200 with the protocol it was reached by.
var okHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	fmt.Fprintf(w, "ok %s", r.Proto)
})

// serve serves g on a new 127.0.0.1:0 listener and returns the base URL
// (https when TLS is on) and the server. The server is closed, and Serve's
// return awaited, at cleanup.
func startServing(t *testing.T, g *Guard) (string, *http.Server) {
	t.Helper()
	return serveHandler(t, g, okHandler)
}

// serveHandler is startServing with h as the server's handler.
func serveHandler(t *testing.T, g *Guard, h http.Handler) (string, *http.Server) {
	t.Helper()
	srv := &http.Server{Handler: h}
	addr := serveServer(t, g, srv)
	scheme := "http"
	if g.TLSConfig() != nil {
		scheme = "https"
	}
	return scheme + "://" + addr, srv
}

// serveServer is serveHandler for a server the test configured itself.
func serveServer(t *testing.T, g *Guard, srv *http.Server) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- g.Serve(l, srv) }()
	t.Cleanup(func() {
		srv.Close()
		if err := <-done; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("Serve returned %v, want http.ErrServerClosed", err)
		}
	})
	return l.Addr().String()
}

// get does a GET and returns the response with its body read.
func fetch(t *testing.T, c *http.Client, url string, mod ...func(*http.Request)) (*http.Response, string, error) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range mod {
		m(req)
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, string(b), err
}

// mustGet is get that fails the test on a transport error or an unexpected
// status.
func mustGet(t *testing.T, c *http.Client, url string, want int, mod ...func(*http.Request)) *http.Response {
	t.Helper()
	resp, body, err := fetch(t, c, url, mod...)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	if resp.StatusCode != want {
		t.Fatalf("GET %s: status %d (%q), want %d", url, resp.StatusCode, body, want)
	}
	return resp
}

// eventuallyCount waits until the counter of a reason reaches want: the
// server counts a failed handshake when net/http logs it, which may be
// after the client has seen the failure. The wait is bounded.
func eventuallyCount(t *testing.T, what string, read func() float64, want float64) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := read()
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s = %v, want %v", what, got, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// value reads a counter or gauge.
func metricValue(m prometheus.Metric) float64 {
	var d dto.Metric
	if err := m.Write(&d); err != nil {
		panic(err)
	}
	if d.Counter != nil {
		return d.Counter.GetValue()
	}
	return d.Gauge.GetValue()
}

func handshakeFailures(g *Guard, reason string) func() float64 {
	return func() float64 { return metricValue(g.metrics.handshakes.WithLabelValues(reason)) }
}

func authFailures(g *Guard, reason string) float64 {
	return metricValue(g.metrics.auth.WithLabelValues(reason))
}

// logRecorder is a slog.Handler that keeps every record, for asserting on
// what was logged.
type logRecorder struct {
	mu      sync.Mutex
	records []string // "LEVEL msg key=value ..."
}

func newLogRecorder() (*logRecorder, *slog.Logger) {
	r := &logRecorder{}
	return r, slog.New(r)
}

func (r *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *logRecorder) WithAttrs([]slog.Attr) slog.Handler       { return r }
func (r *logRecorder) WithGroup(string) slog.Handler            { return r }
func (r *logRecorder) Handle(_ context.Context, rec slog.Record) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s", rec.Level, rec.Message)
	rec.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	})
	r.mu.Lock()
	r.records = append(r.records, b.String())
	r.mu.Unlock()
	return nil
}

// matching returns the records that contain every one of parts.
func (r *logRecorder) matching(parts ...string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
next:
	for _, rec := range r.records {
		for _, p := range parts {
			if !strings.Contains(rec, p) {
				continue next
			}
		}
		out = append(out, rec)
	}
	return out
}
