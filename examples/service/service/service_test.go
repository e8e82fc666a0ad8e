package service

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/webguard/webguard/bcrypt"
	"github.com/webguard/webguard/internal/pki"
	"github.com/webguard/webguard/web"
)

// env is a directory with a PKI and service.yml, and the running service.
type env struct {
	t          *testing.T
	dir, path  string
	ca         *pki.Cert
	client     *pki.Cert
	svc        *Service
	api, lines string
	hash       string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{t: t, dir: t.TempDir()}
	e.path = filepath.Join(e.dir, "service.yml")
	var err error
	if e.ca, err = pki.NewCA(pki.Request{}); err != nil {
		t.Fatal(err)
	}
	if e.client, err = e.ca.Client(pki.Request{Hosts: []string{"scraper.example"}}); err != nil {
		t.Fatal(err)
	}
	if err := e.ca.WriteFiles(filepath.Join(e.dir, "ca.crt"), ""); err != nil {
		t.Fatal(err)
	}
	e.rotate()
	h, err := bcrypt.Hash([]byte("alice-pw"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	e.hash = string(h)
	return e
}

// rotate writes a new server certificate and key and returns it.
func (e *env) rotate() *pki.Cert {
	c, err := e.ca.Server(pki.Request{Hosts: []string{"127.0.0.1"}})
	if err != nil {
		e.t.Fatal(err)
	}
	if err := c.WriteFiles(filepath.Join(e.dir, "server.crt"), filepath.Join(e.dir, "server.key")); err != nil {
		e.t.Fatal(err)
	}
	return c
}

// write writes service.yml with greeting and, when users, alice.
func (e *env) write(greeting string, users bool) {
	yml := "greeting: " + greeting + `
web:
  tls_server_config:
    cert_file: server.crt
    key_file: server.key
    client_ca_file: ca.crt
    client_auth_type: RequireAndVerifyClientCert
`
	if users {
		yml += "  basic_auth_users:\n    alice: " + e.hash + "\n"
	}
	yml += "other_settings_of_the_service: 1\n"
	if err := os.WriteFile(e.path, []byte(yml), 0o600); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) start() {
	t := e.t
	svc, err := New(e.path, nil)
	if err != nil {
		t.Fatal(err)
	}
	api, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	lines, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.svc, e.api, e.lines = svc, api.Addr().String(), lines.Addr().String()
	served := make(chan error, 1)
	go func() { served <- svc.Serve(api, lines) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := svc.Shutdown(ctx); err != nil {
			t.Error(err)
		}
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("Serve = %v, want http.ErrServerClosed", err)
		}
	})
}

func (e *env) tlsConfig(cert *pki.Cert) *tls.Config {
	tc := &tls.Config{RootCAs: e.ca.Pool()}
	if cert != nil {
		tc.Certificates = []tls.Certificate{cert.TLSCertificate()}
	}
	return tc
}

// line sends name over the line protocol and returns the answer and the
// serial of the server certificate, or the error.
func (e *env) line(cert *pki.Cert, name string) (answer, serial string, err error) {
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", e.lines, e.tlsConfig(cert))
	if err != nil {
		return "", "", err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(conn, name+"\n"); err != nil {
		return "", "", err
	}
	answer, err = bufio.NewReader(conn).ReadString('\n')
	return strings.TrimSpace(answer), conn.ConnectionState().PeerCertificates[0].SerialNumber.String(), err
}

// hello calls the HTTP API and returns the status and body.
func (e *env) hello(cert *pki.Cert, user string) (int, string) {
	e.t.Helper()
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: e.tlsConfig(cert)}, Timeout: 5 * time.Second}
	defer c.CloseIdleConnections()
	req, err := http.NewRequest(http.MethodGet, "https://"+e.api+"/hello?name=bob", nil)
	if err != nil {
		e.t.Fatal(err)
	}
	if user != "" {
		req.SetBasicAuth(user, user+"-pw")
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b))
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestService drives the service as its users do: the HTTP API with a client
// certificate and a password, the line protocol with a client certificate,
// a certificate rotated on disk, service.yml changed and refreshed, a
// downgrade held until Reload.
func TestService(t *testing.T) {
	e := newEnv(t)
	e.write("hello", true)
	e.start()

	if status, body := e.hello(e.client, "alice"); status != http.StatusOK || body != "hello, bob" {
		t.Fatalf("GET /hello: %d %q, want 200 \"hello, bob\"", status, body)
	}
	if status, _ := e.hello(e.client, ""); status != http.StatusUnauthorized {
		t.Errorf("GET /hello without a password: %d, want 401", status)
	}
	if status, _ := e.hello(nil, "alice"); status != 0 {
		t.Errorf("GET /hello without a client certificate: %d, want a refused handshake", status)
	}
	if answer, _, err := e.line(e.client, "bob"); err != nil || answer != "hello, bob" {
		t.Fatalf("line protocol: %q, %v; want \"hello, bob\"", answer, err)
	}
	if _, _, err := e.line(nil, "bob"); err == nil {
		t.Error("line protocol without a client certificate answered")
	}

	// A certificate rotated on disk is served on both listeners, with no
	// call from the service.
	next := e.rotate()
	want := next.Cert.SerialNumber.String()
	eventually(t, "the new certificate on the line protocol", func() bool {
		_, serial, err := e.line(e.client, "x")
		return err == nil && serial == want
	})

	// service.yml changed: the greeting applies; removing every user is
	// held back by Refresh, and applied by Reload.
	e.write("hi", false)
	if err := e.svc.Refresh(); !errors.Is(err, web.ErrHeld) {
		t.Fatalf("Refresh removing every user = %v, want web.ErrHeld", err)
	}
	if answer, _, _ := e.line(e.client, "bob"); answer != "hi, bob" {
		t.Errorf("line protocol after Refresh: %q, want \"hi, bob\"", answer)
	}
	if status, _ := e.hello(e.client, ""); status != http.StatusUnauthorized {
		t.Errorf("GET /hello without a password while held: %d, want 401", status)
	}
	if err := e.svc.Reload(); err != nil {
		t.Fatalf("Reload: %v", err)
	}
	if status, body := e.hello(e.client, ""); status != http.StatusOK || body != "hi, bob" {
		t.Errorf("GET /hello after Reload: %d %q, want 200 \"hi, bob\"", status, body)
	}
}

// TestServiceConfigErrors: a mistake in the web section is reported against
// service.yml, with its line and the field under "web".
func TestServiceConfigErrors(t *testing.T) {
	e := newEnv(t)
	e.write("hello", true)
	data, err := os.ReadFile(e.path)
	if err != nil {
		t.Fatal(err)
	}
	bad := strings.Replace(string(data), "client_auth_type: RequireAndVerifyClientCert", "client_auth_type: RequireClient", 1)
	if err := os.WriteFile(e.path, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = New(e.path, nil)
	if err == nil || !strings.HasPrefix(err.Error(), e.path+":7: web.tls_server_config.client_auth_type: ") {
		t.Errorf("New with a bad client_auth_type: %v, want an error at %s:7 naming web.tls_server_config.client_auth_type", err, e.path)
	}
}
