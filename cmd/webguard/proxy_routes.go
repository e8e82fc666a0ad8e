package main

import (
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/webguard/webguard/web"
)

// routes maps request paths to upstreams, behind the Guard:
//
//   - the telemetry path, when set, is webguard's own metrics;
//   - /NAME/REST goes to the upstream named NAME as /REST (/NAME alone is
//     redirected to /NAME/);
//   - with a single upstream, every other path goes to it unchanged;
//   - with several, / is a landing page that lists them, and any other path
//     is 404.
type routes struct {
	telemetryPath string
	telemetry     http.Handler
	all           []*forwarder // in the order given
	byName        map[string]*forwarder
	single        *forwarder // nil with several upstreams
	landing       http.Handler
}

func newRoutes(fws []*forwarder, telemetryPath string, telemetry http.Handler) (*routes, error) {
	rt := &routes{telemetryPath: telemetryPath, telemetry: telemetry, all: fws, byName: map[string]*forwarder{}}
	if len(fws) == 1 {
		rt.single = fws[0]
	}
	var links []web.LandingLinks
	for _, f := range fws {
		if f.up.name == "" {
			continue
		}
		rt.byName[f.up.name] = f
		links = append(links, web.LandingLinks{
			Address:     f.up.name + "/metrics",
			Text:        f.up.name,
			Description: "metrics of " + f.up.display,
		})
	}
	if rt.single == nil {
		page, err := web.NewLandingPage(web.LandingConfig{
			Name:        "webguard proxy",
			Description: "Each exporter below is served under its own path, behind this proxy's TLS and authentication. Scrape it with metrics_path: /NAME/metrics.",
			Links:       links,
		})
		if err != nil {
			return nil, fmt.Errorf("landing page: %w", err)
		}
		rt.landing = page
	}
	return rt, nil
}

func (rt *routes) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if rt.telemetry != nil && r.URL.Path == rt.telemetryPath {
		rt.telemetry.ServeHTTP(w, r)
		return
	}
	// Routing and forwarding use the same escaped path, so what picks the
	// upstream is exactly the prefix removed: "/node%2F..%2Fx" is not
	// "/node/", and "/node/../x" goes to node as "/../x".
	path := r.URL.EscapedPath()
	if len(rt.byName) > 0 && len(path) > 1 {
		name, rest, slash := strings.Cut(path[1:], "/")
		if f := rt.byName[name]; f != nil {
			if !slash {
				http.Redirect(w, r, "/"+name+"/", http.StatusMovedPermanently)
				return
			}
			f.forward(w, r, "/"+rest)
			return
		}
	}
	switch {
	case rt.single != nil:
		if path == "" || path[0] != '/' {
			// "OPTIONS *" and the like: nothing to forward to.
			http.Error(w, "400 bad request: the proxy forwards only absolute paths", http.StatusBadRequest)
			return
		}
		rt.single.forward(w, r, path)
	case path == "/":
		rt.landing.ServeHTTP(w, r)
	default:
		http.NotFound(w, r)
	}
}

// closeIdle closes the idle upstream connections, at shutdown.
func (rt *routes) closeIdle() {
	for _, f := range rt.all {
		f.up.closeIdle()
	}
}

// logUpstreams says where each route goes, once at start.
func (rt *routes) logUpstreams(logger *slog.Logger) {
	if rt.single != nil && rt.single.up.name == "" {
		logger.Info("proxying", "upstream", rt.single.up.display)
		return
	}
	for _, f := range rt.all {
		attrs := []any{"path", "/" + f.up.name + "/", "upstream", f.up.display}
		if rt.single != nil {
			attrs = append(attrs, "also", "/")
		}
		logger.Info("proxying", attrs...)
	}
}
