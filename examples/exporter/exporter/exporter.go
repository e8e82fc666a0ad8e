package exporter

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/webguard/webguard/web"
)

// Options configures an Exporter.
type Options struct {
	// WebConfigFile is the web.yml to secure the endpoint with; "" serves
	// plain HTTP without authentication.
	WebConfigFile string
	// Logger receives the guard's log lines; nil discards them.
	Logger *slog.Logger
	// Version is shown on the landing page; "" shows nothing.
	Version string
}

// Exporter serves /metrics and a landing page through a web.Guard.
type Exporter struct {
	guard    *web.Guard
	server   *http.Server
	registry *prometheus.Registry
}

// New builds the exporter. It fails if the web config is invalid, so a typo
// in web.yml stops the program at start rather than serving unprotected.
func New(opts Options) (*Exporter, error) {
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	guard, err := web.New(web.Options{ConfigFile: opts.WebConfigFile, Logger: logger})
	if err != nil {
		return nil, err
	}

	// A registry of our own rather than the global one: nothing a library
	// registers behind our back ends up on /metrics.
	reg := prometheus.NewRegistry()
	reg.MustRegister(guard.Collector()) // webguard_*: reloads, certificate expiry, handshake and auth failures
	metrics := MetricsHandler(reg, true)

	landing, err := web.NewLandingPage(web.LandingConfig{
		Name:        "Example exporter",
		Description: "A Prometheus exporter built with webguard",
		Version:     opts.Version,
		Links:       []web.LandingLinks{{Address: "/metrics", Text: "Metrics"}},
	})
	if err != nil {
		guard.Close()
		return nil, err
	}

	mux := http.NewServeMux()
	mux.Handle("/{$}", landing)
	mux.Handle("/metrics", metrics)

	return &Exporter{
		guard: guard,
		server: &http.Server{
			Handler: mux,
			// The guard counts and logs failed handshakes itself; net/http's
			// other complaints go to our logger rather than to stderr.
			ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelDebug),
		},
		registry: reg,
	}, nil
}

// MetricsHandler registers the exporter's metrics with reg and returns the
// handler that serves reg: exporter_scrapes_total{client}, counted by the
// handler, and, when processMetrics is true, the process and Go runtime
// collectors and go_build_info. The program in examples/exporter hands it
// to package bootstrap; New serves it itself.
func MetricsHandler(reg *prometheus.Registry, processMetrics bool) http.Handler {
	scrapes := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "exporter_scrapes_total",
		Help: "Scrapes of /metrics served, by the common name of the verified client certificate (\"\" without one).",
	}, []string{"client"})
	reg.MustRegister(scrapes)
	if processMetrics {
		reg.MustRegister(
			collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
			collectors.NewGoCollector(),
			collectors.NewBuildInfoCollector(),
		)
	}
	metrics := promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Counting before gathering makes this scrape show up in its own
		// result, which is what a reader of the counter expects.
		scrapes.WithLabelValues(clientName(r)).Inc()
		metrics.ServeHTTP(w, r)
	})
}

// clientName is the common name of the client certificate the TLS layer
// verified, or "" when there is none (plain HTTP, or a client auth type that
// lets clients in without one).
func clientName(r *http.Request) string {
	if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 || len(r.TLS.VerifiedChains[0]) == 0 {
		return ""
	}
	return r.TLS.VerifiedChains[0][0].Subject.CommonName
}

// Registry is the registry /metrics serves, for adding collectors.
func (e *Exporter) Registry() *prometheus.Registry { return e.registry }

// Serve serves on l until Shutdown, returning http.ErrServerClosed then.
func (e *Exporter) Serve(l net.Listener) error {
	return e.guard.Serve(l, e.server)
}

// ListenAndServe listens on the addresses (or systemd sockets) in flags and
// serves until Shutdown, returning http.ErrServerClosed then.
func (e *Exporter) ListenAndServe(flags *web.FlagConfig) error {
	return e.guard.ListenAndServe(e.server, flags)
}

// Reload re-reads web.yml and the files it names now. On error the previous
// configuration stays in force. Call it on SIGHUP.
func (e *Exporter) Reload() error { return e.guard.Reload() }

// Shutdown stops accepting connections, waits (until ctx is done) for the
// requests in flight, and stops watching the config files.
func (e *Exporter) Shutdown(ctx context.Context) error {
	return errors.Join(e.server.Shutdown(ctx), e.guard.Close())
}
