package bootstrap

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/promslog"
	promslogflag "github.com/prometheus/common/promslog/flag"
	"github.com/prometheus/common/version"

	"github.com/webguard/webguard/web"
	"github.com/webguard/webguard/web/kingpinflag"
)

// defaultReadHeaderTimeout is the server's ReadHeaderTimeout when
// Config.ReadHeaderTimeout is not positive, as in exporter-toolkit.
const defaultReadHeaderTimeout = time.Minute

// shutdownTimeout bounds how long requests in progress may finish after
// SIGINT or SIGTERM.
const shutdownTimeout = 10 * time.Second

// Config is what an exporter tells New about itself.
type Config struct {
	// App is the kingpin application the flags are defined on;
	// kingpin.CommandLine when nil.
	App *kingpin.Application
	// Name is the program's name, for --version, the start-up log line and
	// the landing page title.
	Name string
	// Description is the landing page's description unless LandingConfig
	// has one.
	Description string
	// DefaultAddress is the default of --web.listen-address, e.g. ":9100".
	DefaultAddress string
	// Logger is the program's logger. When nil, --log.level and
	// --log.format are defined and the logger is built from them.
	Logger *slog.Logger
	// LandingConfig is the landing page served at "/": Name, Description
	// and Version are filled in when empty, and a link to the metrics path
	// is added.
	LandingConfig web.LandingConfig
	// MetricsHandler is served at the metrics path. Set it or
	// MetricsHandlerFactory, not both.
	MetricsHandler http.Handler
	// MetricsHandlerFactory builds the metrics handler after the flags are
	// parsed.
	MetricsHandlerFactory MetricsHandlerFactory
	// ReadHeaderTimeout bounds the reading of request headers (and the TLS
	// handshake); one minute when not positive.
	ReadHeaderTimeout time.Duration
	// Registerer receives the Guard's webguard_* metrics unless
	// --web.disable-exporter-metrics is given; prometheus.DefaultRegisterer
	// when nil. (Not in exporter-toolkit.)
	Registerer prometheus.Registerer
}

// Runner parses an exporter's command line and serves it. Its exported
// fields hold the parsed values once Run has parsed the command line.
type Runner struct {
	// Logger is the program's logger.
	Logger *slog.Logger
	// MetricsPath is --web.telemetry-path.
	MetricsPath string
	// FlagConfig holds the --web.* flags of package web.
	FlagConfig *web.FlagConfig
	// DisableExporterMetrics is --web.disable-exporter-metrics.
	DisableExporterMetrics bool
	// MaxRequests is --web.max-requests.
	MaxRequests int
	// LandingConfig is the landing page, with the defaults filled in.
	LandingConfig web.LandingConfig
	// MetricsHandler is Config.MetricsHandler.
	MetricsHandler http.Handler
	// MetricsHandlerFactory is Config.MetricsHandlerFactory.
	MetricsHandlerFactory MetricsHandlerFactory

	config      Config
	app         *kingpin.Application
	logConfig   *promslog.Config // nil when Config.Logger was given
	metricsPath *string
	noExporter  *bool
	maxRequests *int
}

// New defines the flags on c.App (or kingpin.CommandLine) and returns the
// Runner that parses and serves them. It reads no flag yet: the program may
// define flags of its own before calling Run.
func New(c Config) *Runner {
	app := c.App
	if app == nil {
		app = kingpin.CommandLine
	}
	r := &Runner{
		Logger:                c.Logger,
		LandingConfig:         c.LandingConfig,
		MetricsHandler:        c.MetricsHandler,
		MetricsHandlerFactory: c.MetricsHandlerFactory,
		config:                c,
		app:                   app,
		FlagConfig:            kingpinflag.AddFlags(app, c.DefaultAddress),
	}
	r.metricsPath = app.Flag("web.telemetry-path", "Path under which to serve the metrics.").Default("/metrics").String()
	r.noExporter = app.Flag("web.disable-exporter-metrics",
		"Leave out the metrics about the exporter process itself (promhttp_*, process_*, go_*, webguard_*).").Bool()
	r.maxRequests = app.Flag("web.max-requests",
		"How many scrapes may be served at once; beyond that, requests are answered 503 at once. 0 means no limit.").
		Default("40").Int()
	if c.Logger == nil {
		r.logConfig = &promslog.Config{}
		promslogflag.AddFlags(app, r.logConfig)
	}
	name := c.Name
	if name == "" {
		name = app.Name
	}
	app.Version(version.Print(name))
	app.HelpFlag.Short('h')
	return r
}

// Run parses os.Args and serves until SIGINT or SIGTERM (then it shuts the
// server down, letting requests in progress finish for up to 10 seconds,
// and returns nil) or until serving fails. SIGHUP reloads web.yml.
// --help and --version print and exit the process, as kingpin does.
func (r *Runner) Run() error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return r.run(ctx, os.Args[1:])
}

