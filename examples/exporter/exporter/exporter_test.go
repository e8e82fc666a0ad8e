package exporter

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPlain serves the exporter without a web config: plain HTTP, the
// landing page at /, metrics at /metrics, 404 elsewhere.
func TestPlain(t *testing.T) {
	exp, err := New(Options{Version: "v1.2.3"})
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- exp.Serve(l) }()
	t.Cleanup(func() {
		if err := exp.Shutdown(context.Background()); err != nil {
			t.Error(err)
		}
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("Serve returned %v, want http.ErrServerClosed", err)
		}
	})
	base := "http://" + l.Addr().String()

	for _, tc := range []struct {
		path       string
		wantStatus int
		wantBody   string
	}{
		{"/", 200, `href="/metrics"`},
		{"/metrics", 200, `exporter_scrapes_total{client=""} 1`},
		{"/metrics", 200, `exporter_scrapes_total{client=""} 2`},
		{"/metrics", 200, "go_build_info"},
		{"/nothing-here", 404, ""},
	} {
		resp, err := http.Get(base + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.wantStatus || !strings.Contains(string(body), tc.wantBody) {
			t.Errorf("GET %s: %d, want %d with %q in:\n%s", tc.path, resp.StatusCode, tc.wantStatus, tc.wantBody, body)
		}
	}
}

// TestInvalidWebConfig: a broken web.yml stops the exporter at start,
// rather than letting it serve unprotected.
func TestInvalidWebConfig(t *testing.T) {
	path := filepath.Join(t.TempDir(), "web.yml")
	if err := os.WriteFile(path, []byte("tls_server_config:\n  cert_fil: server.crt\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := New(Options{WebConfigFile: path}); err == nil || !strings.Contains(err.Error(), "web.yml:2") {
		t.Fatalf("New with a misspelled key: %v, want an error naming web.yml:2", err)
	}
}
