package web

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestHandshakingListener drives the Guard's listener, which does the TLS
// handshakes itself, with the clients net/http used to meet: plain HTTP on
// the TLS port, clients that never finish a handshake (which must neither
// hold the port up for others nor outlive the handshake bound or a
// Shutdown), and a verified client whose chain must reach the handler.
func TestHandshakingListener(t *testing.T) {
	p := newTestPKI(t)
	g := newGuard(t, p.dir, p.tlsSection("client_auth_type: VerifyClientCertIfGiven", "client_ca_file: ca.crt"), nil)
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "chains=%d", len(r.TLS.VerifiedChains))
		}),
		// Longer than the test: only Shutdown ends the silent clients'
		// handshakes below.
		ReadHeaderTimeout: time.Minute,
	}
	addr := serveServer(t, g, srv)
	url := "https://" + addr

	t.Run("plain HTTP on the TLS port", func(t *testing.T) {
		before := handshakeFailures(g, handshakeProtocol)()
		c := dial(t, addr)
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "HTTP request to an HTTPS server") {
			t.Errorf("%s %q", resp.Status, body)
		}
		eventuallyCount(t, "protocol failures", handshakeFailures(g, handshakeProtocol), before+1)
	})

	t.Run("verified chain reaches the handler", func(t *testing.T) {
		if _, body, err := fetch(t, p.httpClient(p.client), url); err != nil || body != "chains=1" {
			t.Fatalf("%q %v", body, err)
		}
		if _, body, err := fetch(t, p.httpClient(nil), url); err != nil || body != "chains=0" {
			t.Fatalf("without a certificate: %q %v", body, err)
		}
	})

	// Clients that connect and say nothing: each holds a handshake open.
	silent := make([]net.Conn, 20)
	for i := range silent {
		silent[i] = dial(t, addr)
	}
	t.Run("silent clients do not hold up others", func(t *testing.T) {
		mustGet(t, p.httpClient(p.client), url, http.StatusOK)
	})
	// Shutdown closes the listener, and with it the handshakes still in
	// progress; those clients see their connection closed.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	for _, c := range silent {
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if n, err := c.Read(make([]byte, 1)); n != 0 || err == nil || isTimeout(err) {
			t.Fatalf("read %d bytes, %v: a handshake in progress outlived Shutdown", n, err)
		}
	}
}

// TestHandshakeBound checks that a client that never finishes its
// handshake is cut at the server's handshake bound (ReadHeaderTimeout
// here, the shortest of the server's timeouts) and counted.
func TestHandshakeBound(t *testing.T) {
	p := newTestPKI(t)
	g := newGuard(t, p.dir, p.tlsSection(), nil)
	addr := serveServer(t, g, &http.Server{Handler: okHandler, ReadHeaderTimeout: time.Second})
	c := dial(t, addr)
	// 10s is slack for a loaded machine, not a measurement.
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if n, err := c.Read(make([]byte, 1)); n != 0 || err == nil || isTimeout(err) {
		t.Fatalf("read %d bytes, %v: the connection was not closed by the server", n, err)
	}
	eventuallyCount(t, "other failures", handshakeFailures(g, handshakeOther), 1)
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

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
