package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// makePKI runs certs ca, server and client into dir and returns the output
// of server and client (the snippets).
func makePKI(t *testing.T, dir string, extra ...string) (server, client result) {
	t.Helper()
	if r := run(t, dir, "", append([]string{"certs", "ca", "--out", "pki"}, extra...)...); r.code != 0 {
		t.Fatalf("certs ca: %s", r)
	}
	server = run(t, dir, "", append([]string{"certs", "server", "--ca", "pki", "--out", "pki", "--host", "localhost,127.0.0.1", "--host", "node1.example.org"}, extra...)...)
	if server.code != 0 {
		t.Fatalf("certs server: %s", server)
	}
	client = run(t, dir, "", append([]string{"certs", "client", "--ca", "pki", "--out", "pki", "--cn", "prometheus"}, extra...)...)
	if client.code != 0 {
		t.Fatalf("certs client: %s", client)
	}
	return server, client
}

func readCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := pem.Decode(data)
	if b == nil || b.Type != "CERTIFICATE" {
		t.Fatalf("%s: no PEM certificate", path)
	}
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func readKey(t *testing.T, path string) any {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := pem.Decode(data)
	if b == nil {
		t.Fatalf("%s: no PEM block", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestCertsEndToEnd(t *testing.T) {
	need(t, "openssl")
	dir := t.TempDir()
	server, client := makePKI(t, dir)
	p := func(name string) string { return filepath.Join(dir, "pki", name) }

	// Modes: keys private, certificates readable.
	for name, want := range map[string]os.FileMode{
		"ca.crt": 0o644, "ca.key": 0o600, "server.crt": 0o644, "server.key": 0o600, "client.crt": 0o644, "client.key": 0o600,
	} {
		fi, err := os.Stat(p(name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s has mode %04o, want %04o", name, fi.Mode().Perm(), want)
		}
	}

	// openssl agrees the chain and the SANs are right.
	for _, c := range []struct{ cert, purpose string }{{"server.crt", "sslserver"}, {"client.crt", "sslclient"}} {
		out, err := tool(t, "openssl", "verify", "-purpose", c.purpose, "-CAfile", p("ca.crt"), p(c.cert))
		if err != nil || !strings.Contains(out, ": OK") {
			t.Errorf("openssl verify %s: %v\n%s", c.cert, err, out)
		}
	}
	out, err := tool(t, "openssl", "x509", "-noout", "-ext", "subjectAltName", "-in", p("server.crt"))
	for _, san := range []string{"DNS:localhost", "IP Address:127.0.0.1", "DNS:node1.example.org"} {
		if err != nil || !strings.Contains(out, san) {
			t.Errorf("server SANs lack %s: %v\n%s", san, err, out)
		}
	}
	out, err = tool(t, "openssl", "x509", "-noout", "-ext", "subjectAltName", "-in", p("client.crt"))
	if err != nil || !strings.Contains(out, "DNS:prometheus") {
		t.Errorf("client SANs: %v\n%s", err, out)
	}

	// Go agrees too, for the names and usages a Go client and server check.
	ca, srv, cli := readCert(t, p("ca.crt")), readCert(t, p("server.crt")), readCert(t, p("client.crt"))
	if !ca.IsCA || !strings.HasPrefix(ca.Subject.CommonName, "webguard CA ") {
		t.Errorf("CA: IsCA %v, CN %q", ca.IsCA, ca.Subject.CommonName)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	for _, host := range []string{"localhost", "127.0.0.1", "node1.example.org"} {
		if _, err := srv.Verify(x509.VerifyOptions{Roots: roots, DNSName: host}); err != nil {
			t.Errorf("server certificate for %s: %v", host, err)
		}
	}
	if _, err := srv.Verify(x509.VerifyOptions{Roots: roots, DNSName: "other.example.org"}); err == nil {
		t.Error("server certificate verifies for a host it was not made for")
	}
	if _, err := cli.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("client certificate: %v", err)
	}
	if cli.Subject.CommonName != "prometheus" || srv.Subject.CommonName != "localhost" {
		t.Errorf("common names: client %q, server %q", cli.Subject.CommonName, srv.Subject.CommonName)
	}
	if d := time.Until(srv.NotAfter); d < 364*24*time.Hour || d > 366*24*time.Hour {
		t.Errorf("server certificate valid for %s, want a year", d)
	}
	if d := time.Until(ca.NotAfter); d < 3649*24*time.Hour {
		t.Errorf("CA valid for %s, want ten years", d)
	}
	for _, name := range []string{"ca.key", "server.key", "client.key"} {
		k, ok := readKey(t, p(name)).(*ecdsa.PrivateKey)
		if !ok || k.Curve != elliptic.P256() {
			t.Errorf("%s is not an ECDSA P-256 key", name)
		}
	}

	// The printed web.yml passes check as it is, with no warning.
	yml := snippet(server.stdout, "tls_server_config:")
	if !strings.Contains(yml, "cert_file: "+p("server.crt")) || !strings.Contains(yml, "client_ca_file: "+p("ca.crt")) ||
		!strings.Contains(yml, "client_auth_type: RequireAndVerifyClientCert") {
		t.Errorf("server's web.yml snippet:\n%s", yml)
	}
	writeTestFile(t, filepath.Join(dir, "web.yml"), yml, 0o600)
	if r := run(t, dir, "", "check", "--strict", "web.yml"); r.code != 0 {
		t.Errorf("the printed web.yml does not pass check --strict:\n%s\n%s", yml, r)
	}
	// The Prometheus snippets name the files (the client's, once it exists).
	for _, want := range []string{"ca_file: " + p("ca.crt"), "cert_file: " + p("client.crt"), "key_file: " + p("client.key")} {
		if !strings.Contains(client.stdout, want) {
			t.Errorf("client output lacks %q:\n%s", want, client.stdout)
		}
	}
	if !strings.Contains(server.stdout, "server_name: node1.example.org") {
		t.Errorf("server output lacks server_name:\n%s", server.stdout)
	}
	if !strings.Contains(client.stdout, `client_allowed_sans: ["prometheus"]`) {
		t.Errorf("client output lacks client_allowed_sans:\n%s", client.stdout)
	}
}

// snippet returns the YAML block of out starting at the line start, up to the
// next blank line.
func snippet(out, start string) string {
	i := strings.Index(out, "\n"+start)
	if i < 0 {
		return ""
	}
	block, _, _ := strings.Cut(out[i+1:], "\n\n")
	return block + "\n"
}

func TestCertsRSA(t *testing.T) {
	need(t, "openssl")
	dir := t.TempDir()
	makePKI(t, dir, "--rsa-bits", "2048", "--days", "30")
	p := func(name string) string { return filepath.Join(dir, "pki", name) }
	for _, name := range []string{"ca.key", "server.key", "client.key"} {
		k, ok := readKey(t, p(name)).(*rsa.PrivateKey)
		if !ok || k.N.BitLen() != 2048 {
			t.Errorf("%s is not an RSA 2048 key", name)
		}
	}
	out, err := tool(t, "openssl", "verify", "-CAfile", p("ca.crt"), p("server.crt"), p("client.crt"))
	if err != nil {
		t.Errorf("openssl verify: %v\n%s", err, out)
	}
	if d := time.Until(readCert(t, p("server.crt")).NotAfter); d > 30*24*time.Hour {
		t.Errorf("--days 30 made a certificate valid for %s", d)
	}
}

func TestCertsNoOverwrite(t *testing.T) {
	dir := t.TempDir()
	makePKI(t, dir)
	p := func(name string) string { return filepath.Join(dir, "pki", name) }
	before := map[string][]byte{}
	for _, name := range []string{"ca.crt", "ca.key", "server.crt", "server.key", "client.crt", "client.key"} {
		b, err := os.ReadFile(p(name))
		if err != nil {
			t.Fatal(err)
		}
		before[name] = b
	}
	for _, args := range [][]string{
		{"certs", "ca", "--out", "pki"},
		{"certs", "server", "--ca", "pki", "--out", "pki", "--host", "localhost"},
		{"certs", "client", "--ca", "pki", "--out", "pki", "--cn", "other"},
	} {
		r := run(t, dir, "", args...)
		if r.code != 1 || !strings.Contains(r.stderr, "already exists; use --force to replace it") {
			t.Errorf("%s over existing files: %s", strings.Join(args, " "), r)
		}
	}
	for name, b := range before {
		if now, _ := os.ReadFile(p(name)); !bytes.Equal(now, b) {
			t.Errorf("%s changed without --force", name)
		}
	}

	// --force replaces, and a replaced key gets mode 0600 even if the old
	// file was readable by everyone.
	if err := os.Chmod(p("server.key"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := run(t, dir, "", "certs", "server", "--ca", "pki", "--out", "pki", "--host", "localhost", "--force")
	if r.code != 0 {
		t.Fatalf("--force: %s", r)
	}
	now, _ := os.ReadFile(p("server.key"))
	if bytes.Equal(now, before["server.key"]) {
		t.Error("--force did not replace server.key")
	}
	if fi, err := os.Stat(p("server.key")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("replaced key: %v, mode %04o", err, fi.Mode().Perm())
	}
	if leftovers, _ := filepath.Glob(p(".*")); len(leftovers) > 0 {
		t.Errorf("temporary files left: %v", leftovers)
	}
	// The new server certificate still comes from the same CA.
	ca := readCert(t, p("ca.crt"))
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	if _, err := readCert(t, p("server.crt")).Verify(x509.VerifyOptions{Roots: roots, DNSName: "localhost"}); err != nil {
		t.Error(err)
	}
}

func TestCertsUsageErrors(t *testing.T) {
	dir := t.TempDir()
	if r := run(t, dir, "", "certs", "ca", "--out", "pki"); r.code != 0 {
		t.Fatal(r)
	}
	writeTestFile(t, filepath.Join(dir, "notca.crt"), "", 0o644)
	tests := []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"ca without --out", []string{"ca"}, 2, "--out is required"},
		{"zero days", []string{"ca", "--out", "x", "--days", "0"}, 2, "--days must be positive"},
		{"small RSA", []string{"ca", "--out", "x", "--rsa-bits", "1024"}, 2, "--rsa-bits must be between 2048 and 8192"},
		{"server without --host", []string{"server", "--ca", "pki", "--out", "x"}, 2, "--host is required"},
		{"server with an empty host", []string{"server", "--ca", "pki", "--out", "x", "--host", "a,,b"}, 2, "empty name"},
		{"server without --ca", []string{"server", "--out", "x", "--host", "localhost"}, 2, "--ca is required"},
		{"client without --cn", []string{"client", "--ca", "pki", "--out", "x"}, 2, "--cn is required"},
		{"missing CA", []string{"server", "--ca", "nowhere", "--out", "x", "--host", "localhost"}, 1, "read CA certificate"},
		{"stray argument", []string{"ca", "--out", "x", "extra"}, 2, `unexpected argument "extra"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := run(t, dir, "", append([]string{"certs"}, tt.args...)...)
			if r.code != tt.code || !strings.Contains(r.stderr, tt.stderr) {
				t.Errorf("got %s\nwant exit %d, stderr with %q", r, tt.code, tt.stderr)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "x")); err == nil {
		t.Error("a refused command created its output directory")
	}
}

// TestCertsHostRefused gives --host (and --san, --cn) the forms an operator
// copies from a scrape target or a browser: each is refused with what to
// pass instead, and nothing is written.
func TestCertsHostRefused(t *testing.T) {
	dir := t.TempDir()
	if r := run(t, dir, "", "certs", "ca", "--out", "pki"); r.code != 0 {
		t.Fatal(r)
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"server", "--host", "node1.example.org:9100"}, "--host node1.example.org:9100: a host name or IP without a port; drop ':9100' (pass node1.example.org)"},
		{[]string{"server", "--host", "localhost,127.0.0.1:9100"}, "--host 127.0.0.1:9100: a host name or IP without a port; drop ':9100' (pass 127.0.0.1)"},
		{[]string{"server", "--host", "[::1]:9100"}, "--host [::1]:9100: a host name or IP without a port; drop ':9100' (pass ::1)"},
		{[]string{"server", "--host", "[::1]"}, "--host [::1]: an IP address without brackets; pass ::1"},
		{[]string{"server", "--host", "https://node1"}, "--host https://node1: a host name or IP, not a URL; pass node1"},
		{[]string{"server", "--host", "https://node1.example.org:9100/metrics"}, "not a URL; pass node1.example.org"},
		{[]string{"server", "--host", "bad host!"}, `--host "bad host!": not a host name or IP address (a host name is letters, digits, '-' and '.', e.g. node1.example.org); ' ' is not allowed`},
		{[]string{"server", "--host", "node_1.example.org"}, `'_' is not allowed`},
		{[]string{"server", "--host", "node1."}, `--host "node1.": a host name without the trailing '.'; pass node1`},
		{[]string{"server", "--host", "node1..example.org"}, "empty label"},
		{[]string{"server", "--host", "-node1"}, `the label "-node1" starts or ends with '-'`},
		{[]string{"server", "--host", strings.Repeat("a", 64) + ".org"}, "longer than 63 characters"},
		{[]string{"server", "--host", "ops@example.org"}, "--host ops@example.org: a host name or IP, not an e-mail address"},
		{[]string{"client", "--cn", "Prometheus Server"}, `--cn "Prometheus Server": not a host name or IP address`},
		{[]string{"client", "--cn", "Prometheus Server"}, "give --san NAME as well"},
		{[]string{"client", "--cn", "prometheus", "--san", "prometheus:9090"}, "--san prometheus:9090: a host name or IP without a port; drop ':9090'"},
		{[]string{"client", "--cn", "prometheus", "--san", "spiffe://"}, `--san "spiffe://": not a URI with a scheme and a host`},
		{[]string{"client", "--cn", "prometheus", "--san", "@example.org"}, `--san "@example.org": not an e-mail address`},
	} {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			args := append([]string{"certs", tt.args[0], "--ca", "pki", "--out", "out"}, tt.args[1:]...)
			r := run(t, dir, "", args...)
			if r.code != 2 || !strings.Contains(r.stderr, tt.want) {
				t.Errorf("got %s\nwant exit 2 and %q", r, tt.want)
			}
			if _, err := os.Stat(filepath.Join(dir, "out")); err == nil {
				t.Error("a refused host wrote files")
			}
		})
	}

	// The forms that are right stay accepted, and become the SANs asked for.
	r := run(t, dir, "", "certs", "server", "--ca", "pki", "--out", "ok", "--host", "*.Example.org,::1,node-1.example.org,10.0.0.1")
	if r.code != 0 {
		t.Fatal(r)
	}
	out, err := tool(t, "openssl", "x509", "-noout", "-ext", "subjectAltName", "-in", filepath.Join(dir, "ok", "server.crt"))
	for _, san := range []string{"DNS:*.Example.org", "IP Address:0:0:0:0:0:0:0:1", "DNS:node-1.example.org", "IP Address:10.0.0.1"} {
		if err != nil || !strings.Contains(out, san) {
			t.Errorf("SANs lack %s: %v\n%s", san, err, out)
		}
	}
	r = run(t, dir, "", "certs", "client", "--ca", "pki", "--out", "ok", "--cn", "Prometheus Server", "--san", "prometheus,spiffe://example.org/ns/monitoring/prometheus,ops@example.org")
	if r.code != 0 {
		t.Fatal(r)
	}
	out, err = tool(t, "openssl", "x509", "-noout", "-subject", "-ext", "subjectAltName", "-in", filepath.Join(dir, "ok", "client.crt"))
	for _, want := range []string{"CN=Prometheus Server", "DNS:prometheus", "URI:spiffe://example.org/ns/monitoring/prometheus", "email:ops@example.org"} {
		if err != nil || !strings.Contains(strings.ReplaceAll(out, " = ", "="), want) {
			t.Errorf("client certificate lacks %s: %v\n%s", want, err, out)
		}
	}
}

// TestCertsCANames makes two CAs as two runs would: each gets its own name,
// so a certificate checked against the wrong CA is reported as signed by an
// unknown authority rather than as failing against a CA of the same name.
func TestCertsCANames(t *testing.T) {
	dir := t.TempDir()
	for _, d := range []string{"a", "b"} {
		if r := run(t, dir, "", "certs", "ca", "--out", d); r.code != 0 {
			t.Fatal(r)
		}
	}
	if r := run(t, dir, "", "certs", "server", "--ca", "a", "--out", "a", "--host", "localhost"); r.code != 0 {
		t.Fatal(r)
	}
	subject := func(flag, path string) string {
		out, err := tool(t, "openssl", "x509", "-noout", flag, "-nameopt", "multiline", "-in", filepath.Join(dir, path))
		if err != nil {
			t.Fatalf("openssl x509 %s %s: %v\n%s", flag, path, err, out)
		}
		_, cn, _ := strings.Cut(out, "commonName")
		_, cn, _ = strings.Cut(cn, "= ")
		cn, _, _ = strings.Cut(cn, "\n")
		return cn
	}
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	a, b := subject("-subject", "a/ca.crt"), subject("-subject", "b/ca.crt")
	if a == b || !strings.HasPrefix(a, "webguard CA "+host+" ") || !strings.HasPrefix(b, "webguard CA "+host+" ") {
		t.Errorf("CA names %q and %q: want distinct names starting with %q", a, b, "webguard CA "+host)
	}
	if issuer := subject("-issuer", "a/server.crt"); issuer != a {
		t.Errorf("server certificate issued by %q, want %q", issuer, a)
	}
	roots := x509.NewCertPool()
	roots.AddCert(readCert(t, filepath.Join(dir, "b", "ca.crt")))
	_, err = readCert(t, filepath.Join(dir, "a", "server.crt")).Verify(x509.VerifyOptions{Roots: roots, DNSName: "localhost"})
	if err == nil || !strings.Contains(err.Error(), "unknown authority") || strings.Contains(err.Error(), "candidate authority") {
		t.Errorf("verifying against the other CA: %v, want a plain unknown authority error", err)
	}
	if r := run(t, dir, "", "certs", "ca", "--out", "c", "--cn", "Ops CA"); r.code != 0 || subject("-subject", "c/ca.crt") != "Ops CA" {
		t.Errorf("--cn did not name the CA: %s", r)
	}
}
