package web

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/webguard/webguard/internal/pki"
)

func TestNewAndValidateErrors(t *testing.T) {
	p := newTestPKI(t)
	for _, tt := range []struct {
		name, yml, want string
	}{
		{"unknown field", "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  client_auth: x\n", "web.yml:4: tls_server_config.client_auth: unknown field"},
		{"missing key file", "tls_server_config:\n  cert_file: server.crt\n  key_file: nope.key\n", "web.yml:3: tls_server_config.key_file: cannot read"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := putFile(t, p.dir, "bad.yml", tt.yml)
			want := strings.Replace(tt.want, "web.yml", path, 1)
			if _, err := New(Options{ConfigFile: path}); err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("New: %v, want %q", err, want)
			}
			if err := Validate(path); err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("Validate: %v, want %q", err, want)
			}
		})
	}
	if err := Validate(""); err != nil {
		t.Errorf("Validate(\"\") = %v", err)
	}
	if err := Validate(putFile(t, p.dir, "good.yml", p.tlsSection())); err != nil {
		t.Errorf("Validate(good) = %v", err)
	}
}

// reloadable is a running TLS Guard whose web.yml the test rewrites.
type reloadable struct {
	g    *Guard
	p    *testPKI
	url  string
	srv  *http.Server
	logs *logRecorder
}

func newReloadable(t *testing.T, yml string) *reloadable {
	t.Helper()
	p := newTestPKI(t)
	logs, logger := newLogRecorder()
	g := newGuard(t, p.dir, yml, logger)
	// Explicit reloads only: the watcher would apply the same writes again,
	// and the tests count reloads.
	g.watchOpts = watchOptions{debounce: time.Hour, pollEvery: time.Hour}
	url, srv := startServing(t, g)
	return &reloadable{g: g, p: p, url: url, srv: srv, logs: logs}
}

func (r *reloadable) reload(t *testing.T, yml string) error {
	t.Helper()
	putFile(t, r.p.dir, "web.yml", yml)
	return r.g.Reload()
}

func TestExplicitReloadKeepsLastGood(t *testing.T) {
	r := newReloadable(t, "")
	// Without the watcher, which would count the same files' changes too.
	r.g.Close()
	alice := "basic_auth_users:\n  alice: " + testHash(t, "a") + "\n"
	if err := r.reload(t, alice); err != nil {
		t.Fatalf("Reload: %v", err)
	}
	c := http.DefaultClient
	mustGet(t, c, r.url, http.StatusUnauthorized)
	mustGet(t, c, r.url, http.StatusOK, basicAuth("alice", "a"))

	err := r.reload(t, alice+"rate_limit:\n  burst: many\n")
	if err == nil || !strings.Contains(err.Error(), "web.yml:4: rate_limit.burst") {
		t.Fatalf("Reload of a broken file: %v", err)
	}
	mustGet(t, c, r.url, http.StatusUnauthorized)
	mustGet(t, c, r.url, http.StatusOK, basicAuth("alice", "a"))
	if got := metricValue(r.g.metrics.reloadOK); got != 0 {
		t.Errorf("last_reload_successful = %v after a failure", got)
	}
	if got := metricValue(r.g.metrics.reloads.WithLabelValues(reloadFailure)); got != 1 {
		t.Errorf("reloads{failure} = %v", got)
	}
	if lines := r.logs.matching("ERROR", "reload failed", "file=", "rate_limit.burst"); len(lines) != 1 {
		t.Errorf("want one error line naming file and field, got %q", lines)
	}

	// A file that cannot be read is a failure too, and keeps the config.
	os.Remove(filepath.Join(r.p.dir, "web.yml"))
	if err := r.g.Reload(); err == nil {
		t.Fatal("Reload of a missing file succeeded")
	}
	mustGet(t, c, r.url, http.StatusOK, basicAuth("alice", "a"))

	if err := r.reload(t, "basic_auth_users:\n  bob: "+testHash(t, "b")+"\n"); err != nil {
		t.Fatal(err)
	}
	mustGet(t, c, r.url, http.StatusUnauthorized, basicAuth("alice", "a"))
	mustGet(t, c, r.url, http.StatusOK, basicAuth("bob", "b"))
	if got := metricValue(r.g.metrics.reloadOK); got != 1 {
		t.Errorf("last_reload_successful = %v after a success", got)
	}
	if got := metricValue(r.g.metrics.reloads.WithLabelValues(reloadSuccess)); got != 2 {
		t.Errorf("reloads{success} = %v", got)
	}
}

