package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/pprof"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/promslog"

	"github.com/webguard/webguard/config"
	"github.com/webguard/webguard/web"
)

const proxyAbout = `
Proxy serves upstream HTTP endpoints, typically exporters that cannot embed
webguard, under a web-config file: TLS or mutual TLS, basic auth, security
headers and the rate limit, as an exporter built with webguard would. Bind
each upstream to 127.0.0.1 or a unix socket so that it is reachable only
through the proxy.

The web-config file must turn on TLS or basic auth: the proxy refuses to
start on one that does neither (an empty file, say), or to reload into one,
unless --insecure-no-protection is given, and then warns on every start.

Requests that pass are forwarded with the path and query unchanged, without
the client's Authorization header and the hop-by-hop headers, and with
X-Forwarded-For, X-Forwarded-Host, X-Forwarded-Proto and X-Real-Ip set by
the proxy (the client's own are dropped). Upgrade requests (WebSocket, h2c)
are forwarded without their Upgrade header unless --upstream.allow-upgrade
is given. The upstream's status, headers and body come back as they are. An
upstream that cannot be reached is answered with 502 Bad Gateway and the
reason logged.

--upstream is http://HOST:PORT, https://HOST:PORT or unix:///PATH, without a
path. Give it several times as NAME=URL to serve several exporters on one
port: each at /NAME/ (/node/metrics is node's /metrics) and a page listing
them at /. With one upstream, every path goes to it, and also /NAME/ when it
is named. https upstreams are verified with --upstream.ca-file (or the
system roots) and get --upstream.cert-file as client certificate.

The web-config file and the files it names are reloaded when they change,
and so are the --upstream.* files; SIGHUP reloads them all at once,
including changes that lower security, which a reload on change holds back.
SIGINT and SIGTERM stop the proxy gracefully.

Examples:
  webguard proxy --web.listen-address=:9100 --web.config.file=web.yml \
    --upstream=http://127.0.0.1:9101
  webguard proxy --web.listen-address=:9443 --web.config.file=web.yml \
    --upstream node=http://127.0.0.1:9100 \
    --upstream mysqld=unix:///run/mysqld-exporter.sock
`

// shutdownGrace is how long requests in flight get to finish on SIGTERM.
const shutdownGrace = 10 * time.Second

func (c *cli) proxy(args []string) int {
	cmd, o := newProxyCommand()
	args, deprecated := renameMetricsPath(args)
	rest, code, ok := c.parse(cmd, args)
	if !ok {
		return code
	}
	if len(rest) > 0 {
		return c.usageError(cmd, "unexpected argument %q", rest[0])
	}
	ups, msg := o.check()
	if msg != "" {
		return c.usageError(cmd, "%s", msg)
	}
	logger := promslog.New(&promslog.Config{Level: o.logLevel, Format: o.logFormat, Writer: c.stderr})
	if deprecated {
		logger.Warn("--metrics-path is deprecated; use --web.telemetry-path")
	}
	if path := os.Getenv("WEBGUARD_PROXY_CPUPROFILE"); path != "" {
		// For scripts/bench-proxy.sh: a CPU profile of the whole run.
		stop, err := startCPUProfile(path)
		if err != nil {
			return c.fail(cmd, "WEBGUARD_PROXY_CPUPROFILE: %v", err)
		}
		defer stop()
	}
	// Catch signals from here on: SIGHUP's default action would kill the
	// proxy while it loads its config.
	sigs := notifySignals()
	defer sigs.stop()

	// Unless told otherwise, no config the proxy serves, the first or a
	// reload, may leave it forwarding plain HTTP to anyone.
	opts := web.Options{ConfigFile: *o.web.WebConfigFile, Logger: logger}
	if !o.insecure {
		opts.Require = requireProtection
	}
	g, err := web.New(opts)
	if errors.Is(err, errUnprotected) {
		return c.fail(cmd, "%s %v", configName(*o.web.WebConfigFile), err)
	}
	if err != nil {
		for _, e := range leaves(err) {
			fmt.Fprintln(c.stderr, e)
		}
		return exitProblem
	}
	defer g.Close()
	if o.insecure && !isProtected(*o.web.WebConfigFile) {
		logger.Warn("serving without TLS or basic auth: anyone who can reach the proxy gets the upstream (--insecure-no-protection)", "file", *o.web.WebConfigFile)
	}

	utls, err := o.upstreamTLS(ups, logger)
	if err != nil {
		return c.fail(cmd, "%v", err)
	}
	bufs := newBufPool()
	fws := make([]*forwarder, len(ups))
	for i, up := range ups {
		fws[i] = &forwarder{up: up, allowUpgrade: o.allowUpgrade, logger: logger, bufs: bufs}
	}
	var telemetry http.Handler
	if o.telemetryPath != "" {
		reg := prometheus.NewRegistry()
		reg.MustRegister(g.Collector())
		telemetry = promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	}
	rt, err := newRoutes(fws, o.telemetryPath, telemetry)
	if err != nil {
		return c.fail(cmd, "%v", err)
	}
	defer rt.closeIdle()
	rt.logUpstreams(logger)

	// The upstream TLS watcher lives as long as the proxy serves.
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	reload := g.Reload
	if utls != nil {
		wg.Go(func() { utls.watch(ctx) })
		reload = func() error {
			_ = utls.reload(true) // logged; the previous files stay in use
			return g.Reload()
		}
	}
	ls, err := web.OpenListeners(o.web, "")
	if err != nil {
		logger.Error("cannot serve", "err", err)
		return exitProblem
	}
	// Each client connection can hold a response's writes back and send
	// them at once (see coalescingConn).
	for i, l := range ls {
		ls[i] = coalescingListener{l}
	}
	server := &http.Server{Handler: rt, ConnContext: coalescingContext}
	return serveUntilSignal(g, server, ls, sigs, reload, logger)
}

