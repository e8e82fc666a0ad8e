package web

import (
	"bytes"
	"crypto/tls"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"

	"github.com/webguard/webguard/internal/pki"
)

// gathered finds one series in a gather result: value and whether found.
func gathered(t *testing.T, reg *prometheus.Registry, name string, labels ...string) (float64, bool) {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	series:
		for _, m := range mf.GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				if labelValue(m, labels[i]) != labels[i+1] {
					continue series
				}
			}
			if m.Counter != nil {
				return m.Counter.GetValue(), true
			}
			return m.Gauge.GetValue(), true
		}
	}
	return 0, false
}

func labelValue(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// TestMetrics causes real failures of every kind against a served Guard and
// reads the result through a registry, then has promtool lint the
// exposition scraped through the Guard itself.
func TestMetrics(t *testing.T) {
	p := newTestPKI(t)
	yml := p.tlsSection("client_auth_type: RequireAndVerifyClientCert", "client_ca_file: ca.crt", "client_allowed_sans: [scraper.example]") +
		"basic_auth_users:\n  prometheus: " + testHash(t, "pw") + "\n" +
		"rate_limit:\n  interval: 1h\n  burst: 5\n"
	g := newGuard(t, p.dir, yml, nil)
	// Explicit reloads only: the watcher would apply the same writes again,
	// and the test counts reloads.
	g.watchOpts = watchOptions{debounce: time.Hour, pollEvery: time.Hour}
	reg := prometheus.NewRegistry()
	reg.MustRegister(g.Collector())
	url, _ := serveHandler(t, g, promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))

	// Handshakes: no certificate, wrong CA, expired, SAN not allowed, TLS 1.1.
	other, err := p.ca.Client(pki.Request{Hosts: []string{"intruder.example"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []*http.Client{p.httpClient(nil), p.httpClient(p.wrongCA), p.httpClient(p.expired), p.httpClient(other)} {
		if _, _, err := fetch(t, c, url); err == nil {
			t.Fatal("handshake succeeded")
		}
	}
	if _, _, err := fetch(t, p.httpClient(nil, func(c *tls.Config) { c.MinVersion, c.MaxVersion = tls.VersionTLS10, tls.VersionTLS11 }), url); err == nil {
		t.Fatal("TLS 1.1 handshake succeeded")
	}
	for _, reason := range []string{handshakeNoClientCert, handshakeUnknownCA, handshakeExpired, handshakeSANNotAllowed, handshakeProtocol} {
		eventuallyCount(t, reason, func() float64 {
			v, _ := gathered(t, reg, "webguard_tls_handshake_failures_total", "reason", reason)
			return v
		}, 1)
	}

	// Auth: a first login (cached from then on), no credentials, unknown
	// user, wrong password, malformed (5 anonymous tokens spent), then the
	// anonymous bucket is empty: 429.
	c := p.httpClient(p.client)
	mustGet(t, c, url, http.StatusOK, basicAuth("prometheus", "pw"))
	mustGet(t, c, url, http.StatusUnauthorized)
	mustGet(t, c, url, http.StatusUnauthorized, basicAuth("nobody", "pw"))
	mustGet(t, c, url, http.StatusUnauthorized, basicAuth("prometheus", "wrong"))
	mustGet(t, c, url, http.StatusUnauthorized, withHeader("Authorization", "Bearer x"))
	mustGet(t, c, url, http.StatusTooManyRequests, basicAuth("prometheus", "wrong again"))
	for reason, want := range map[string]float64{authNoCredentials: 1, authUnknownUser: 1, authWrongPassword: 1, authMalformed: 1, authBusy: 0} {
		if v, _ := gathered(t, reg, "webguard_http_auth_failures_total", "reason", reason); v != want {
			t.Errorf("auth failures{reason=%s} = %v, want %v", reason, v, want)
		}
	}
	if v, _ := gathered(t, reg, "webguard_http_rate_limited_total"); v != 1 {
		t.Errorf("rate limited = %v, want 1", v)
	}

	// Reloads: one failure, then one success, by hand: the watcher, which
	// would count its own, stops.
	g.Close()
	putFile(t, p.dir, "web.yml", yml+"bogus: 1\n")
	if g.Reload() == nil {
		t.Fatal("Reload of a bad file succeeded")
	}
	if v, _ := gathered(t, reg, "webguard_config_last_reload_successful"); v != 0 {
		t.Errorf("last_reload_successful = %v", v)
	}
	putFile(t, p.dir, "web.yml", yml)
	if err := g.Reload(); err != nil {
		t.Fatal(err)
	}
	for outcome, want := range map[string]float64{reloadSuccess: 1, reloadFailure: 1, reloadHeld: 0} {
		if v, _ := gathered(t, reg, "webguard_config_reloads_total", "outcome", outcome); v != want {
			t.Errorf("reloads{outcome=%s} = %v, want %v", outcome, v, want)
		}
	}
	if v, _ := gathered(t, reg, "webguard_config_last_reload_successful"); v != 1 {
		t.Errorf("last_reload_successful = %v", v)
	}
	if v, _ := gathered(t, reg, "webguard_config_last_reload_success_timestamp_seconds"); v < 1e9 {
		t.Errorf("last_reload_success_timestamp_seconds = %v", v)
	}

	// Certificate expiry, from the snapshot being served.
	for kind, cert := range map[string]*struct {
		subject string
		expiry  float64
	}{
		"server":    {p.server.Cert.Subject.String(), float64(p.server.Cert.NotAfter.Unix())},
		"client_ca": {p.ca.Cert.Subject.String(), float64(p.ca.Cert.NotAfter.Unix())},
	} {
		v, ok := gathered(t, reg, "webguard_tls_certificate_expiry_timestamp_seconds", "kind", kind, "subject", cert.subject)
		if !ok || v != cert.expiry {
			t.Errorf("expiry{kind=%s,subject=%s} = %v (found %v), want %v", kind, cert.subject, v, ok, cert.expiry)
		}
	}

	// The exposition, scraped as Prometheus would, passes promtool's lint.
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatal("promtool is needed (CI installs it): ", err)
	}
	_, text, err := fetch(t, c, url, basicAuth("prometheus", "pw"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"webguard_config_last_reload_successful", "webguard_tls_handshake_failures_total", "# HELP webguard_http_auth_failures_total"} {
		if !strings.Contains(text, name) {
			t.Errorf("exposition lacks %s", name)
		}
	}
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(text)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Errorf("promtool check metrics: %v\n%s", err, out.String())
	}
}

// TestMetricsPlain checks that a Guard without TLS exports no expiry series
// and that the collector can be registered next to the default collectors.
func TestMetricsPlain(t *testing.T) {
	g := newGuard(t, t.TempDir(), "", nil)
	reg := prometheus.NewRegistry()
	reg.MustRegister(g.Collector(), collectors.NewGoCollector())
	if _, ok := gathered(t, reg, "webguard_tls_certificate_expiry_timestamp_seconds"); ok {
		t.Error("expiry series without TLS")
	}
	if v, _ := gathered(t, reg, "webguard_config_last_reload_successful"); v != 1 {
		t.Errorf("last_reload_successful = %v at start", v)
	}
	if err := reg.Register(g.Collector()); err == nil {
		t.Error("registering the collector twice succeeded")
	}
}
