package bootstrap

import (
	"log/slog"
	"net/http"

	"github.com/webguard/webguard/web"
)

// MetricsHandlerFactory builds the handler served at the metrics path, once
// the command line is parsed: it can read the parsed values in b and add
// routes with b.Handle. An error stops Run before anything is served.
type MetricsHandlerFactory func(b *Bootstrap) (http.Handler, error)

// Bootstrap is what a MetricsHandlerFactory receives: the values parsed
// from the command line, and a place to add routes next to the metrics
// endpoint and the landing page.
type Bootstrap struct {
	// Logger is the program's logger: Config.Logger, or the one built from
	// --log.level and --log.format.
	Logger *slog.Logger
	// MetricsPath is --web.telemetry-path, "/metrics" by default.
	MetricsPath string
	// FlagConfig holds the --web.* flags of package web.
	FlagConfig *web.FlagConfig
	// DisableExporterMetrics is --web.disable-exporter-metrics: leave out
	// the metrics about the exporter process itself (process_*, go_*,
	// promhttp_*, webguard_*).
	DisableExporterMetrics bool
	// MaxRequests is --web.max-requests: how many requests the metrics
	// endpoint serves at once; 0 means no bound.
	MaxRequests int

	routes []route
}

// route is a handler added with Handle.
type route struct {
	pattern string
	handler http.Handler
}

// Handle serves handler at pattern (an http.ServeMux pattern), next to the
// metrics endpoint. Pattern "/" replaces the landing page; the metrics path
// itself is refused when Run builds the server. The route is not bounded by
// --web.max-requests unless handler is wrapped in MaxRequestsHandler, which
// suits health checks that must answer while scrapes pile up.
func (b *Bootstrap) Handle(pattern string, handler http.Handler) {
	b.routes = append(b.routes, route{pattern: pattern, handler: handler})
}

// HandleFunc is Handle for a function.
func (b *Bootstrap) HandleFunc(pattern string, handler func(http.ResponseWriter, *http.Request)) {
	b.Handle(pattern, http.HandlerFunc(handler))
}

// MaxRequestsHandler returns h bounded by --web.max-requests, as the metrics
// endpoint is: beyond that many requests in progress, the next ones are
// answered 503 at once, and a warning with the count of refused requests
// is logged at most once a minute. Each call makes a bound of its own.
// With MaxRequests 0 or less, h is returned as is.
func (b *Bootstrap) MaxRequestsHandler(h http.Handler) http.Handler {
	return newMaxRequests(h, b.MaxRequests, b.Logger)
}
