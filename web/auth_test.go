package web

import (
	"crypto/tls"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/webguard/webguard/bcrypt"
)

// headersYAML sets two security headers, checked on every response.
const headersYAML = "http_server_config:\n  headers:\n    X-Frame-Options: deny\n    X-XSS-Protection: \"1; mode=block\"\n"

func checkHeaders(t *testing.T, resp *http.Response) {
	t.Helper()
	if got := resp.Header.Get("X-Frame-Options"); got != "deny" {
		t.Errorf("status %d: X-Frame-Options %q, want deny", resp.StatusCode, got)
	}
	if got := resp.Header.Get("X-XSS-Protection"); got != "1; mode=block" {
		t.Errorf("status %d: X-XSS-Protection %q", resp.StatusCode, got)
	}
}

func basicAuth(user, password string) func(*http.Request) {
	return func(r *http.Request) { r.SetBasicAuth(user, password) }
}

func withHeader(name string, values ...string) func(*http.Request) {
	return func(r *http.Request) { r.Header[name] = values }
}

func TestBasicAuth(t *testing.T) {
	p := newTestPKI(t)
	yml := p.tlsSection() + headersYAML + fmt.Sprintf("basic_auth_users:\n  alice: %s\n  bob: %s\n", testHash(t, "alice-pw"), testHash(t, "bob-pw"))
	g := newGuard(t, p.dir, yml, nil)
	url, _ := startServing(t, g)
	c := p.httpClient(nil)
	for _, tt := range []struct {
		name   string
		req    func(*http.Request)
		status int
		reason string
	}{
		{"no credentials", func(*http.Request) {}, http.StatusUnauthorized, authNoCredentials},
		{"unknown user", basicAuth("carol", "alice-pw"), http.StatusUnauthorized, authUnknownUser},
		{"wrong password", basicAuth("alice", "bob-pw"), http.StatusUnauthorized, authWrongPassword},
		{"empty password", basicAuth("alice", ""), http.StatusUnauthorized, authWrongPassword},
		{"not base64", withHeader("Authorization", "Basic !!!"), http.StatusUnauthorized, authMalformed},
		{"no colon", withHeader("Authorization", "Basic YWxpY2U="), http.StatusUnauthorized, authMalformed},
		{"other scheme", withHeader("Authorization", "Bearer abc"), http.StatusUnauthorized, authMalformed},
		{"two Authorization headers", withHeader("Authorization", "Basic YWxpY2U6YWxpY2UtcHc=", "Basic Ym9iOndyb25n"), http.StatusBadRequest, authMalformed},
		{"right password", basicAuth("alice", "alice-pw"), http.StatusOK, ""},
		{"other user", basicAuth("bob", "bob-pw"), http.StatusOK, ""},
		{"right password again (cached)", basicAuth("alice", "alice-pw"), http.StatusOK, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var before float64
			if tt.reason != "" {
				before = authFailures(g, tt.reason)
			}
			resp := mustGet(t, c, url, tt.status, tt.req)
			checkHeaders(t, resp)
			if tt.status == http.StatusUnauthorized {
				if got := resp.Header.Get("WWW-Authenticate"); got != challenge {
					t.Errorf("WWW-Authenticate %q, want %q", got, challenge)
				}
			}
			if tt.reason != "" {
				if got := authFailures(g, tt.reason); got != before+1 {
					t.Errorf("auth failures{reason=%s} = %v, want %v", tt.reason, got, before+1)
				}
			}
		})
	}
}

func TestMutualTLSAndBasicAuth(t *testing.T) {
	p := newTestPKI(t)
	yml := p.tlsSection("client_auth_type: RequireAndVerifyClientCert", "client_ca_file: ca.crt") +
		"basic_auth_users:\n  prometheus: " + testHash(t, "secret") + "\n"
	g := newGuard(t, p.dir, yml, nil)
	url, _ := startServing(t, g)

	if _, _, err := fetch(t, p.httpClient(nil), url, basicAuth("prometheus", "secret")); err == nil {
		t.Error("password without a client certificate was admitted")
	}
	mustGet(t, p.httpClient(p.client), url, http.StatusUnauthorized)
	mustGet(t, p.httpClient(p.client), url, http.StatusUnauthorized, basicAuth("prometheus", "wrong"))
	mustGet(t, p.httpClient(p.client), url, http.StatusOK, basicAuth("prometheus", "secret"))
}

func TestHeadersWithoutAuth(t *testing.T) {
	g := newGuard(t, t.TempDir(), headersYAML, nil)
	url, _ := startServing(t, g)
	checkHeaders(t, mustGet(t, http.DefaultClient, url, http.StatusOK))
	checkHeaders(t, mustGet(t, http.DefaultClient, url+"/missing", http.StatusOK))
}

// busyVerifier answers every check with bcrypt.ErrBusy, as a Verifier does
// when too many checks are queued.
type busyVerifier struct{}

func (busyVerifier) Cached(*bcrypt.Users, string, string) bool { return false }
func (busyVerifier) Blocked(string) time.Duration              { return 0 }
func (busyVerifier) VerifyFrom(string, *bcrypt.Users, string, string) error {
	return bcrypt.ErrBusy
}

func TestBusyVerifier(t *testing.T) {
	g := newGuard(t, t.TempDir(), headersYAML+"basic_auth_users:\n  alice: "+testHash(t, "pw")+"\n", nil)
	g.verifier = busyVerifier{}
	url, _ := startServing(t, g)
	resp := mustGet(t, http.DefaultClient, url, http.StatusTooManyRequests, basicAuth("alice", "pw"))
	checkHeaders(t, resp)
	if got := resp.Header.Get("Retry-After"); got != "1" {
		t.Errorf("Retry-After %q, want 1", got)
	}
	if got := authFailures(g, authBusy); got != 1 {
		t.Errorf("auth failures{reason=busy} = %v, want 1", got)
	}
}

