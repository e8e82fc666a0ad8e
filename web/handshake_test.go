package web

import (
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"net/http"
	"strings"
	"testing"

	"github.com/webguard/webguard/internal/pki"
)

func TestPlainHTTP(t *testing.T) {
	for name, yml := range map[string]string{
		"empty file":        "",
		"no tls section":    "http_server_config:\n  headers:\n    X-Frame-Options: deny\n",
		"comments only":     "# nothing here\n",
		"rate limit is off": "rate_limit:\n  interval: 0s\n",
	} {
		t.Run(name, func(t *testing.T) {
			g := newGuard(t, t.TempDir(), yml, nil)
			if g.TLSConfig() != nil {
				t.Fatal("TLSConfig() is not nil for a config without TLS")
			}
			url, _ := startServing(t, g)
			if !strings.HasPrefix(url, "http://") {
				t.Fatalf("url %s", url)
			}
			mustGet(t, http.DefaultClient, url, http.StatusOK)
		})
	}
	t.Run("no config file", func(t *testing.T) {
		g, err := New(Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { g.Close() })
		url, _ := startServing(t, g)
		mustGet(t, http.DefaultClient, url, http.StatusOK)
		if err := g.Reload(); err != nil {
			t.Fatalf("Reload without a config file: %v", err)
		}
	})
}

func TestTLSVersionsCiphersCurves(t *testing.T) {
	p := newTestPKI(t)
	tests := []struct {
		name   string
		config []string
		http1  bool // HTTP/2 needs a suite that cipher_suites leaves out
		client func(*tls.Config)
		ok     bool
		check  func(t *testing.T, cs *tls.ConnectionState)
	}{
		{name: "default refuses TLS 1.1", client: func(c *tls.Config) { c.MinVersion, c.MaxVersion = tls.VersionTLS10, tls.VersionTLS11 }},
		{name: "default accepts TLS 1.2", client: func(c *tls.Config) { c.MaxVersion = tls.VersionTLS12 }, ok: true,
			check: func(t *testing.T, cs *tls.ConnectionState) {
				if cs.Version != tls.VersionTLS12 {
					t.Errorf("version %x", cs.Version)
				}
			}},
		{name: "default negotiates TLS 1.3", ok: true, check: func(t *testing.T, cs *tls.ConnectionState) {
			if cs.Version != tls.VersionTLS13 {
				t.Errorf("version %x", cs.Version)
			}
		}},
		{name: "min_version TLS13 refuses TLS 1.2", config: []string{"min_version: TLS13"},
			client: func(c *tls.Config) { c.MaxVersion = tls.VersionTLS12 }},
		{name: "max_version TLS12 caps the version", config: []string{"max_version: TLS12"}, ok: true,
			check: func(t *testing.T, cs *tls.ConnectionState) {
				if cs.Version != tls.VersionTLS12 {
					t.Errorf("version %x", cs.Version)
				}
			}},
		{name: "cipher_suites refuses other suites",
			config: []string{"max_version: TLS12", "cipher_suites: [TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384]"}, http1: true,
			client: func(c *tls.Config) { c.CipherSuites = []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256} }},
		{name: "cipher_suites uses the listed suite",
			config: []string{"max_version: TLS12", "cipher_suites: [TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384]"}, http1: true, ok: true,
			check: func(t *testing.T, cs *tls.ConnectionState) {
				if cs.CipherSuite != tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 {
					t.Errorf("cipher suite %s", tls.CipherSuiteName(cs.CipherSuite))
				}
			}},
		{name: "curve_preferences refuses other curves", config: []string{"curve_preferences: [CurveP384]"},
			client: func(c *tls.Config) { c.CurvePreferences = []tls.CurveID{tls.X25519} }},
		{name: "curve_preferences uses the listed curve", config: []string{"curve_preferences: [CurveP384]"}, ok: true,
			check: func(t *testing.T, cs *tls.ConnectionState) {
				if cs.CurveID != tls.CurveP384 {
					t.Errorf("curve %s", cs.CurveID)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			yml := p.tlsSection(tt.config...)
			if tt.http1 {
				yml += "http_server_config:\n  http2: false\n"
			}
			g := newGuard(t, p.dir, yml, nil)
			url, _ := startServing(t, g)
			var mods []func(*tls.Config)
			if tt.client != nil {
				mods = append(mods, tt.client)
			}
			resp, _, err := fetch(t, p.httpClient(nil, mods...), url)
			if !tt.ok {
				if err == nil {
					t.Fatalf("handshake succeeded (%s), want it refused", resp.Status)
				}
				eventuallyCount(t, "protocol handshake failures", handshakeFailures(g, handshakeProtocol), 1)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.check != nil {
				tt.check(t, resp.TLS)
			}
		})
	}
}

func TestHTTP2(t *testing.T) {
	p := newTestPKI(t)
	for _, tt := range []struct {
		name, config, proto, alpn string
	}{
		{"default offers h2", "", "HTTP/2.0", "h2"},
		{"http2 true", "http_server_config:\n  http2: true\n", "HTTP/2.0", "h2"},
		{"http2 false", "http_server_config:\n  http2: false\n", "HTTP/1.1", "http/1.1"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			g := newGuard(t, p.dir, p.tlsSection()+tt.config, nil)
			url, _ := startServing(t, g)
			resp, body, err := fetch(t, p.httpClient(nil), url)
			if err != nil {
				t.Fatal(err)
			}
			if resp.Proto != tt.proto || body != "ok "+tt.proto {
				t.Errorf("client saw %s, handler saw %q; want %s", resp.Proto, body, tt.proto)
			}
			if resp.TLS.NegotiatedProtocol != tt.alpn {
				t.Errorf("ALPN %q, want %q", resp.TLS.NegotiatedProtocol, tt.alpn)
			}
			// A client that insists on h2 cannot have it when it is off.
			conn, err := tls.Dial("tcp", strings.TrimPrefix(url, "https://"), &tls.Config{RootCAs: p.ca.Pool(), NextProtos: []string{"h2"}})
			if err == nil {
				conn.Close()
			}
			if (err == nil) != (tt.alpn == "h2") {
				t.Errorf("h2-only client: err = %v", err)
			}
		})
	}
}

