package web

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/webguard/webguard/bcrypt"
	"github.com/webguard/webguard/config"
)

// Options configures a Guard.
type Options struct {
	// ConfigFile is the web-config file (web.yml). Empty means plain HTTP
	// without authentication, and nothing to watch or reload.
	ConfigFile string
	// Logger receives startup, reload, handshake and authentication events.
	// Nil discards them.
	Logger *slog.Logger
}

// Guard serves HTTP under a web-config file: TLS and mutual TLS, basic
// authentication, security headers and a rate limit. It compiles the file
// once per change into an immutable snapshot; handshakes and requests only
// load the current snapshot, so nothing on those paths reads a file.
//
// If a reload fails, the Guard keeps serving the last good config. TLS on or
// off and HTTP/2 on or off are fixed by the config New loads: a reload that
// changes them applies everything else and logs that the rest needs a
// restart.
//
// A Guard is safe for concurrent use. One Guard may serve several listeners
// and several servers.
type Guard struct {
	path   string
	logger *slog.Logger

	// tlsOn and http2 are fixed at New: a running listener cannot switch.
	tlsOn bool
	http2 bool

	snap     atomic.Pointer[snapshot]
	verifier verifier
	metrics  *metrics

	reloadMu sync.Mutex // one reload at a time

	// mu guards what follows, and the preparation of servers in Serve.
	mu      sync.Mutex
	serving int  // Serve calls running
	closed  bool // Close was called
	// watch is the file watcher, started by startWatching when the first
	// Serve begins and stopped by stopWatching when the last one returns or
	// Close is called. Both, and the watcher type, are in watch.go; they are
	// called with mu held.
	watch *watcher
	// watchOpts tunes the watcher; the zero value is the default. Tests
	// shorten it and turn events off.
	watchOpts watchOptions
}

// New loads and compiles the config file named in opts and returns a Guard
// serving it. It fails when the file cannot be loaded or compiled; the
// error names the file, line and field.
func New(opts Options) (*Guard, error) {
	g := &Guard{
		path:     opts.ConfigFile,
		logger:   opts.Logger,
		verifier: bcrypt.NewVerifier(bcrypt.VerifierOptions{}),
	}
	if g.logger == nil {
		g.logger = slog.New(slog.DiscardHandler)
	}
	g.metrics = newMetrics(g.snap.Load)
	cfg := &config.Config{}
	if g.path != "" {
		var err error
		if cfg, err = config.Load(g.path); err != nil {
			return nil, err
		}
	}
	s, err := compile(cfg)
	if err != nil {
		return nil, err
	}
	g.tlsOn = s.tls != nil
	g.http2 = s.http2
	g.publish(nil, s)
	g.metrics.loaded()
	return g, nil
}

// Reload re-reads the config file and the files it names, now, and swaps in
// the result if it compiles. Otherwise the current config stays in force
// and the error (with file, line and field) is logged, counted in
// webguard_config_reloads_total{outcome="failure"} and returned. An
// explicit Reload applies every valid change, including those that lower
// security, which the file watcher holds back. Reload is meant for SIGHUP
// handlers; without a config file it does nothing.
func (g *Guard) Reload() error {
	return g.reload(nil)
}

// reload is Reload with a check, for the file watcher: hold sees the running
// and the new config before the swap, and a non-empty reason it returns
// holds the change back (logged, counted as "held", the running config
// stays, an error returned).
func (g *Guard) reload(hold func(running, next *config.Config) string) error {
	if g.path == "" {
		return nil
	}
	g.reloadMu.Lock()
	defer g.reloadMu.Unlock()
	cfg, err := config.Load(g.path)
	var next *snapshot
	if err == nil {
		next, err = compile(cfg)
	}
	if err != nil {
		g.metrics.reloaded(reloadFailure)
		g.logger.Error("web config reload failed; serving the previous config", "file", g.path, "err", err)
		return err
	}
	prev := g.snap.Load()
	if hold != nil {
		if reason := hold(prev.cfg, cfg); reason != "" {
			g.metrics.reloaded(reloadHeld)
			g.logger.Warn("web config change held back because it lowers security; reload explicitly or restart to apply it",
				"file", g.path, "reason", reason)
			return fmt.Errorf("web: change to %s held back: %s", g.path, reason)
		}
	}
	g.publish(prev, next)
	g.metrics.reloaded(reloadSuccess)
	g.logger.Info("web config reloaded", "file", g.path)
	return nil
}