func TestExplicitReloadTLS(t *testing.T) {
	p := newTestPKI(t)
	logs, logger := newLogRecorder()
	g := newGuard(t, p.dir, p.tlsSection(), logger)
	g.watchOpts = watchOptions{debounce: time.Hour, pollEvery: time.Hour} // explicit reloads only, counted
	url, _ := startServing(t, g)
	reload := func(yml string) {
		t.Helper()
		putFile(t, p.dir, "web.yml", yml)
		if err := g.Reload(); err != nil {
			t.Fatal(err)
		}
	}
	first := mustGet(t, p.httpClient(nil), url, http.StatusOK).TLS.PeerCertificates[0]

	t.Run("new certificate", func(t *testing.T) {
		next, err := p.ca.Server(pki.Request{Hosts: []string{"127.0.0.1"}})
		if err != nil {
			t.Fatal(err)
		}
		if err := next.WriteFiles(filepath.Join(p.dir, "next.crt"), filepath.Join(p.dir, "next.key")); err != nil {
			t.Fatal(err)
		}
		reload("tls_server_config:\n  cert_file: next.crt\n  key_file: next.key\n")
		got := mustGet(t, p.httpClient(nil), url, http.StatusOK).TLS.PeerCertificates[0]
		if !got.Equal(next.Cert) || got.Equal(first) {
			t.Error("the reloaded certificate is not served")
		}
	})

	t.Run("client auth tightened", func(t *testing.T) {
		reload(p.tlsSection("client_auth_type: RequireAndVerifyClientCert", "client_ca_file: ca.crt"))
		if _, _, err := fetch(t, p.httpClient(nil), url); err == nil {
			t.Error("client without certificate admitted after reload")
		}
		mustGet(t, p.httpClient(p.client), url, http.StatusOK)
	})

	t.Run("TLS off applies to new connections", func(t *testing.T) {
		reload(headersYAML + "basic_auth_users:\n  alice: " + testHash(t, "a") + "\n")
		plain := "http" + strings.TrimPrefix(url, "https")
		checkHeaders(t, mustGet(t, http.DefaultClient, plain, http.StatusUnauthorized))
		mustGet(t, http.DefaultClient, plain, http.StatusOK, basicAuth("alice", "a"))
		if g.TLSConfig() != nil {
			t.Error("TLSConfig() not nil with TLS off")
		}
		if len(logs.matching("INFO", "web config reloaded", "tls=switched off")) != 1 {
			t.Errorf("no log line about TLS off: %q", logs.matching(""))
		}
	})

	t.Run("HTTP/2 off applies to new connections", func(t *testing.T) {
		reload(p.tlsSection() + "http_server_config:\n  http2: false\n")
		resp := mustGet(t, p.httpClient(nil), url, http.StatusOK)
		if resp.TLS.NegotiatedProtocol != "http/1.1" {
			t.Errorf("ALPN %q after http2 was switched off, want http/1.1", resp.TLS.NegotiatedProtocol)
		}
		reload(p.tlsSection())
		resp = mustGet(t, p.httpClient(nil), url, http.StatusOK)
		if resp.TLS.NegotiatedProtocol != "h2" {
			t.Errorf("ALPN %q after http2 was switched on, want h2", resp.TLS.NegotiatedProtocol)
		}
	})
}

func TestExplicitReloadTLSOn(t *testing.T) {
	r := newReloadable(t, "")
	if err := r.reload(t, r.p.tlsSection()); err != nil {
		t.Fatal(err)
	}
	mustGet(t, r.p.httpClient(nil), "https"+strings.TrimPrefix(r.url, "http"), http.StatusOK)
	if r.g.TLSConfig() == nil {
		t.Error("TLSConfig() nil after TLS was switched on")
	}
	if len(r.logs.matching("INFO", "web config reloaded", "tls=switched on")) != 1 {
		t.Errorf("no log line about TLS on: %q", r.logs.matching(""))
	}
}

func TestExplicitReloadKeepsRateLimiterState(t *testing.T) {
	const limit = "rate_limit:\n  interval: 1h\n  burst: 2\n"
	r := newReloadable(t, limit)
	c := http.DefaultClient
	mustGet(t, c, r.url, http.StatusOK)
	mustGet(t, c, r.url, http.StatusOK)
	mustGet(t, c, r.url, http.StatusTooManyRequests)
	if err := r.reload(t, limit+headersYAML); err != nil {
		t.Fatal(err)
	}
	checkHeaders(t, mustGet(t, c, r.url, http.StatusTooManyRequests))
	if err := r.reload(t, "rate_limit:\n  interval: 1h\n  burst: 1\n"); err != nil {
		t.Fatal(err)
	}
	mustGet(t, c, r.url, http.StatusOK)
	mustGet(t, c, r.url, http.StatusTooManyRequests)
}

func TestShutdown(t *testing.T) {
	g := newGuard(t, t.TempDir(), "", nil)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: okHandler}
	done := make(chan error, 1)
	go func() { done <- g.Serve(l, srv) }()
	t.Cleanup(func() { srv.Close() })
	mustGet(t, http.DefaultClient, "http://"+l.Addr().String(), http.StatusOK)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-done; !errors.Is(err, http.ErrServerClosed) {
		t.Fatalf("Serve returned %v", err)
	}
	g.mu.Lock()
	serving := g.serving
	g.mu.Unlock()
	if serving != 0 {
		t.Errorf("serving = %d after Serve returned", serving)
	}
}

