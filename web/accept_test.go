package web

import (
	"crypto/tls"
	"net/http"
	"testing"
)

// TestServeKeepsOwnALPN serves a server whose own TLSConfig offers
// acme-tls/1 (the ACME TLS-ALPN-01 challenge): the Guard keeps offering it
// after h2 and http/1.1, and a server that cannot speak HTTP/2 is never
// offered h2.
func TestServeKeepsOwnALPN(t *testing.T) {
	p := newTestPKI(t)
	g := newGuard(t, p.dir, p.tlsSection(), nil)
	serve := func(srv *http.Server) string { return serveServer(t, g, srv) }
	alpn := func(addr string, protos ...string) string {
		t.Helper()
		conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: p.ca.Pool(), NextProtos: protos})
		if err != nil {
			t.Fatalf("handshake offering %q: %v", protos, err)
		}
		defer conn.Close()
		return conn.ConnectionState().NegotiatedProtocol
	}

	srv := &http.Server{Handler: okHandler, TLSConfig: &tls.Config{NextProtos: []string{"acme-tls/1"}}}
	addr := serve(srv)
	if got := alpn(addr, "acme-tls/1"); got != "acme-tls/1" {
		t.Errorf("ALPN offering acme-tls/1: %q", got)
	}
	if got := alpn(addr, "h2", "http/1.1"); got != "h2" {
		t.Errorf("ALPN offering h2: %q, want h2", got)
	}
	resp := mustGet(t, p.httpClient(nil), "https://"+addr, http.StatusOK)
	if resp.Proto != "HTTP/2.0" {
		t.Errorf("request over %s, want HTTP/2.0", resp.Proto)
	}

	noH2 := serve(&http.Server{Handler: okHandler, TLSNextProto: map[string]func(*http.Server, *tls.Conn, http.Handler){}})
	if got := alpn(noH2, "h2", "http/1.1"); got != "http/1.1" {
		t.Errorf("server without HTTP/2: ALPN %q, want http/1.1", got)
	}
	mustGet(t, p.httpClient(nil), "https://"+noH2, http.StatusOK)
}
