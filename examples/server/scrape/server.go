package scrape

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

// Options configures a Server.
type Options struct {
	// ConfigFile is the prometheus.yml-style scrape config. Required.
	ConfigFile string
	// WebConfigFile is the web.yml protecting the server's own pages and API;
	// "" serves plain HTTP without authentication.
	WebConfigFile string
	// Logger receives log lines; nil discards them.
	Logger *slog.Logger
}

// Server is a small Prometheus-like server: it scrapes the targets of its
// config file and serves, through a web.Guard,
//
//	/targets          the targets and their last scrape, as HTML
//	/api/v1/targets   the same as JSON, shaped like Prometheus' API
//	/metrics          its own metrics
type Server struct {
	configFile string
	logger     *slog.Logger
	guard      *web.Guard
	scraper    *Scraper
	server     *http.Server
}

// New loads both config files and starts scraping. It fails if either file
// is invalid. Shutdown stops the scrapers.
func New(opts Options) (*Server, error) {
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	cfg, err := LoadConfig(opts.ConfigFile)
	if err != nil {
		return nil, err
	}
	guard, err := web.New(web.Options{ConfigFile: opts.WebConfigFile, Logger: logger})
	if err != nil {
		return nil, err
	}
	scraper := NewScraper(logger)
	if err := scraper.Apply(cfg); err != nil {
		guard.Close()
		return nil, err
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collectors.NewGoCollector(),
		collectors.NewBuildInfoCollector(),
		guard.Collector(),
		upCollector{scraper},
	)

	mux := http.NewServeMux()
	mux.Handle("GET /targets", targetsHTML(scraper))
	mux.Handle("GET /api/v1/targets", targetsJSON(scraper))
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	mux.Handle("GET /{$}", http.RedirectHandler("/targets", http.StatusFound))

	return &Server{
		configFile: opts.ConfigFile,
		logger:     logger,
		guard:      guard,
		scraper:    scraper,
		server: &http.Server{
			Handler:  mux,
			ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelDebug),
		},
	}, nil
}

// Targets returns the status of every target.
func (s *Server) Targets() []TargetStatus { return s.scraper.Targets() }

// Serve serves on l until Shutdown, returning http.ErrServerClosed then.
func (s *Server) Serve(l net.Listener) error { return s.guard.Serve(l, s.server) }

// ListenAndServe listens on the addresses (or systemd sockets) in flags and
// serves until Shutdown, returning http.ErrServerClosed then.
func (s *Server) ListenAndServe(flags *web.FlagConfig) error {
	return s.guard.ListenAndServe(s.server, flags)
}

// Reload re-reads the scrape config and the web config. Each keeps its
// previous version if the new one is invalid; the errors are returned joined.
func (s *Server) Reload() error {
	var errs []error
	if cfg, err := LoadConfig(s.configFile); err != nil {
		errs = append(errs, err)
	} else if err := s.scraper.Apply(cfg); err != nil {
		errs = append(errs, err)
	}
	if err := s.guard.Reload(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Shutdown stops serving (waiting, until ctx is done, for requests in
// flight), then stops the scrapers and the config watchers.
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.server.Shutdown(ctx)
	s.scraper.Stop()
	return errors.Join(err, s.guard.Close())
}

// upCollector exports up{job,instance}, 1 when the last scrape succeeded, as
// Prometheus records it for every target.
type upCollector struct{ scraper *Scraper }

var upDesc = prometheus.NewDesc("up", "Whether the last scrape of the target succeeded (1) or not (0).", []string{"job", "instance"}, nil)

func (c upCollector) Describe(ch chan<- *prometheus.Desc) { ch <- upDesc }

func (c upCollector) Collect(ch chan<- prometheus.Metric) {
	for _, t := range c.scraper.Targets() {
		if t.Health == HealthUnknown {
			continue
		}
		v := 0.0
		if t.Health == HealthUp {
			v = 1
		}
		ch <- prometheus.MustNewConstMetric(upDesc, prometheus.GaugeValue, v, t.Job, t.Labels["instance"])
	}
}