func TestRateLimit(t *testing.T) {
	// One token per hour: the burst is all a test can spend.
	const limit = "rate_limit:\n  interval: 1h\n  burst: 2\n"

	t.Run("past the burst", func(t *testing.T) {
		g := newGuard(t, t.TempDir(), headersYAML+limit, nil)
		url, _ := startServing(t, g)
		mustGet(t, http.DefaultClient, url, http.StatusOK)
		mustGet(t, http.DefaultClient, url, http.StatusOK)
		resp := mustGet(t, http.DefaultClient, url, http.StatusTooManyRequests)
		checkHeaders(t, resp)
		if got := resp.Header.Get("Retry-After"); got != "3600" {
			t.Errorf("Retry-After %q, want 3600", got)
		}
		if got := metricValue(g.metrics.limited); got != 1 {
			t.Errorf("rate limited = %v, want 1", got)
		}
	})

	t.Run("interval without burst refuses everything", func(t *testing.T) {
		g := newGuard(t, t.TempDir(), "rate_limit:\n  interval: 1s\n", nil)
		url, _ := startServing(t, g)
		mustGet(t, http.DefaultClient, url, http.StatusTooManyRequests)
	})

	t.Run("unauthenticated flood does not starve users", func(t *testing.T) {
		g := newGuard(t, t.TempDir(), headersYAML+limit+"basic_auth_users:\n  prometheus: "+testHash(t, "pw")+"\n", nil)
		url, _ := startServing(t, g)
		// The scraper's first login takes an anonymous token, as any
		// request whose password is not known yet.
		mustGet(t, http.DefaultClient, url, http.StatusOK, basicAuth("prometheus", "pw"))
		for i, want := range []int{401, 429, 429, 429} {
			mod := basicAuth("prometheus", fmt.Sprintf("guess %d", i))
			if i%2 == 0 {
				mod = func(*http.Request) {}
			}
			checkHeaders(t, mustGet(t, http.DefaultClient, url, want, mod))
		}
		// From then on the scraper has its own budget...
		mustGet(t, http.DefaultClient, url, http.StatusOK, basicAuth("prometheus", "pw"))
		mustGet(t, http.DefaultClient, url, http.StatusOK, basicAuth("prometheus", "pw"))
		// ...and it is limited too.
		checkHeaders(t, mustGet(t, http.DefaultClient, url, http.StatusTooManyRequests, basicAuth("prometheus", "pw")))
	})

	t.Run("verified client certificates have their own budget", func(t *testing.T) {
		p := newTestPKI(t)
		g := newGuard(t, p.dir, p.tlsSection("client_auth_type: VerifyClientCertIfGiven", "client_ca_file: ca.crt")+limit, nil)
		url, _ := startServing(t, g)
		anonymous, certified := p.httpClient(nil), p.httpClient(p.client)
		mustGet(t, anonymous, url, http.StatusOK)
		mustGet(t, anonymous, url, http.StatusOK)
		mustGet(t, anonymous, url, http.StatusTooManyRequests)
		mustGet(t, certified, url, http.StatusOK)
		mustGet(t, certified, url, http.StatusOK)
		mustGet(t, certified, url, http.StatusTooManyRequests)
	})
}

// TestHandlerWithoutServe uses Guard.Handler and Guard.TLSConfig with a
// server the program runs itself.
func TestHandlerWithoutServe(t *testing.T) {
	p := newTestPKI(t)
	g := newGuard(t, p.dir, p.tlsSection()+"basic_auth_users:\n  alice: "+testHash(t, "pw")+"\n", nil)
	l, err := tls.Listen("tcp", "127.0.0.1:0", g.TLSConfig())
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: g.Handler(okHandler)}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	url := "https://" + l.Addr().String()
	mustGet(t, p.httpClient(nil), url, http.StatusUnauthorized)
	mustGet(t, p.httpClient(nil), url, http.StatusOK, basicAuth("alice", "pw"))
}

// TestAuthFailureLogs checks what a refused request leaves in the log: one
// refusal line (see refusal.go) with the remote address and the reason, the
// user name only when it exists, and never a password.
func TestAuthFailureLogs(t *testing.T) {
	p := newTestPKI(t)
	logs, logger := newLogRecorder()
	const secret = "s3cret-typed-in-the-user-field"
	yml := p.tlsSection() + fmt.Sprintf("basic_auth_users:\n  alice: %s\n", testHash(t, "alice-pw"))
	g := newGuard(t, p.dir, yml, logger)
	url, _ := startServing(t, g)
	c := p.httpClient(nil)
	for _, tt := range []struct {
		req    func(*http.Request)
		reason string
		user   bool
	}{
		{func(*http.Request) {}, authNoCredentials, false},
		{basicAuth(secret, "alice-pw"), authUnknownUser, false},
		{basicAuth("alice", secret), authWrongPassword, true},
	} {
		mustGet(t, c, url, http.StatusUnauthorized, tt.req)
		got := logs.matching(refusalMsg, "remote=127.0.0.1:", "reason="+tt.reason)
		if len(got) != 1 {
			t.Fatalf("reason %s: %d refusal lines with remote and reason, want 1; log:\n%s", tt.reason, len(got), strings.Join(logs.matching(""), "\n"))
		}
		if hasUser := strings.Contains(got[0], "user=alice"); hasUser != tt.user {
			t.Errorf("reason %s: user logged = %v, want %v: %s", tt.reason, hasUser, tt.user, got[0])
		}
	}
	if leaked := logs.matching(secret); len(leaked) > 0 {
		t.Fatalf("a password reached the log: %q", leaked)
	}
}