// TestClientAuth runs every client_auth_type against a client without a
// certificate, one from another CA, one from the configured CA and an
// expired one from the configured CA.
func TestClientAuth(t *testing.T) {
	p := newTestPKI(t)
	const ok = ""
	type clientCase struct {
		name   string
		cert   *pki.Cert
		reason string // ok, or the handshake failure reason
	}
	cases := func(none, wrong, right, expired string) []clientCase {
		return []clientCase{
			{"no cert", nil, none},
			{"wrong CA", p.wrongCA, wrong},
			{"right CA", p.client, right},
			{"expired", p.expired, expired},
		}
	}
	for _, tt := range []struct {
		authType string
		withCA   bool
		clients  []clientCase
	}{
		{"NoClientCert", false, cases(ok, ok, ok, ok)},
		// With a client CA, webguard verifies under every type that
		// takes a certificate (crypto/tls alone would not).
		{"RequestClientCert", true, cases(ok, handshakeUnknownCA, ok, handshakeExpired)},
		{"RequireAnyClientCert", true, cases(handshakeNoClientCert, handshakeUnknownCA, ok, handshakeExpired)},
		{"RequireClientCert", true, cases(handshakeNoClientCert, handshakeUnknownCA, ok, handshakeExpired)},
		{"VerifyClientCertIfGiven", true, cases(ok, handshakeUnknownCA, ok, handshakeExpired)},
		{"RequireAndVerifyClientCert", true, cases(handshakeNoClientCert, handshakeUnknownCA, ok, handshakeExpired)},
	} {
		t.Run(tt.authType, func(t *testing.T) {
			extra := []string{"client_auth_type: " + tt.authType}
			if tt.withCA {
				extra = append(extra, "client_ca_file: ca.crt")
			}
			logs, logger := newLogBuffer()
			g := newGuard(t, p.dir, p.tlsSection(extra...), logger)
			url, _ := startServing(t, g)
			for _, c := range tt.clients {
				t.Run(c.name, func(t *testing.T) {
					var before float64
					if c.reason != ok {
						before = handshakeFailures(g, c.reason)()
					}
					resp, _, err := fetch(t, p.httpClient(c.cert), url)
					if c.reason == ok {
						if err != nil {
							t.Fatalf("refused: %v", err)
						}
						if resp.StatusCode != http.StatusOK {
							t.Fatalf("status %d", resp.StatusCode)
						}
						return
					}
					if err == nil {
						t.Fatalf("admitted (%s), want refused for %s", resp.Status, c.reason)
					}
					eventuallyCount(t, c.reason+" failures", handshakeFailures(g, c.reason), before+1)
					if c.cert == nil {
						return
					}
					// Whoever refused the chain, webguard or crypto/tls
					// (under the Verify types), the line says whose it was.
					cert := c.cert.Cert
					if got := logs.lines(`msg="client refused"`, "reason="+c.reason,
						`subject="`+cert.Subject.String()+`"`, "serial="+serialHex(cert.SerialNumber),
						`sans=DNS:scraper.example`, `want="a certificate for client authentication issued by [CN=webguard CA,O=webguard]"`); len(got) != 1 {
						t.Errorf("no refusal line naming the certificate:\n%s", strings.Join(logs.lines(""), "\n"))
					}
				})
			}
		})
	}
}