// TestServeMultiple serves one http.Server on two listeners (under -race
// this proves the server is prepared once), logs one line per listener and
// stops on Shutdown.
func TestServeMultiple(t *testing.T) {
	p := newTestPKI(t)
	logs, logger := newLogRecorder()
	g := newGuard(t, p.dir, p.tlsSection("client_auth_type: RequireAndVerifyClientCert", "client_ca_file: ca.crt"), logger)
	var ls []net.Listener
	for range 2 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
	}
	srv := &http.Server{Handler: okHandler, ReadHeaderTimeout: time.Minute}
	done := make(chan error, 1)
	go func() { done <- g.ServeMultiple(ls, srv) }()
	t.Cleanup(func() { srv.Close() })
	for _, l := range ls {
		mustGet(t, p.httpClient(p.client), "https://"+l.Addr().String(), http.StatusOK)
		line := logs.matching("INFO listening", "address="+l.Addr().String(), "tls=true", "http2=true", "client_auth=RequireAndVerifyClientCert")
		if len(line) != 1 {
			t.Errorf("startup lines for %s: %q", l.Addr(), logs.matching("listening"))
		}
	}
	g.mu.Lock()
	if srv.ReadHeaderTimeout != time.Minute {
		t.Errorf("ReadHeaderTimeout %v, want the server's own", srv.ReadHeaderTimeout)
	}
	g.mu.Unlock()
	if err := srv.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := <-done; !errors.Is(err, http.ErrServerClosed) {
		t.Fatalf("ServeMultiple returned %v", err)
	}
}

func TestServeDefaults(t *testing.T) {
	logs, logger := newLogRecorder()
	g := newGuard(t, t.TempDir(), "basic_auth_users:\n  alice: "+testHash(t, "a")+"\n", logger)
	url, srv := startServing(t, g)
	mustGet(t, http.DefaultClient, url, http.StatusUnauthorized) // Serve has begun
	if len(logs.matching("WARN", "without TLS")) != 1 {
		t.Errorf("no warning about basic auth without TLS: %q", logs.matching(""))
	}
	if len(logs.matching("INFO listening", "tls=false")) != 1 {
		t.Errorf("no startup line: %q", logs.matching(""))
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if srv.ReadHeaderTimeout != defaultReadHeaderTimeout {
		t.Errorf("ReadHeaderTimeout %v, want %v", srv.ReadHeaderTimeout, defaultReadHeaderTimeout)
	}
}

// TestErrorLog checks that the server's own ErrorLog still gets what is not
// a handshake failure, and that handshake failures go to the Guard's logger.
func TestErrorLog(t *testing.T) {
	p := newTestPKI(t)
	logs, logger := newLogRecorder()
	g := newGuard(t, p.dir, p.tlsSection("client_auth_type: RequireAndVerifyClientCert", "client_ca_file: ca.crt"), logger)
	var mu sync.Mutex
	var own bytes.Buffer
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{
		Handler:  http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("handler bug") }),
		ErrorLog: log.New(writerFunc(func(b []byte) (int, error) { mu.Lock(); defer mu.Unlock(); return own.Write(b) }), "", 0),
	}
	done := make(chan error, 1)
	go func() { done <- g.Serve(l, srv) }()
	t.Cleanup(func() { srv.Close(); <-done })
	url := "https://" + l.Addr().String()

	fetch(t, p.httpClient(p.client, func(c *tls.Config) { c.NextProtos = []string{"http/1.1"} }), url)
	fetch(t, p.httpClient(p.wrongCA), url)
	eventuallyCount(t, "unknown_ca failures", handshakeFailures(g, handshakeUnknownCA), 1)
	eventuallyCount(t, "handler panics in the server's ErrorLog", func() float64 {
		mu.Lock()
		defer mu.Unlock()
		return float64(strings.Count(own.String(), "handler bug"))
	}, 1)
	mu.Lock()
	if strings.Contains(own.String(), "handshake") {
		t.Errorf("handshake failure in the server's ErrorLog: %q", own.String())
	}
	mu.Unlock()
	// The line is written after the counter moves: wait for it too.
	eventuallyCount(t, "handshake failure log lines", func() float64 {
		return float64(len(logs.matching(refusalMsg, "reason=unknown_ca", "remote=127.0.0.1:")))
	}, 1)
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }

func TestClose(t *testing.T) {
	g := newGuard(t, t.TempDir(), headersYAML, nil)
	if err := g.Close(); err != nil {
		t.Fatal(err)
	}
	if err := g.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	// A closed Guard still serves its last config; it only stops watching.
	url, _ := startServing(t, g)
	checkHeaders(t, mustGet(t, http.DefaultClient, url, http.StatusOK))
	g.mu.Lock()
	watching := g.watch != nil
	g.mu.Unlock()
	if watching {
		t.Error("a closed Guard started watching")
	}
}
