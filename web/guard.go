package web

import (
	"crypto/tls"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/webguard/webguard/bcrypt"
	"github.com/webguard/webguard/config"
)

// Options configures a Guard.
type Options struct {
	// ConfigFile is the web-config file (web.yml). Empty means the config is
	// Config, or, when that is nil too, plain HTTP without authentication.
	ConfigFile string
	// Config is a web config held in memory, for a service that keeps its
	// web settings inside its own config file (see config.ParseSection): the
	// certificate, key and client CA files it names are read again and
	// watched as for a ConfigFile, and Guard.Update hands over a changed
	// one. It cannot be set together with ConfigFile.
	Config *config.Config
	// Logger receives startup, reload, handshake and authentication events.
	// Nil discards them.
	Logger *slog.Logger
	// Verifier tunes the checking of basic auth passwords: how many bcrypt
	// comparisons run at once, the caches, and how many failed logins a
	// client address may have per window before its password checks are
	// refused with 429 (10 a minute by default). The zero value gives the
	// defaults documented on bcrypt.VerifierOptions.
	Verifier bcrypt.VerifierOptions
	// Require, when set, vets every config before it is served, the first
	// one included: an error refuses the config as one that does not
	// compile would be refused. New fails with it; a reload, explicit or
	// not, logs it and keeps serving the last good config. webguard proxy
	// uses it to never forward without TLS or basic auth.
	Require func(*config.Config) error
}

// Guard serves HTTP under a web config: TLS and mutual TLS, basic
// authentication, security headers and a rate limit. It compiles the config
// once per change into an immutable snapshot; handshakes and requests only
// load the current snapshot, so nothing on those paths reads a file.
//
// The config comes from a file (Options.ConfigFile) or from memory
// (Options.Config, then Update). reload.go has the rules a change follows:
// if it does not load, the Guard keeps serving the last good config; a
// change the file watcher (or Update) brings that lowers security is held
// until an explicit Reload. TLS is decided per accepted connection, so TLS
// switched on by a reload applies to the next connection, and so does
// HTTP/2 switched on or off.
//
// A Guard is safe for concurrent use. One Guard may serve several listeners
// and several servers.
type Guard struct {
	path    string
	require func(*config.Config) error // Options.Require, or nil
	logger  *slog.Logger

	snap     atomic.Pointer[snapshot]
	verifier verifier
	metrics  *metrics
	refusals *refusalLog

	// reloadMu makes reloads one at a time; reload holds what the reload
	// pipeline keeps between reloads (reload.go). Nothing else takes
	// reloadMu: shutting down never waits behind a reload.
	reloadMu sync.Mutex
	reload   reloadState
	// inMemory says the config is held in memory (Options.Config or
	// Update): there is something to reload without a file. Read without
	// reloadMu, so that starting to watch never waits behind a reload.
	inMemory atomic.Bool
	// watched is the list of files the watcher looks at, set by the reload
	// pipeline and read by the watcher without a lock; refresh tells the
	// watcher it changed.
	watched atomic.Pointer[[]string]
	refresh chan struct{}

	// accepted maps a *tls.Conn the Guard's listener accepted to the
	// servedTLS it is handshaken under, until its ConnContext takes it
	// (recheck.go).
	accepted sync.Map

	// mu guards what follows, and the preparation of servers in Serve.
	mu      sync.Mutex
	serving int  // Serve calls running
	closed  bool // Close was called
	// servers are the servers being served, with what begin found out
	// about them (accept.go).
	servers map[*http.Server]*servedServer
	// watch is the file watcher with the goroutine that reloads on its
	// reports, started by startWatching when the first Serve begins and
	// stopped by stopWatching when the last one returns or Close is
	// called; both are in reload.go and called with mu held.
	watch *watching
	// watchOpts tunes the watcher; the zero value is the default. Tests
	// shorten it and turn events off.
	watchOpts watchOptions
}

// New loads and compiles the config named in opts and returns a Guard
// serving it. It fails when the config cannot be loaded or compiled; the
// error names the file, line and field.
func New(opts Options) (*Guard, error) {
	if opts.ConfigFile != "" && opts.Config != nil {
		return nil, errors.New("web: Options.ConfigFile and Options.Config are both set; use one")
	}
	g := &Guard{
		path:     opts.ConfigFile,
		require:  opts.Require,
		logger:   opts.Logger,
		verifier: bcrypt.NewVerifier(opts.Verifier),
		refresh:  make(chan struct{}, 1),
	}
	if g.logger == nil {
		g.logger = slog.New(slog.DiscardHandler)
	}
	g.metrics = newMetrics(g.snap.Load)
	g.refusals = newRefusalLog(g.logger)
	g.reload.source = opts.Config
	g.inMemory.Store(opts.Config != nil)
	s, err := g.compileSource()
	if err != nil {
		return nil, err
	}
	g.publish(s)
	g.metrics.loaded()
	return g, nil
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
// included), then the rate limit and basic authentication apply.
//
// The rate limit takes one token per request, before authentication, as
// exporter-toolkit does, from one of two buckets of the configured size. A
// request that passed the configured authentication before any password
// check takes its token from the authenticated bucket: with
// basic_auth_users, one whose credentials were accepted before (a cached
// success, answered without bcrypt); without users, one with a verified
// client certificate. Every other request, including a correct password not
// yet in the cache, takes it from the anonymous bucket. So a password guess
// costs a token before it costs any bcrypt work, and a flood never spends a
// known scraper's budget. An empty bucket answers 429 with Retry-After.
//
// Basic auth answers 401 with a Basic WWW-Authenticate challenge for missing,
// malformed or wrong credentials and 400 for a request with more than one
// Authorization header. Failed logins are counted per client address (IPv6:
// per /64); an address with too many (Options.Verifier.MaxFailures, 10 a
// minute by default) gets 429 with Retry-After for the rest of its window,
// without a token taken or any bcrypt work, except for a password already in
// the cache. Password checks are admitted round-robin across addresses; when
// too many are queued a request gets 429 with Retry-After. Both 429s come
// after a 100 ms pause. Every refusal (400, 401, 429) closes an HTTP/1.x
// connection.
func (g *Guard) Handler(next http.Handler) http.Handler {
	if next == nil {
		next = http.DefaultServeMux
	}
	return &guardHandler{g: g, next: next}
}

// TLSConfig returns a new tls.Config for serving the Guard's TLS, or nil when
// the config current at the call has TLS off. Its only setting is
// GetConfigForClient, which returns the TLS settings of the config current at
// each handshake, so reloads apply to new connections at once; a handshake
// after a reload that turned TLS off fails. It is for programs that run
// their own TLS listener (a protocol other than HTTP, say): Serve decides TLS
// per connection itself and does not need it.
func (g *Guard) TLSConfig() *tls.Config {
	if g.snap.Load().tls == nil {
		return nil
	}
	return &tls.Config{GetConfigForClient: g.configForClient}
}

// errTLSOff is what a handshake through TLSConfig gets once TLS is off.
var errTLSOff = errors.New("web: TLS is off in the current web config")

func (g *Guard) configForClient(*tls.ClientHelloInfo) (*tls.Config, error) {
	t := g.snap.Load().tls
	if t == nil {
		return nil, errTLSOff
	}
	return t.config, nil
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