func TestClientAllowedSANs(t *testing.T) {
	p := newTestPKI(t)
	client := func(hosts ...string) *pki.Cert {
		c, err := p.ca.Client(pki.Request{CommonName: "client", Hosts: hosts})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	sans := `client_allowed_sans: ["scraper.example", "10.0.0.7", "ops@example.org", "spiffe://example.org/prometheus", "::1"]`
	for _, tt := range []struct {
		name    string
		cert    *pki.Cert
		allowed bool
	}{
		{"DNS SAN", client("other.example", "scraper.example"), true},
		{"IP SAN", client("10.0.0.7"), true},
		{"IPv6 SAN in another spelling", client("0:0::1"), true},
		{"e-mail SAN", client("ops@example.org"), true},
		{"URI SAN", client("spiffe://example.org/prometheus"), true},
		{"no listed SAN", client("other.example", "10.0.0.8", "dev@example.org", "spiffe://example.org/other"), false},
		{"prefix of a listed SAN", client("scraper.exam"), false},
		{"case differs", client("Scraper.example"), false},
		{"listed name only as common name", func() *pki.Cert {
			c, err := p.ca.Client(pki.Request{CommonName: "scraper.example"})
			if err != nil {
				t.Fatal(err)
			}
			return c
		}(), false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			g := newGuard(t, p.dir, p.tlsSection("client_auth_type: RequireAndVerifyClientCert", "client_ca_file: ca.crt", sans), nil)
			url, _ := startServing(t, g)
			_, _, err := fetch(t, p.httpClient(tt.cert), url)
			if tt.allowed {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("admitted, want refused")
			}
			eventuallyCount(t, "san_not_allowed failures", handshakeFailures(g, handshakeSANNotAllowed), 1)
		})
	}

	// exporter-toolkit accepts client_allowed_sans under the types that let
	// clients in without a certificate, and so do we; such a client is
	// refused cleanly at the handshake (the reference panics in the
	// handler).
	for _, authType := range []string{"VerifyClientCertIfGiven", "RequestClientCert"} {
		t.Run("no certificate under "+authType, func(t *testing.T) {
			rec, logger := newLogRecorder()
			g := newGuard(t, p.dir, p.tlsSection("client_auth_type: "+authType, "client_ca_file: ca.crt", sans), logger)
			url, _ := startServing(t, g)
			if _, _, err := fetch(t, p.httpClient(nil), url); err == nil {
				t.Fatal("client without a certificate was admitted")
			}
			eventuallyCount(t, "no_client_cert failures", handshakeFailures(g, handshakeNoClientCert), 1)
			if got := rec.matching("INFO client refused", "reason=no_client_cert", errNoClientCert.Error()); len(got) != 1 {
				t.Errorf("refusal lines %q", got)
			}
			mustGet(t, p.httpClient(client("scraper.example")), url, http.StatusOK)
		})
	}
}

func TestHandshakeReason(t *testing.T) {
	leaf := &x509.Certificate{Subject: pkix.Name{CommonName: "x"}, SerialNumber: big.NewInt(1)}
	refusal := func(reason string) error { return newCertRefusal(reason, leaf, "", nil) }
	unverified := func(err error) error {
		return &tls.CertificateVerificationError{UnverifiedCertificates: []*x509.Certificate{leaf}, Err: err}
	}
	for _, c := range []struct {
		err  error
		want string
	}{
		{errors.New("tls: client didn't provide a certificate"), handshakeNoClientCert},
		{errNoClientCert, handshakeNoClientCert},
		{refusal(handshakeSANNotAllowed), handshakeSANNotAllowed},
		{refusal(handshakeRevoked), handshakeRevoked},
		{refusal("bogus"), handshakeOther},
		{unverified(x509.UnknownAuthorityError{}), handshakeUnknownCA},
		{unverified(x509.CertificateInvalidError{Cert: leaf, Reason: x509.Expired}), handshakeExpired},
		{unverified(x509.CertificateInvalidError{Cert: leaf, Reason: x509.IncompatibleUsage}), handshakeOther},
		{errors.New("tls: client offered only unsupported versions: [302 301]"), handshakeProtocol},
		{errors.New("tls: no cipher suite supported by both client and server; client offered: [c02b]"), handshakeProtocol},
		{tls.RecordHeaderError{Msg: "first record does not look like a TLS handshake"}, handshakeProtocol},
		{errPlainHTTP, handshakeProtocol},
		{errors.New("remote error: tls: unknown certificate authority"), handshakeOther},
		{io.EOF, handshakeOther},
		{errors.New("read tcp 127.0.0.1:1->127.0.0.1:2: i/o timeout"), handshakeOther},
	} {
		if got := handshakeReason(c.err); got != c.want {
			t.Errorf("handshakeReason(%v) = %s, want %s", c.err, got, c.want)
		}
	}
}
