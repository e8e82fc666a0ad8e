package web

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// rawGet sends target as the request target of a GET over a new TLS
// connection, as a client that writes odd targets would, and returns the
// status and body.
func rawGet(t *testing.T, addr string, tc *tls.Config, target, auth string) (int, string) {
	t.Helper()
	conn, err := tls.Dial("tcp", addr, tc)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	req := "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
	if auth != "" {
		req += "Authorization: " + auth + "\r\n"
	}
	if _, err := io.WriteString(conn, req+"\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("%s: %v", target, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// pathHandler says which path it was reached for, as a router would see it.
var pathHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	fmt.Fprintf(w, "reached %s", r.URL.EscapedPath())
})

// TestUnauthenticatedPaths: a listed path is served without a password, in
// its one plain form only; every other form of it, and every other path,
// still gets 401; a reload that removes the path applies at once.
func TestUnauthenticatedPaths(t *testing.T) {
	p := newTestPKI(t)
	users := "basic_auth_users:\n  prometheus: " + testHash(t, "secret") + "\n"
	open := "http_server_config:\n  unauthenticated_paths: [/-/healthy, /-/ready]\n"
	g := newGuard(t, p.dir, p.tlsSection()+open+users, nil)
	base, _ := serveHandler(t, g, pathHandler)
	addr := strings.TrimPrefix(base, "https://")
	tc := &tls.Config{RootCAs: p.ca.Pool(), ServerName: "127.0.0.1"}
	basic := "Basic cHJvbWV0aGV1czpzZWNyZXQ=" // prometheus:secret

	tests := []struct {
		target string
		auth   string
		want   int
	}{
		{"/-/healthy", "", 200},
		{"/-/ready", "", 200},
		{"/-/healthy?verbose=1", "", 200},
		{"http://127.0.0.1/-/healthy", "", 200}, // absolute form, same path
		{"/metrics", "", 401},
		{"/", "", 401},
		{"//-/healthy", "", 401},
		{"/-/healthy/", "", 401},
		{"/-/healthy/../metrics", "", 401},
		{"/-/healthy/..%2Fmetrics", "", 401},
		{"/-/healthy%2F..%2Fmetrics", "", 401},
		{"/metrics/../-/healthy", "", 401},
		{"/./-/healthy", "", 401},
		{"/-%2Fhealthy", "", 401},
		{"/%2D/healthy", "", 401},
		{"/-/HEALTHY", "", 401},
		{"/-/healthy;/metrics", "", 401},
		{"http://127.0.0.1/metrics", "", 401},
		{"http://127.0.0.1//-/healthy", "", 401},
		{"http://127.0.0.1/-/healthy/../metrics", "", 401},
		{"/metrics", basic, 200},
		{"/-/healthy", "Basic d3Jvbmc6d3Jvbmc=", 200}, // wrong credentials are not looked at
	}
	for _, tt := range tests {
		code, body := rawGet(t, addr, tc, tt.target, tt.auth)
		if code != tt.want {
			t.Errorf("GET %s (auth %q): %d %q, want %d", tt.target, tt.auth, code, body, tt.want)
		}
		if code == 200 && tt.auth == "" && body != "reached /-/healthy" && body != "reached /-/ready" {
			t.Errorf("GET %s without a password reached %q", tt.target, body)
		}
	}

	// The removal of a path is a tightening: it applies on reload.
	putFile(t, p.dir, "web.yml", p.tlsSection()+users)
	if err := g.Reload(); err != nil {
		t.Fatal(err)
	}
	if code, _ := rawGet(t, addr, tc, "/-/healthy", ""); code != 401 {
		t.Errorf("after removing the path: %d, want 401", code)
	}
}

// TestUnauthenticatedPathsKeepClientCertificates: the handshake comes
// before the path, so a listed path still needs the client certificate.
func TestUnauthenticatedPathsKeepClientCertificates(t *testing.T) {
	p := newTestPKI(t)
	yml := p.tlsSection("client_ca_file: ca.crt", "client_auth_type: RequireAndVerifyClientCert") +
		"http_server_config:\n  unauthenticated_paths: [/-/healthy]\n" +
		"basic_auth_users:\n  prometheus: " + testHash(t, "secret") + "\n"
	g := newGuard(t, p.dir, yml, nil)
	base, _ := serveHandler(t, g, pathHandler)
	if _, _, err := fetch(t, p.httpClient(nil), base+"/-/healthy"); err == nil {
		t.Error("a client without a certificate reached /-/healthy")
	}
	if _, _, err := fetch(t, p.httpClient(p.wrongCA), base+"/-/healthy"); err == nil {
		t.Error("a client with a certificate from another CA reached /-/healthy")
	}
	mustGet(t, p.httpClient(p.client), base+"/-/healthy", 200)
	mustGet(t, p.httpClient(p.client), base+"/metrics", 401)
}
