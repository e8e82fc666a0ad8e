package web

import (
	"crypto/tls"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/webguard/webguard/bcrypt"
	"github.com/webguard/webguard/config"
)

// snapshot is everything the handshake and request paths need, built once per
// config change by compile and never modified after the Guard publishes it.
// Every field describes what is served: the reload pipeline (reload.go)
// publishes whole snapshots, so warnings and the downgrade rule read the
// same values the handshake and the requests use.
type snapshot struct {
	cfg *config.Config
	// tls is nil when TLS is off.
	tls *servedTLS
	// users is nil when no password is asked for.
	users *bcrypt.Users
	// headers are set on every response, names canonical.
	headers []header
	// limiter is nil when requests are not rate limited.
	limiter *limiter
	// open is http_server_config.unauthenticated_paths (see paths.go).
	open openPaths
}

// servedTLS is the TLS a snapshot serves, as one value: the tls.Config the
// Guard's listener hands to each new connection, the section it was built
// from and the certificate and client CAs it holds.
type servedTLS struct {
	config   *tls.Config
	section  *config.TLSConfig
	material *config.TLSMaterial
	// http2 says whether config offers h2 by ALPN.
	http2 bool
	// clientCANames lists the client CAs' subjects, "[A; B]", for the
	// refusal lines of clients they did not verify; "" without a client CA.
	clientCANames string
}

// header is one configured response header. value is shared by every
// response and has no spare capacity, so that a handler's Header().Add
// copies it rather than writing into it.
type header struct {
	name  string
	value []string
}

// compile builds a snapshot from a loaded config: the tls.Config, the user
// table, the header set and the rate limiter. It reads no file: the
// certificate, key and client CAs come from cfg.TLSMaterial, read at load
// time.
func compile(cfg *config.Config) (*snapshot, error) {
	s := &snapshot{cfg: cfg, open: newOpenPaths(cfg.HTTP.UnauthenticatedPaths)}
	if len(cfg.Users) > 0 {
		hashes := make(map[string]string, len(cfg.Users))
		for user, hash := range cfg.Users {
			hashes[user] = string(hash)
		}
		users, err := bcrypt.NewUsers(hashes)
		if err != nil {
			return nil, fmt.Errorf("web: basic_auth_users: %w", err)
		}
		s.users = users
	}
	for name, value := range cfg.HTTP.Headers {
		s.headers = append(s.headers, header{name: http.CanonicalHeaderKey(name), value: []string{value}})
	}
	slices.SortFunc(s.headers, func(a, b header) int { return strings.Compare(a.name, b.name) })
	if cfg.RateLimit.Enabled() {
		s.limiter = newLimiter(cfg.RateLimit)
	}
	if cfg.TLS.IsEnabled() {
		t, err := compileTLS(&cfg.TLS, cfg.TLSMaterial(), cfg.HTTP.HTTP2Enabled())
		if err != nil {
			return nil, err
		}
		s.tls = t
	}
	return s, nil
}

func compileTLS(t *config.TLSConfig, m *config.TLSMaterial, http2 bool) (*servedTLS, error) {
	if m == nil || len(m.Certificate.Certificate) == 0 {
		return nil, fmt.Errorf("web: tls_server_config: no server certificate was loaded")
	}
	tc := &tls.Config{
		Certificates: []tls.Certificate{m.Certificate},
		ClientAuth:   t.ClientAuthType.TLS(),
		// Nil (no client CA) verifies against the system roots, as
		// config.TLSConfig documents; config.Warnings says so.
		ClientCAs:  m.ClientCAs,
		MinVersion: uint16(t.MinVersion),
		MaxVersion: uint16(t.MaxVersion),
		NextProtos: nextProtos(http2),
	}
	for _, c := range t.CipherSuites {
		tc.CipherSuites = append(tc.CipherSuites, uint16(c))
	}
	for _, c := range t.CurvePreferences {
		tc.CurvePreferences = append(tc.CurvePreferences, tls.CurveID(c))
	}
	tc.VerifyConnection = newClientVerifier(t, m)
	return &servedTLS{config: tc, section: t, material: m, http2: http2, clientCANames: clientCANames(m)}, nil
}

// nextProtos is what the server offers by ALPN.
func nextProtos(http2 bool) []string {
	if http2 {
		return []string{"h2", "http/1.1"}
	}
	return []string{"http/1.1"}
}