// run is Run with the arguments given and a context whose end shuts the
// server down.
func (r *Runner) run(ctx context.Context, args []string) error {
	if err := r.parse(args); err != nil {
		return err
	}
	metrics, b, err := r.metricsHandler()
	if err != nil {
		return err
	}
	mux, err := r.mux(metrics, b)
	if err != nil {
		return err
	}
	if r.config.Name != "" {
		r.Logger.Info("starting "+r.config.Name, "version", version.Info())
		r.Logger.Info("build context", "build_context", version.BuildContext())
	}
	guard, err := web.New(web.Options{ConfigFile: *r.FlagConfig.WebConfigFile, Logger: r.Logger})
	if err != nil {
		return err
	}
	defer guard.Close()
	if !r.DisableExporterMetrics {
		reg := r.config.Registerer
		if reg == nil {
			reg = prometheus.DefaultRegisterer
		}
		if err := reg.Register(guard.Collector()); err != nil {
			return fmt.Errorf("bootstrap: registering the webguard_* metrics: %w", err)
		}
		defer reg.Unregister(guard.Collector())
	}
	timeout := r.config.ReadHeaderTimeout
	if timeout <= 0 {
		timeout = defaultReadHeaderTimeout
	}
	server := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: timeout,
		// The Guard counts and logs failed handshakes itself; net/http's
		// other complaints go to the program's logger, not to stderr.
		ErrorLog: slog.NewLogLogger(r.Logger.Handler(), slog.LevelDebug),
	}
	return serve(ctx, guard, server, r.FlagConfig, r.Logger)
}

// serve runs guard.ListenAndServe until ctx ends or serving fails,
// reloading the guard's config on SIGHUP.
func serve(ctx context.Context, guard *web.Guard, server *http.Server, flags *web.FlagConfig, logger *slog.Logger) error {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	served := make(chan error, 1)
	go func() { served <- guard.ListenAndServe(server, flags) }()
	for {
		select {
		case <-hup:
			// The Guard logs the outcome; on error the previous config
			// keeps serving.
			guard.Reload()
		case <-ctx.Done():
			logger.Info("shutting down")
			sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
			defer cancel()
			err := server.Shutdown(sctx)
			if serr := <-served; !errors.Is(serr, http.ErrServerClosed) {
				err = errors.Join(err, serr)
			}
			return err
		case err := <-served:
			return err
		}
	}
}

// parse parses args and fills in the Runner's exported fields.
func (r *Runner) parse(args []string) error {
	if _, err := r.app.Parse(args); err != nil {
		return err
	}
	if *r.metricsPath == "" {
		return errors.New("bootstrap: --web.telemetry-path is empty (want a path such as /metrics)")
	}
	if *r.maxRequests < 0 {
		return fmt.Errorf("bootstrap: --web.max-requests is %d (want 0 for no limit, or more)", *r.maxRequests)
	}
	if r.Logger == nil {
		r.Logger = promslog.New(r.logConfig)
	}
	r.MetricsPath = *r.metricsPath
	r.DisableExporterMetrics = *r.noExporter
	r.MaxRequests = *r.maxRequests
	lc := r.LandingConfig
	if lc.Name == "" {
		lc.Name = r.config.Name
	}
	if lc.Description == "" {
		lc.Description = r.config.Description
	}
	if lc.Version == "" {
		lc.Version = version.Info()
	}
	r.LandingConfig = lc
	return nil
}

// metricsHandler returns the handler for the metrics path, calling the
// factory if there is one, and the Bootstrap it was given (nil without a
// factory).
func (r *Runner) metricsHandler() (http.Handler, *Bootstrap, error) {
	switch {
	case r.MetricsHandler == nil && r.MetricsHandlerFactory == nil:
		return nil, nil, errors.New("bootstrap: no metrics handler (set Config.MetricsHandler or Config.MetricsHandlerFactory)")
	case r.MetricsHandler != nil && r.MetricsHandlerFactory != nil:
		return nil, nil, errors.New("bootstrap: both Config.MetricsHandler and Config.MetricsHandlerFactory are set (want one)")
	case r.MetricsHandler != nil:
		return r.MetricsHandler, nil, nil
	}
	b := &Bootstrap{
		Logger:                 r.Logger,
		MetricsPath:            r.MetricsPath,
		FlagConfig:             r.FlagConfig,
		DisableExporterMetrics: r.DisableExporterMetrics,
		MaxRequests:            r.MaxRequests,
	}
	h, err := r.MetricsHandlerFactory(b)
	if err != nil {
		return nil, nil, err
	}
	if h == nil {
		return nil, nil, errors.New("bootstrap: the metrics handler factory returned no handler")
	}
	return h, b, nil
}

// mux routes the metrics path (bounded by --web.max-requests), the routes
// the factory added, and the landing page at "/" unless a route took it or
// the metrics are served there.
func (r *Runner) mux(metrics http.Handler, b *Bootstrap) (*http.ServeMux, error) {
	mux := http.NewServeMux()
	mux.Handle(r.MetricsPath, newMaxRequests(metrics, r.MaxRequests, r.Logger))
	rootTaken := r.MetricsPath == "/"
	if b != nil {
		for _, rt := range b.routes {
			if rt.pattern == r.MetricsPath {
				return nil, fmt.Errorf("bootstrap: route %q is the metrics path (--web.telemetry-path)", rt.pattern)
			}
			rootTaken = rootTaken || rt.pattern == "/"
			if err := handle(mux, rt.pattern, rt.handler); err != nil {
				return nil, err
			}
		}
	}
	if !rootTaken {
		lc := r.LandingConfig
		lc.Links = append(append([]web.LandingLinks(nil), lc.Links...), web.LandingLinks{Address: r.MetricsPath, Text: "Metrics"})
		page, err := web.NewLandingPage(lc)
		if err != nil {
			return nil, err
		}
		mux.Handle("/", page)
	}
	return mux, nil
}

// handle is mux.Handle returning an error where http.ServeMux panics: on a
// malformed pattern or one that conflicts with a route already added.
func handle(mux *http.ServeMux, pattern string, h http.Handler) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("bootstrap: route %q: %v", pattern, p)
		}
	}()
	mux.Handle(pattern, h)
	return nil
}
