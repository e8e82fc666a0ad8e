package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/webguard/webguard/web"
)

const proxyAbout = `
Proxy serves an upstream HTTP endpoint, typically an exporter that cannot
embed webguard, under a web-config file: TLS or mutual TLS, basic auth,
security headers and the rate limit, as an exporter built with webguard
would. Bind the upstream to 127.0.0.1 so that it is reachable only through
the proxy.

Requests that pass are forwarded to --upstream with the path and query
unchanged, without the client's Authorization header, and with
X-Forwarded-For, X-Forwarded-Host and X-Forwarded-Proto set. The upstream's
status, headers and body come back as they are. An upstream that cannot be
reached is answered with 502 Bad Gateway and the reason logged.

The web-config file and the files it names are reloaded when they change;
SIGHUP reloads them at once, including changes that lower security, which a
reload on change holds back. SIGINT and SIGTERM stop the proxy gracefully.

Example:
  webguard proxy --web.listen-address=:9100 --web.config.file=web.yml \
    --upstream=http://127.0.0.1:9101
`

// shutdownGrace is how long requests in flight get to finish on SIGTERM.
const shutdownGrace = 10 * time.Second

func (c *cli) proxy(args []string) int {
	cmd := newCommand("proxy", "--web.config.file FILE --upstream URL [--web.listen-address ADDR]... [FLAGS]", proxyAbout)
	flags := web.AddFlags(cmd.flags, ":9100")
	upstream := cmd.flags.String("upstream", "", "`URL` of the endpoint to forward to, e.g. http://127.0.0.1:9101 (required)")
	metricsPath := cmd.flags.String("metrics-path", "", "serve webguard's own metrics (reloads, certificate expiry, failed logins) at this `PATH`, behind the same authentication, instead of forwarding it; empty: off")
	logLevel := cmd.flags.String("log.level", "info", "log `LEVEL`: debug, info, warn or error")
	logFormat := cmd.flags.String("log.format", "logfmt", "log `FORMAT`: logfmt or json")
	rest, code, ok := c.parse(cmd, args)
	if !ok {
		return code
	}
	if len(rest) > 0 {
		return c.usageError(cmd, "unexpected argument %q", rest[0])
	}
	if *flags.WebConfigFile == "" {
		return c.usageError(cmd, "--web.config.file is required: without one the proxy adds no protection")
	}
	target, err := parseUpstream(*upstream)
	if err != nil {
		return c.usageError(cmd, "--upstream: %v", err)
	}
	if *metricsPath != "" && !strings.HasPrefix(*metricsPath, "/") {
		return c.usageError(cmd, "--metrics-path must start with /, got %q", *metricsPath)
	}
	logger, err := newLogger(c.stderr, *logLevel, *logFormat)
	if err != nil {
		return c.usageError(cmd, "%v", err)
	}
	// Catch signals from here on: SIGHUP's default action would kill the
	// proxy while it loads its config.
	sigs := notifySignals()
	defer sigs.stop()

	g, err := web.New(web.Options{ConfigFile: *flags.WebConfigFile, Logger: logger})
	if err != nil {
		for _, e := range leaves(err) {
			fmt.Fprintln(c.stderr, e)
		}
		return exitProblem
	}
	defer g.Close()

	handler := http.Handler(newReverseProxy(target, logger))
	if *metricsPath != "" {
		reg := prometheus.NewRegistry()
		reg.MustRegister(g.Collector())
		mux := http.NewServeMux()
		mux.Handle(*metricsPath, promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
		mux.Handle("/", handler)
		handler = mux
	}
	server := &http.Server{Handler: handler}
	logger.Info("proxying", "upstream", target.String())
	return serveUntilSignal(g, server, flags, sigs, logger)
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
func serveUntilSignal(g *web.Guard, server *http.Server, flags *web.FlagConfig, sigs signals, logger *slog.Logger) int {
	done := make(chan error, 1)
	go func() { done <- g.ListenAndServe(server, flags) }()
	for {
		select {
		case <-sigs.hup:
			logger.Info("SIGHUP: reloading the web config")
			_ = g.Reload() // the Guard logs the outcome and keeps the last good config
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

// parseUpstream accepts an absolute http or https URL.
func parseUpstream(s string) (*url.URL, error) {
	if s == "" {
		return nil, errors.New("required, e.g. http://127.0.0.1:9101")
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("want an http:// or https:// URL with a host, got %q", s)
	}
	if u.User != nil {
		return nil, errors.New("credentials in the URL are not supported")
	}
	return u, nil
}

// newReverseProxy forwards to target. The client's credentials are for the
// proxy, not the upstream: the Authorization header is removed
// (Proxy-Authorization, being hop-by-hop, never passes).
func newReverseProxy(target *url.URL, logger *slog.Logger) *httputil.ReverseProxy {
	// One upstream, many concurrent scrapes: http.DefaultTransport keeps
	// only 2 idle connections per host and would re-dial the rest.
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConnsPerHost = 64
	return &httputil.ReverseProxy{
		Transport: transport,
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(target)
			r.SetXForwarded()
			r.Out.Header.Del("Authorization")
		},
		ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
				// The client went away; nobody is left to answer.
				logger.Debug("client gone before the upstream answered", "remote", r.RemoteAddr, "err", err)
				return
			}
			logger.Warn("upstream unreachable", "remote", r.RemoteAddr, "err", err)
			http.Error(w, "502 bad gateway: the upstream did not answer", http.StatusBadGateway)
		},
	}
}

// newLogger makes the slog logger for --log.level and --log.format.
func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var l slog.Level
	switch level {
	case "debug":
		l = slog.LevelDebug
	case "info":
		l = slog.LevelInfo
	case "warn":
		l = slog.LevelWarn
	case "error":
		l = slog.LevelError
	default:
		return nil, fmt.Errorf("--log.level: unknown level %q (want debug, info, warn or error)", level)
	}
	opts := &slog.HandlerOptions{Level: l}
	switch format {
	case "logfmt":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log.format: unknown format %q (want logfmt or json)", format)
}
