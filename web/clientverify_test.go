package web

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/webguard/webguard/bcrypt"
	"github.com/webguard/webguard/internal/pki"
)

func mustCert(t *testing.T) func(*pki.Cert, error) *pki.Cert {
	return func(c *pki.Cert, err error) *pki.Cert {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
}

// TestUnverifiedCertificatesRefused is the attack of issue 12: a certificate
// nobody issued, carrying an allowed SAN, presented under each
// client_auth_type with client_ca_file and client_allowed_sans set. It is
// refused in every type; a certificate from the client CA gets in wherever
// the type lets certificates in.
func TestUnverifiedCertificatesRefused(t *testing.T) {
	p := newTestPKI(t)
	must := mustCert(t)
	const san = "scraper.example"
	selfSigned := must(pki.SelfSigned(pki.Request{CommonName: san, Hosts: []string{san}}))
	// An impostor CA with the real CA's name, issuing a client certificate.
	impostor := must(must(pki.NewCA(pki.Request{})).Client(pki.Request{Hosts: []string{san}}))
	issued := must(p.ca.Client(pki.Request{Hosts: []string{san}}))
	for _, tt := range []struct {
		authType string
		loads    bool
	}{
		{"NoClientCert", false},
		{"RequestClientCert", true},
		{"RequireAnyClientCert", true},
		{"RequireClientCert", true},
		{"VerifyClientCertIfGiven", true},
		{"RequireAndVerifyClientCert", true},
	} {
		t.Run(tt.authType, func(t *testing.T) {
			section := p.tlsSection("client_auth_type: "+tt.authType, "client_ca_file: ca.crt", "client_allowed_sans: ["+san+"]")
			path := putFile(t, p.dir, "web.yml", section)
			g, err := New(Options{ConfigFile: path})
			if !tt.loads {
				if err == nil {
					g.Close()
					t.Fatal("config loaded; want it refused (no certificate is asked for, so no SAN can be checked)")
				}
				if !strings.Contains(err.Error(), "tls_server_config.client_allowed_sans: client_allowed_sans needs client certificates") {
					t.Fatalf("error %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { g.Close() })
			url, _ := startServing(t, g)
			for _, c := range []struct {
				name string
				cert *pki.Cert
			}{{"self-signed", selfSigned}, {"impostor CA", impostor}} {
				before := handshakeFailures(g, handshakeUnknownCA)()
				if resp, _, err := fetch(t, p.httpClient(c.cert), url); err == nil {
					t.Fatalf("%s certificate with an allowed SAN admitted: %s", c.name, resp.Status)
				}
				eventuallyCount(t, c.name+": unknown_ca failures", handshakeFailures(g, handshakeUnknownCA), before+1)
			}
			if _, _, err := fetch(t, p.httpClient(nil), url); err == nil {
				t.Fatal("client without a certificate admitted although client_allowed_sans is set")
			}
			mustGet(t, p.httpClient(issued), url, http.StatusOK)
		})
	}

	// Without a client CA, nothing could verify the SANs under the types
	// that do not verify: the config is refused.
	for _, authType := range []string{"RequestClientCert", "RequireAnyClientCert"} {
		t.Run(authType+" without a client CA", func(t *testing.T) {
			path := putFile(t, p.dir, "web.yml", p.tlsSection("client_auth_type: "+authType, "client_allowed_sans: ["+san+"]"))
			_, err := New(Options{ConfigFile: path})
			want := "web.yml:5: tls_server_config.client_allowed_sans: client_allowed_sans would be checked on certificates nobody verified"
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("error %v, want %q", err, want)
			}
		})
	}
}

// TestClientVerifierChecksKeyUsage checks that a chain verified by
// webguard (under RequireAnyClientCert) must allow client authentication,
// as crypto/tls requires under the verifying types.
func TestClientVerifierChecksKeyUsage(t *testing.T) {
	p := newTestPKI(t)
	serverCert := mustCert(t)(p.ca.Server(pki.Request{Hosts: []string{"scraper.example"}}))
	for _, authType := range []string{"RequireAnyClientCert", "RequireAndVerifyClientCert"} {
		t.Run(authType, func(t *testing.T) {
			g := newGuard(t, p.dir, p.tlsSection("client_auth_type: "+authType, "client_ca_file: ca.crt"), nil)
			url, _ := startServing(t, g)
			if _, _, err := fetch(t, p.httpClient(serverCert), url); err == nil {
				t.Fatal("a server-only certificate was admitted as a client")
			}
			eventuallyCount(t, "other failures", handshakeFailures(g, handshakeOther), 1)
			mustGet(t, p.httpClient(p.client), url, http.StatusOK)
		})
	}
}

// logBuffer is a slog text logger writing to a buffer, as an operator's log
// file would read.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) lines(parts ...string) []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
next:
	for _, l := range strings.Split(b.buf.String(), "\n") {
		for _, p := range parts {
			if !strings.Contains(l, p) {
				continue next
			}
		}
		if l != "" {
			out = append(out, l)
		}
	}
	return out
}

func newLogBuffer() (*logBuffer, *slog.Logger) {
	b := &logBuffer{}
	return b, slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

// TestRevokedClient drives client_crl_file with lists made by crypto/x509:
// a revoked client is refused with its serial in the log and counted as
// revoked, under a type crypto/tls verifies and one webguard verifies; a
// new list applies on reload; a list past its next update is still used,
// with a warning and its time in a metric.
func TestRevokedClient(t *testing.T) {
	p := newTestPKI(t)
	must := mustCert(t)
	revoked := must(p.ca.Client(pki.Request{CommonName: "revoked", Hosts: []string{"revoked.example"}}))
	writeCRL := func(r pki.CRLRequest) *pki.CRL {
		t.Helper()
		crl, err := p.ca.CRL(r)
		if err != nil {
			t.Fatal(err)
		}
		putFile(t, p.dir, "ca.crl", string(crl.PEM))
		return crl
	}
	for _, authType := range []string{"RequireAndVerifyClientCert", "RequireAnyClientCert"} {
		t.Run(authType, func(t *testing.T) {
			writeCRL(pki.CRLRequest{Revoked: []*x509.Certificate{revoked.Cert}})
			logs, logger := newLogBuffer()
			g := newGuard(t, p.dir, p.tlsSection("client_auth_type: "+authType, "client_ca_file: ca.crt", "client_crl_file: ca.crl"), logger)
			url, _ := startServing(t, g)
			if _, _, err := fetch(t, p.httpClient(revoked), url); err == nil {
				t.Fatal("revoked client admitted")
			}
			eventuallyCount(t, "revoked failures", handshakeFailures(g, handshakeRevoked), 1)
			serial := serialHex(revoked.Cert.SerialNumber)
			if got := logs.lines(`msg="client refused"`, "reason=revoked", "remote=127.0.0.1:", "serial="+serial, `subject="CN=revoked,O=webguard"`, "sans=DNS:revoked.example"); len(got) != 1 {
				t.Errorf("no refusal line with the serial %s:\n%s", serial, strings.Join(logs.lines(""), "\n"))
			}
			mustGet(t, p.httpClient(p.client), url, http.StatusOK)

			// A new list revoking the other client too: applied on reload,
			// to new handshakes.
			writeCRL(pki.CRLRequest{Revoked: []*x509.Certificate{revoked.Cert, p.client.Cert}, Number: 2})
			if err := g.Reload(); err != nil {
				t.Fatal(err)
			}
			if _, _, err := fetch(t, p.httpClient(p.client), url); err == nil {
				t.Fatal("client revoked by the reloaded list admitted")
			}
			eventuallyCount(t, "revoked failures", handshakeFailures(g, handshakeRevoked), 2)
		})
	}

	t.Run("list past its next update", func(t *testing.T) {
		next := time.Now().Add(-24 * time.Hour).Truncate(time.Second)
		writeCRL(pki.CRLRequest{Revoked: []*x509.Certificate{revoked.Cert}, ThisUpdate: next.Add(-24 * time.Hour), NextUpdate: next})
		logs, logger := newLogBuffer()
		g := newGuard(t, p.dir, p.tlsSection("client_auth_type: RequireAndVerifyClientCert", "client_ca_file: ca.crt", "client_crl_file: ca.crl"), logger)
		url, _ := startServing(t, g)
		mustGet(t, p.httpClient(p.client), url, http.StatusOK)
		if _, _, err := fetch(t, p.httpClient(revoked), url); err == nil {
			t.Fatal("revoked client admitted under an overdue list")
		}
		if got := logs.lines("level=WARN", "was due for renewal on", "field=tls_server_config.client_crl_file"); len(got) != 1 {
			t.Errorf("no warning about the overdue list:\n%s", strings.Join(logs.lines(""), "\n"))
		}
		reg := prometheus.NewPedanticRegistry()
		reg.MustRegister(g.Collector())
		v, ok := gathered(t, reg, "webguard_client_crl_next_update_timestamp_seconds", "issuer", "CN=webguard CA,O=webguard")
		if !ok || v != float64(next.Unix()) {
			t.Errorf("webguard_client_crl_next_update_timestamp_seconds = %v (found %v), want %d", v, ok, next.Unix())
		}
	})
}

// TestRevokedClientOpenSSL revokes a client with `openssl ca -revoke` and
// `openssl ca -gencrl`, and serves the list as PEM and as DER.
func TestRevokedClientOpenSSL(t *testing.T) {
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Fatal("openssl is needed: ", err)
	}
	p := newTestPKI(t)
	revoked := mustCert(t)(p.ca.Client(pki.Request{CommonName: "revoked", Hosts: []string{"revoked.example"}}))
	ca := filepath.Join(p.dir, "openssl-ca")
	if err := os.MkdirAll(ca, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := p.ca.WriteFiles(filepath.Join(ca, "ca.crt"), filepath.Join(ca, "ca.key")); err != nil {
		t.Fatal(err)
	}
	if err := revoked.WriteFiles(filepath.Join(ca, "revoked.crt"), ""); err != nil {
		t.Fatal(err)
	}
	putFile(t, ca, "index.txt", "")
	putFile(t, ca, "crlnumber", "01\n")
	putFile(t, ca, "openssl.cnf", `[ca]
default_ca = webguard
[webguard]
dir = .
database = $dir/index.txt
crlnumber = $dir/crlnumber
certificate = $dir/ca.crt
private_key = $dir/ca.key
default_md = sha256
default_crl_days = 7
`)
	run := func(args ...string) {
		t.Helper()
		cmd := exec.Command(openssl, args...)
		cmd.Dir = ca
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	run("ca", "-config", "openssl.cnf", "-revoke", "revoked.crt")
	run("ca", "-config", "openssl.cnf", "-gencrl", "-out", "crl.pem")
	run("crl", "-in", "crl.pem", "-outform", "DER", "-out", "crl.der")
	for _, file := range []string{"crl.pem", "crl.der"} {
		t.Run(file, func(t *testing.T) {
			logs, logger := newLogBuffer()
			g := newGuard(t, p.dir, p.tlsSection("client_auth_type: RequireAndVerifyClientCert", "client_ca_file: ca.crt", "client_crl_file: openssl-ca/"+file), logger)
			url, _ := startServing(t, g)
			if _, _, err := fetch(t, p.httpClient(revoked), url); err == nil {
				t.Fatal("client revoked by openssl admitted")
			}
			eventuallyCount(t, "revoked failures", handshakeFailures(g, handshakeRevoked), 1)
			if got := logs.lines("reason=revoked", "serial="+serialHex(revoked.Cert.SerialNumber)); len(got) != 1 {
				t.Errorf("refusal lines:\n%s", strings.Join(logs.lines(""), "\n"))
			}
			mustGet(t, p.httpClient(p.client), url, http.StatusOK)
		})
	}
}

// TestClientAllowedSANPatterns drives client_allowed_san_patterns through
// real clients, next to an exact client_allowed_sans entry.
func TestClientAllowedSANPatterns(t *testing.T) {
	p := newTestPKI(t)
	must := mustCert(t)
	client := func(hosts ...string) *pki.Cert {
		return must(p.ca.Client(pki.Request{CommonName: "client", Hosts: hosts}))
	}
	logs, logger := newLogBuffer()
	g := newGuard(t, p.dir, p.tlsSection("client_auth_type: RequireAndVerifyClientCert", "client_ca_file: ca.crt",
		"client_allowed_sans: [exact.example]",
		`client_allowed_san_patterns: ["*.monitoring.example.org", "spiffe://example.org/ns/monitoring/*"]`), logger)
	url, _ := startServing(t, g)
	refused := 0.0
	for _, tt := range []struct {
		name    string
		cert    *pki.Cert
		allowed bool
	}{
		{"exact SAN still allowed", client("exact.example"), true},
		{"one label under the wildcard", client("prom-1.monitoring.example.org"), true},
		{"upper case label", client("Prom.Monitoring.Example.org"), true},
		{"SPIFFE ID under the prefix", client("spiffe://example.org/ns/monitoring/sa/prometheus"), true},
		{"one of several SANs matches", client("other.example", "spiffe://example.org/ns/monitoring/x"), true},
		{"two labels under the wildcard", client("a.b.monitoring.example.org"), false},
		{"the wildcard's parent", client("monitoring.example.org"), false},
		{"a suffix that is not a label boundary", client("evilmonitoring.example.org"), false},
		{"wildcard in the certificate", client("*.monitoring.example.org"), false},
		{"SPIFFE prefix itself", client("spiffe://example.org/ns/monitoring"), false},
		{"SPIFFE sibling with the prefix as a string prefix", client("spiffe://example.org/ns/monitoring-evil/x"), false},
		{"SPIFFE dot-dot escape", client("spiffe://example.org/ns/monitoring/../kube-system/x"), false},
		{"SPIFFE percent-encoding", client("spiffe://example.org/ns/monitoring/%2e%2e/x"), false},
		{"SPIFFE other trust domain", client("spiffe://example.com/ns/monitoring/x"), false},
		{"SPIFFE with a port", client("spiffe://example.org:443/ns/monitoring/x"), false},
		{"pattern only in the common name", must(p.ca.Client(pki.Request{CommonName: "a.monitoring.example.org"})), false},
	} {
		t.Run(tt.name, func(t *testing.T) {
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
			refused++
			eventuallyCount(t, "san_not_allowed failures", handshakeFailures(g, handshakeSANNotAllowed), refused)
		})
	}
	// A refusal names the SANs found and what was allowed.
	want := `want="a SAN in client_allowed_sans [exact.example] or client_allowed_san_patterns [*.monitoring.example.org, spiffe://example.org/ns/monitoring/*]"`
	if got := logs.lines("reason=san_not_allowed", "sans=DNS:a.b.monitoring.example.org", want); len(got) != 1 {
		t.Errorf("no refusal line naming the SANs found and allowed:\n%s", strings.Join(logs.lines(""), "\n"))
	}
}

// TestRefusalLog checks the refusal lines as an operator's log file holds
// them, for handshakes and basic auth, and that a flood is rate-limited
// per reason with the suppressed lines counted.
func TestRefusalLog(t *testing.T) {
	p := newTestPKI(t)
	logs, logger := newLogBuffer()
	const password = "right-password"
	yml := p.tlsSection("client_auth_type: VerifyClientCertIfGiven", "client_ca_file: ca.crt", "client_allowed_sans: [scraper.example]") +
		"basic_auth_users:\n  alice: " + testHash(t, password) + "\n"
	// The flood below comes from one address: without the failed-login
	// limit every guess is a refusal of its own reason to log.
	g := newGuardWith(t, p.dir, yml, Options{Logger: logger, Verifier: bcrypt.VerifierOptions{MaxFailures: -1}})
	url, _ := startServing(t, g)

	// One of each, each line checked.
	fetch(t, p.httpClient(p.wrongCA), url)
	eventuallyCount(t, "unknown_ca failures", handshakeFailures(g, handshakeUnknownCA), 1)
	line := logs.lines("reason=unknown_ca")
	if len(line) != 1 || !strings.Contains(line[0], `level=INFO msg="client refused" remote=127.0.0.1:`) ||
		!strings.Contains(line[0], `want="a certificate for client authentication issued by [CN=webguard CA,O=webguard]"`) {
		t.Errorf("unknown_ca line %q", line)
	}
	other := mustCert(t)(p.ca.Client(pki.Request{CommonName: "other", Hosts: []string{"other.example", "10.0.0.9"}}))
	fetch(t, p.httpClient(other), url)
	eventuallyCount(t, "san_not_allowed failures", handshakeFailures(g, handshakeSANNotAllowed), 1)
	line = logs.lines("reason=san_not_allowed")
	if len(line) != 1 || !strings.Contains(line[0], `level=INFO msg="client refused" remote=127.0.0.1:`) ||
		!strings.Contains(line[0], `subject="CN=other,O=webguard" serial=`+serialHex(other.Cert.SerialNumber)+` sans="DNS:other.example, IP:10.0.0.9" want="a SAN in client_allowed_sans [scraper.example]"`) {
		t.Errorf("san_not_allowed line %q", line)
	}
	c := p.httpClient(p.client)
	mustGet(t, c, url, http.StatusUnauthorized, basicAuth("alice", "wrong-password"))
	line = logs.lines("reason=wrong_password")
	if len(line) != 1 || !strings.Contains(line[0], `level=WARN msg="client refused" remote=127.0.0.1:`) || !strings.Contains(line[0], "user=alice") {
		t.Errorf("wrong_password line %q", line)
	}
	mustGet(t, c, url, http.StatusOK, basicAuth("alice", password))

	// A flood: many wrong passwords and refused handshakes, as fast as
	// the clients go.
	const flood = 60
	start := time.Now()
	for range flood {
		mustGet(t, c, url, http.StatusUnauthorized, basicAuth("alice", "guess"))
		fetch(t, p.httpClient(p.wrongCA), url)
	}
	eventuallyCount(t, "unknown_ca failures", handshakeFailures(g, handshakeUnknownCA), 1+flood)
	seconds := time.Since(start).Seconds()
	bound := refusalLinesPerSecond * (int(seconds) + 2) // the windows the flood touched
	for _, reason := range []string{authWrongPassword, handshakeUnknownCA} {
		if n := len(logs.lines("reason=" + reason)); n > 1+bound || n >= flood {
			t.Errorf("%s: %d lines for %d refusals in %.1fs, want at most %d", reason, n, 1+flood, seconds, 1+bound)
		}
	}

	// The first line written after the flood carries the count of those
	// dropped since the last one: every refusal is a line or counted in
	// one. Refusals are sent until a line appears (a new second).
	deadline := time.Now().Add(10 * time.Second)
	sent := 1 + flood
	before := len(logs.lines("reason=wrong_password"))
	for len(logs.lines("reason=wrong_password")) == before {
		if time.Now().After(deadline) {
			t.Fatal("no refusal line after the flood")
		}
		time.Sleep(200 * time.Millisecond)
		mustGet(t, c, url, http.StatusUnauthorized, basicAuth("alice", "guess"))
		sent++
	}
	if len(logs.lines("reason=wrong_password", "suppressed=")) == 0 {
		t.Error("no line reports suppressed lines")
	}
	total := 0
	for _, l := range logs.lines("reason=wrong_password") {
		total++
		if _, n, ok := strings.Cut(l, "suppressed="); ok {
			var k int
			for _, r := range n {
				if r < '0' || r > '9' {
					break
				}
				k = k*10 + int(r-'0')
			}
			total += k
		}
	}
	if total != sent {
		t.Errorf("lines plus suppressed = %d, want the %d refusals", total, sent)
	}
	if leaked := logs.lines("guess"); len(leaked) > 0 {
		t.Fatalf("a password reached the log: %q", leaked)
	}
	if leaked := logs.lines(password); len(leaked) > 0 {
		t.Fatalf("a password reached the log: %q", leaked)
	}
}

// TestRefusalLogWindows checks the per-reason limit with a fake clock.
func TestRefusalLogWindows(t *testing.T) {
	logs, logger := newLogBuffer()
	l := newRefusalLog(logger)
	now := time.Unix(1000, 0)
	l.now = func() time.Time { return now }
	for range 10 {
		l.logAuth("192.0.2.1:1", authUnknownUser, "x")
		l.logAuth("192.0.2.1:1", authNoCredentials, "")
	}
	if n := len(logs.lines("reason=unknown_user")); n != refusalLinesPerSecond {
		t.Fatalf("%d unknown_user lines in one second, want %d", n, refusalLinesPerSecond)
	}
	if n := len(logs.lines("reason=no_credentials")); n != refusalLinesPerSecond {
		t.Fatalf("reasons share a limit: %d no_credentials lines", n)
	}
	now = now.Add(time.Second)
	l.logAuth("192.0.2.1:1", authUnknownUser, "x")
	if got := logs.lines("reason=unknown_user", "suppressed=7"); len(got) != 1 {
		t.Fatalf("want one line with suppressed=7:\n%s", strings.Join(logs.lines(""), "\n"))
	}
	if got := logs.lines("user=x"); len(got) != 0 {
		t.Errorf("an unknown user name was logged: %q", got)
	}
}

// TestCertRefusalText checks that the refusal line of a certificate stays
// one line with every field in place whatever the certificate's maker wrote
// into it.
func TestCertRefusalText(t *testing.T) {
	p := newTestPKI(t)
	crafted := "x\" reason=wrong_password remote=10.0.0.1:1\nlevel=WARN msg=\"client refused"
	leaf := mustCert(t)(p.ca.Client(pki.Request{CommonName: crafted, Hosts: []string{"a.example", "spiffe://example.org/x%22%0Ay"}}))
	r := newCertRefusal(handshakeSANNotAllowed, leaf.Cert, "a SAN in client_allowed_sans [b.example]", nil)
	if got := handshakeReason(fmt.Errorf("wrapped: %w", r)); got != handshakeSANNotAllowed {
		t.Errorf("reason %s", got)
	}
	logs, logger := newLogBuffer()
	newRefusalLog(logger).logCert("127.0.0.1:5", handshakeSANNotAllowed, r)
	lines := logs.lines("")
	if len(lines) != 1 || !strings.Contains(lines[0], ` level=INFO msg="client refused" remote=127.0.0.1:5 reason=san_not_allowed subject="CN=x\\\"`) {
		t.Fatalf("the refusal made %d lines: %q", len(lines), lines)
	}
	for _, want := range []string{
		` serial=` + serialHex(leaf.Cert.SerialNumber) + ` `,
		` sans="DNS:a.example, URI:spiffe://example.org/x%22%0Ay"`,
		` want="a SAN in client_allowed_sans [b.example]"`,
	} {
		if !strings.Contains(lines[0], want) {
			t.Errorf("line lacks %s: %s", want, lines[0])
		}
	}
}

// TestRevokedClientResumed checks that a session ticket from before a
// revocation does not let the client back in once the new list is loaded.
// (Today a reload also changes the session ticket keys, so the client gets a
// full handshake; the verifier runs on resumed handshakes too, should that
// change.)
func TestRevokedClientResumed(t *testing.T) {
	p := newTestPKI(t)
	empty, err := p.ca.CRL(pki.CRLRequest{})
	if err != nil {
		t.Fatal(err)
	}
	putFile(t, p.dir, "ca.crl", string(empty.PEM))
	g := newGuard(t, p.dir, p.tlsSection("client_auth_type: RequireAndVerifyClientCert", "client_ca_file: ca.crt", "client_crl_file: ca.crl"), nil)
	url, _ := startServing(t, g)
	cache := tls.NewLRUClientSessionCache(4)
	c := p.httpClient(p.client, func(tc *tls.Config) { tc.ClientSessionCache = cache })
	mustGet(t, c, url, http.StatusOK)
	if resp := mustGet(t, c, url, http.StatusOK); !resp.TLS.DidResume {
		t.Fatal("the second connection did not resume its session; the test proves nothing")
	}
	revoked, err := p.ca.CRL(pki.CRLRequest{Revoked: []*x509.Certificate{p.client.Cert}, Number: 2})
	if err != nil {
		t.Fatal(err)
	}
	putFile(t, p.dir, "ca.crl", string(revoked.PEM))
	if err := g.Reload(); err != nil {
		t.Fatal(err)
	}
	if resp, _, err := fetch(t, c, url); err == nil {
		t.Fatalf("revoked client with a session ticket admitted (resumed: %v)", resp.TLS.DidResume)
	}
	eventuallyCount(t, "revoked failures", handshakeFailures(g, handshakeRevoked), 1)
}

// TestClientCRLFileWatched replaces only the CRL file while the Guard
// serves: the file watcher picks it up, as it does the client CA, and the
// newly revoked client is refused.
func TestClientCRLFileWatched(t *testing.T) {
	e := newReloadEnv(t, reloadMTLS+"  client_crl_file: ca.crl\n")
	empty, err := e.ca.CRL(pki.CRLRequest{})
	if err != nil {
		t.Fatal(err)
	}
	watchWrite(t, filepath.Join(e.dir, "ca.crl"), string(empty.PEM))
	e.serve(reloadWatch)
	client := e.newClientCert(e.ca, "scraper.example")
	if got := e.status(reloadClient{cert: client}); got != http.StatusOK {
		t.Fatalf("status %d before the revocation, want 200", got)
	}
	crl, err := e.ca.CRL(pki.CRLRequest{Revoked: []*x509.Certificate{client.Cert}, Number: 2})
	if err != nil {
		t.Fatal(err)
	}
	watchReplace(t, filepath.Join(e.dir, "ca.crl"), string(crl.PEM))
	watchEventually(t, "the revoked client to be refused", func() bool { return e.status(reloadClient{cert: client}) != http.StatusOK })
	// A connection handshaken just before the reload is refused by the
	// re-check of its request instead (421, recheck.go): ask again.
	watchEventually(t, "a new handshake to be refused as revoked", func() bool {
		e.status(reloadClient{cert: client})
		return e.metric("webguard_tls_handshake_failures_total", "reason", "revoked") >= 1
	})
}

// TestDescribeSANs checks that a refusal quotes at most a bounded part of
// what a certificate carries.
func TestDescribeSANs(t *testing.T) {
	long := strings.Repeat("a", 200) + ".example"
	c := &x509.Certificate{DNSNames: []string{long, "b.example"}, EmailAddresses: []string{"ops@example.org"}}
	for i := range 10 {
		c.DNSNames = append(c.DNSNames, fmt.Sprintf("n%d.example", i))
	}
	got := describeSANs(c)
	if !strings.HasSuffix(got, " and 5 more") || strings.Contains(got, long) || !strings.HasPrefix(got, "DNS:"+strings.Repeat("a", maxShownSANBytes-4)+"…, DNS:b.example") {
		t.Errorf("describeSANs = %q", got)
	}
	if got := describeSANs(&x509.Certificate{}); got != "none" {
		t.Errorf("no SANs described as %q", got)
	}
}
