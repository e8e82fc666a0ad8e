package web

import (
	"crypto/x509"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Reasons a TLS handshake fails, the values of the reason label of
// webguard_tls_handshake_failures_total.
const (
	handshakeNoClientCert  = "no_client_cert"
	handshakeUnknownCA     = "unknown_ca"
	handshakeSANNotAllowed = "san_not_allowed"
	handshakeExpired       = "expired"
	handshakeRevoked       = "revoked"
	handshakeProtocol      = "protocol"
	handshakeOther         = "other"
)

// Reasons a request fails basic authentication, the values of the reason
// label of webguard_http_auth_failures_total.
const (
	authNoCredentials = "no_credentials"
	authUnknownUser   = "unknown_user"
	authWrongPassword = "wrong_password"
	authMalformed     = "malformed"
	authBusy          = "busy"
	// authTooManyFailures: the client failed too often lately (see
	// bcrypt.VerifierOptions.MaxFailures); answered 429, nothing checked.
	authTooManyFailures = "too_many_failures"
)

// Outcomes of a reload, the values of the outcome label of
// webguard_config_reloads_total.
const (
	reloadSuccess = "success"
	reloadFailure = "failure"
	reloadHeld    = "held"
)

// metrics is the Guard's prometheus.Collector. Counters live here; the
// certificate expiry gauges are read from the current snapshot at collection
// time, so they always describe what is being served.
type metrics struct {
	current func() *snapshot

	reloadOK   prometheus.Gauge
	reloadTime prometheus.Gauge
	reloads    *prometheus.CounterVec
	handshakes *prometheus.CounterVec
	auth       *prometheus.CounterVec
	limited    prometheus.Counter
	expiry     *prometheus.Desc
	crlNext    *prometheus.Desc
	buildInfo  prometheus.Metric // webguard_build_info, see buildinfo.go
}

func newMetrics(current func() *snapshot) *metrics {
	m := &metrics{
		current: current,
		reloadOK: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "webguard_config_last_reload_successful",
			Help: "Whether the last web config load or reload succeeded (1) or failed and the previous config is still served (0).",
		}),
		reloadTime: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "webguard_config_last_reload_success_timestamp_seconds",
			Help: "Unix time of the last successful web config load or reload.",
		}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "webguard_config_reloads_total",
			Help: "Web config reloads by outcome: success, failure (the previous config is kept) or held (a change that lowers security, held back until an explicit reload).",
		}, []string{"outcome"}),
		handshakes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "webguard_tls_handshake_failures_total",
			Help: "TLS handshakes that failed, by reason: no_client_cert, unknown_ca, san_not_allowed, expired, revoked (listed in client_crl_file), protocol (version, cipher, not TLS) or other (the peer hung up, timeouts).",
		}, []string{"reason"}),
		auth: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "webguard_http_auth_failures_total",
			Help: "HTTP requests refused by basic authentication, by reason: no_credentials, unknown_user, wrong_password, malformed, busy (too many password checks in progress, answered 429) or too_many_failures (the client failed too often lately, answered 429).",
		}, []string{"reason"}),
		limited: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "webguard_http_rate_limited_total",
			Help: "HTTP requests refused with 429 by the rate limit.",
		}),
		expiry: prometheus.NewDesc("webguard_tls_certificate_expiry_timestamp_seconds",
			"Unix time at which a certificate in use expires: the serving certificate (kind=server) and each client CA (kind=client_ca), by subject.",
			[]string{"kind", "subject"}, nil),
		crlNext: prometheus.NewDesc("webguard_client_crl_next_update_timestamp_seconds",
			"Unix time by which each client revocation list in use (client_crl_file) should have been replaced, by issuer; a list past it is still used.",
			[]string{"issuer"}, nil),
		buildInfo: newBuildInfo(),
	}
	// Every label value exists from the start, so that rate() and alerts see
	// the first failure.
	for _, o := range []string{reloadSuccess, reloadFailure, reloadHeld} {
		m.reloads.WithLabelValues(o)
	}
	for _, r := range []string{handshakeNoClientCert, handshakeUnknownCA, handshakeSANNotAllowed, handshakeExpired, handshakeRevoked, handshakeProtocol, handshakeOther} {
		m.handshakes.WithLabelValues(r)
	}
	for _, r := range []string{authNoCredentials, authUnknownUser, authWrongPassword, authMalformed, authBusy} {
		m.auth.WithLabelValues(r)
	}
	return m
}

// Describe implements prometheus.Collector.
func (m *metrics) Describe(ch chan<- *prometheus.Desc) {
	m.reloadOK.Describe(ch)
	m.reloadTime.Describe(ch)
	m.reloads.Describe(ch)
	m.handshakes.Describe(ch)
	m.auth.Describe(ch)
	m.limited.Describe(ch)
	ch <- m.expiry
	ch <- m.crlNext
	ch <- m.buildInfo.Desc()
}

// Collect implements prometheus.Collector.
func (m *metrics) Collect(ch chan<- prometheus.Metric) {
	m.reloadOK.Collect(ch)
	m.reloadTime.Collect(ch)
	m.reloads.Collect(ch)
	m.handshakes.Collect(ch)
	m.auth.Collect(ch)
	m.limited.Collect(ch)
	ch <- m.buildInfo
	s := m.current()
	if s == nil || s.tls == nil {
		return
	}
	// Two CAs may share a subject (an old and a new one during rotation); a
	// series must be unique, so each subject reports its earliest expiry.
	type key struct{ kind, subject string }
	earliest := map[key]time.Time{}
	add := func(kind string, c *x509.Certificate) {
		k := key{kind, c.Subject.String()}
		if t, ok := earliest[k]; !ok || c.NotAfter.Before(t) {
			earliest[k] = c.NotAfter
		}
	}
	if leaf := s.tls.material.Certificate.Leaf; leaf != nil {
		add("server", leaf)
	}
	for _, c := range s.tls.material.ClientCACerts {
		add("client_ca", c)
	}
	for k, t := range earliest {
		ch <- prometheus.MustNewConstMetric(m.expiry, prometheus.GaugeValue, float64(t.Unix()), k.kind, k.subject)
	}
	// Several lists of one issuer (a file holding an old and a new one):
	// the latest next update is the one that counts.
	latest := map[string]time.Time{}
	for _, crl := range s.tls.material.ClientCRLs {
		if crl.NextUpdate.IsZero() {
			continue
		}
		k := crl.Issuer.String()
		if t, ok := latest[k]; !ok || crl.NextUpdate.After(t) {
			latest[k] = crl.NextUpdate
		}
	}
	for issuer, t := range latest {
		ch <- prometheus.MustNewConstMetric(m.crlNext, prometheus.GaugeValue, float64(t.Unix()), issuer)
	}
}

func (m *metrics) reloaded(outcome string) {
	m.reloads.WithLabelValues(outcome).Inc()
	switch outcome {
	case reloadSuccess:
		m.loaded()
	case reloadFailure:
		m.reloadOK.Set(0)
	}
}

// loaded records a config now served (the first one, or a reload).
func (m *metrics) loaded() {
	m.reloadOK.Set(1)
	m.reloadTime.Set(float64(time.Now().UnixNano()) / 1e9)
}