// publish makes next the served snapshot, after fitting it to what cannot
// change while serving. prev is nil for the first snapshot.
func (g *Guard) publish(prev, next *snapshot) {
	if prev != nil {
		next = g.fit(prev, next)
	}
	// Hazards the config allows (basic auth without TLS, unverified client
	// certificates, certificates near expiry...), once per change.
	for _, w := range next.cfg.Warnings(time.Now()) {
		g.logger.Warn(w.Msg, "file", w.File, "line", w.Line, "field", w.Field)
	}
	g.snap.Store(next)
}

// fit returns next adjusted to the running server: TLS stays on or off and
// HTTP/2 stays as it was at New, each refusal logged; the rate limiter
// carries over when its settings did not change.
func (g *Guard) fit(prev, next *snapshot) *snapshot {
	switch {
	case g.tlsOn && next.tls == nil:
		g.logger.Error("web config turns TLS off, which needs a restart; TLS stays on with the previous certificate and TLS settings, the rest of the change applies", "file", g.path)
		c := *next
		c.tls, c.tlsSection, c.material, c.http2 = prev.tls, prev.tlsSection, prev.material, prev.http2
		next = &c
	case !g.tlsOn && next.tls != nil:
		g.logger.Error("web config turns TLS on, which needs a restart; still serving plain HTTP, the rest of the change applies", "file", g.path)
		c := *next
		c.tls, c.tlsSection, c.material, c.http2 = nil, nil, nil, g.http2
		next = &c
	}
	if g.tlsOn && next.http2 != g.http2 {
		g.logger.Error("web config changes http_server_config.http2, which needs a restart; keeping the running setting, the rest of the change applies",
			"file", g.path, "http2", g.http2)
		next = next.withHTTP2(g.http2)
	}
	if prev.limiter != nil && next.limiter != nil && prev.limiter.settings == next.limiter.settings {
		next.limiter = prev.limiter
	}
	return next
}

// Collector returns the Guard's metrics, all named webguard_*: reload
// outcome and time, certificate expiry, TLS handshake failures and HTTP
// auth failures by reason, rate-limited requests. Register it with a
// prometheus.Registerer; the Guard does not register anything itself.
func (g *Guard) Collector() prometheus.Collector {
	return g.metrics
}

// Handler wraps next (http.DefaultServeMux when nil) with the Guard's
// request checks, each against the config current at that request: the
// configured security headers are set on every response (401, 429 and 400
// included), then basic authentication and the rate limit apply.
//
// Basic auth answers 401 with a Basic WWW-Authenticate challenge for missing,
// malformed or wrong credentials, 400 for a request with more than one
// Authorization header, and 429 with Retry-After, after a 100 ms pause, when
// too many password checks are in progress. The rate limit answers 429 with
// Retry-After; it keeps one token bucket for authenticated clients
// (verified client certificate, or accepted basic auth) and one for all
// other requests, so a flood of unauthenticated requests does not use up the
// budget of a legitimate scraper.
func (g *Guard) Handler(next http.Handler) http.Handler {
	if next == nil {
		next = http.DefaultServeMux
	}
	return &guardHandler{g: g, next: next}
}

// TLSConfig returns a new tls.Config for serving the Guard's TLS, or nil when
// the config has TLS off. Its only setting is GetConfigForClient, which
// returns the TLS settings of the config current at each handshake, so
// reloads apply to new connections at once. Serve installs it; it is for
// programs that run their own TLS listener.
func (g *Guard) TLSConfig() *tls.Config {
	if !g.tlsOn {
		return nil
	}
	return &tls.Config{GetConfigForClient: g.configForClient}
}

func (g *Guard) configForClient(*tls.ClientHelloInfo) (*tls.Config, error) {
	return g.snap.Load().tls, nil
}

// Close stops the file watcher. Servers keep serving under the last config
// until they are shut down; stop them with http.Server.Shutdown. Close is
// idempotent and always returns nil.
func (g *Guard) Close() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return nil
	}
	g.closed = true
	g.stopWatching()
	return nil
}