// upstreamTLS compiles the --upstream.* files for the https upstreams and
// attaches the result to them; nil when there is no https upstream.
func (o *proxyOptions) upstreamTLS(ups []*upstream, logger *slog.Logger) (*upstreamTLS, error) {
	var names []string
	for _, up := range ups {
		if up.isTLS() {
			names = append(names, up.serverName())
		}
	}
	if len(names) == 0 {
		return nil, nil
	}
	t, err := newUpstreamTLS(o.caFile, o.certFile, o.keyFile, o.tlsName, names, logger)
	if err != nil {
		return nil, fmt.Errorf("upstream TLS: %w", err)
	}
	for _, up := range ups {
		if up.isTLS() {
			up.tls = t
		}
	}
	return t, nil
}

// errUnprotected refuses a config that turns on neither TLS nor basic
// auth; its text follows the config's name.
var errUnprotected = errors.New("turns on neither TLS (tls_server_config) nor basic auth (basic_auth_users): the proxy would forward plain HTTP to anyone who can reach it; configure one, or pass --insecure-no-protection")

// requireProtection is the proxy's web.Options.Require: a config must turn
// on TLS or basic auth.
func requireProtection(cfg *config.Config) error {
	if cfg.TLS.IsEnabled() || len(cfg.Users) > 0 {
		return nil
	}
	return errUnprotected
}

// isProtected reports whether the config file (none: an empty config)
// turns on TLS or basic auth.
func isProtected(file string) bool {
	cfg := &config.Config{}
	if file != "" {
		var err error
		if cfg, err = config.Load(file); err != nil {
			return false
		}
	}
	return requireProtection(cfg) == nil
}

func configName(file string) string {
	if file == "" {
		return "no --web.config.file"
	}
	return file
}

// signals are the channels the proxy's signals arrive on.
type signals struct {
	term chan os.Signal // SIGINT, SIGTERM
	hup  chan os.Signal
}

func notifySignals() signals {
	s := signals{term: make(chan os.Signal, 1), hup: make(chan os.Signal, 1)}
	signal.Notify(s.term, os.Interrupt, syscall.SIGTERM)
	signal.Notify(s.hup, syscall.SIGHUP)
	return s
}

func (s signals) stop() {
	signal.Stop(s.term)
	signal.Stop(s.hup)
}

// serveUntilSignal serves until SIGINT or SIGTERM (then shuts down
// gracefully) or until serving fails; SIGHUP reloads the config.
func serveUntilSignal(g *web.Guard, server *http.Server, ls []net.Listener, sigs signals, reload func() error, logger *slog.Logger) int {
	done := make(chan error, 1)
	go func() { done <- g.ServeMultiple(ls, server) }()
	for {
		select {
		case <-sigs.hup:
			logger.Info("SIGHUP: reloading the web config")
			_ = reload() // logs the outcome and keeps the last good config
		case sig := <-sigs.term:
			logger.Info("shutting down", "reason", sig.String())
			ctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
			err := server.Shutdown(ctx)
			cancel()
			<-done
			if err != nil {
				logger.Error("requests still in flight at shutdown were cut off", "err", err)
			}
			return exitOK
		case err := <-done:
			if errors.Is(err, http.ErrServerClosed) {
				return exitOK
			}
			logger.Error("cannot serve", "err", err)
			return exitProblem
		}
	}
}

// startCPUProfile writes a CPU profile to path until the returned function
// is called.
func startCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}
