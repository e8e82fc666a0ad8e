package web

import (
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync"

	"github.com/webguard/webguard/config"
)

// Serve serves HTTP on l with server under the Guard's config, until
// server.Shutdown or server.Close, and then returns http.ErrServerClosed as
// net/http does. TLS is decided per accepted connection by the config
// current at that moment, so a reload that switches TLS or HTTP/2 on applies
// to the next connection; l must be a plain listener (not a tls.Listener).
//
// On the first Serve of a server it wraps server.Handler with Handler, sets
// server.TLSConfig to one of the Guard's (keeping the ALPN protocols of the
// server's own TLSConfig other than h2 and http/1.1, such as acme-tls/1,
// which are offered after the Guard's), sets the timeouts the server left
// at zero (ReadHeaderTimeout 10s, ReadTimeout 1m, IdleTimeout 2m unless
// ReadTimeout was set) and closes connections that send no request within
// twice ReadHeaderTimeout, wraps server.ConnContext to re-check connections
// opened under an earlier config, and sends server.ErrorLog's lines to the
// Guard's logger when the server has no ErrorLog of its own. The Guard does
// the TLS handshakes itself, bounded as net/http bounds them (by the
// shortest of ReadHeaderTimeout, ReadTimeout and WriteTimeout), and logs
// and counts each failed one. HTTP/2 is offered when the config has it on
// and the server can serve it (see http.Server.Protocols and TLSNextProto).
// Later Serve calls with the same server, concurrent or not, change
// nothing, so one server can serve several listeners.
//
// While any Serve of the Guard runs, the Guard watches its files and
// reloads on change.
func (g *Guard) Serve(l net.Listener, server *http.Server) error {
	served, err := g.begin(server)
	if err != nil {
		return err
	}
	defer g.end(server)
	s := g.snap.Load()
	attrs := []any{"address", l.Addr().String(), "tls", s.tls != nil}
	if s.tls != nil {
		attrs = append(attrs, "http2", s.tls.http2 && served.h2, "client_auth", config.ClientAuthType(s.tls.config.ClientAuth).String())
	}
	g.logger.Info("listening", attrs...)
	if s.tls != nil && s.tls.http2 && !served.h2 {
		g.logger.Warn("the http.Server cannot serve HTTP/2 (Protocols or TLSNextProto), so it is not offered although the web config has http2 on", "address", l.Addr().String())
	}
	return server.Serve(newGuardListener(l, g, served))
}

// begin prepares server once and counts a running Serve, starting the file
// watcher with the first.
func (g *Guard) begin(server *http.Server) (*servedServer, error) {
	if server == nil {
		return nil, errors.New("web: nil *http.Server")
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	served := g.servers[server]
	if served == nil {
		// No Serve of it runs: its fields are ours to read and write.
		served = newServedServer(server)
		if g.servers == nil {
			g.servers = map[*http.Server]*servedServer{}
		}
		g.servers[server] = served
		if h, ok := server.Handler.(*guardHandler); !ok || h.g != g {
			server.Handler = g.Handler(server.Handler)
			server.TLSConfig = served.tlsConfig(g)
			server.ConnContext = g.connContext(server.ConnContext)
			applyTimeouts(server)
			server.ErrorLog = newErrorLog(g, server.ErrorLog)
		}
		served.handshakeTimeout = handshakeTimeout(server)
	}
	served.serving++
	g.serving++
	if g.serving == 1 && !g.closed {
		g.startWatching()
	}
	return served, nil
}

// end counts a Serve returning, stopping the file watcher with the last.
func (g *Guard) end(server *http.Server) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if served := g.servers[server]; served != nil {
		if served.serving--; served.serving == 0 {
			delete(g.servers, server)
		}
	}
	g.serving--
	if g.serving == 0 {
		g.stopWatching()
	}
}

// ServeMultiple serves server on every listener in ls at once, as Serve, and
// returns when all have returned: the first error other than
// http.ErrServerClosed, else http.ErrServerClosed.
func (g *Guard) ServeMultiple(ls []net.Listener, server *http.Server) error {
	if len(ls) == 0 {
		return ErrNoListeners
	}
	errs := make([]error, len(ls))
	var wg sync.WaitGroup
	for i, l := range ls {
		wg.Go(func() { errs[i] = g.Serve(l, server) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			return err
		}
	}
	return errs[0]
}

// ListenAndServe opens the listeners flags asks for (see FlagConfig) and
// serves server on all of them, as ServeMultiple. With no flags or no listen
// address it listens on server.Addr. flags.WebConfigFile is not read: the
// Guard serves the file given to New. If a listener cannot be opened, those
// already open are closed and the error returned.
func (g *Guard) ListenAndServe(server *http.Server, flags *FlagConfig) error {
	if server == nil {
		return errors.New("web: nil *http.Server")
	}
	ls, err := OpenListeners(flags, server.Addr)
	if err != nil {
		return err
	}
	return g.ServeMultiple(ls, server)
}

// ListenAndServe is the exporter-toolkit entry point: it loads the config
// file flags names (*flags.WebConfigFile; none means plain HTTP), opens the
// listeners flags asks for and serves server on them until it is shut down.
// The config is reloaded when its files change. logger may be nil.
func ListenAndServe(server *http.Server, flags *FlagConfig, logger *slog.Logger) error {
	g, err := newFromFlags(flags, logger)
	if err != nil {
		return err
	}
	defer g.Close()
	return g.ListenAndServe(server, flags)
}

// Listen is the older name of ListenAndServe.
func Listen(server *http.Server, flags *FlagConfig, logger *slog.Logger) error {
	return ListenAndServe(server, flags, logger)
}

// Serve is ListenAndServe on a listener the caller opened; flags supplies
// only the config file.
func Serve(l net.Listener, server *http.Server, flags *FlagConfig, logger *slog.Logger) error {
	g, err := newFromFlags(flags, logger)
	if err != nil {
		return err
	}
	defer g.Close()
	return g.Serve(l, server)
}

// ServeMultiple is Serve on several listeners at once.
func ServeMultiple(ls []net.Listener, server *http.Server, flags *FlagConfig, logger *slog.Logger) error {
	g, err := newFromFlags(flags, logger)
	if err != nil {
		return err
	}
	defer g.Close()
	return g.ServeMultiple(ls, server)
}

func newFromFlags(flags *FlagConfig, logger *slog.Logger) (*Guard, error) {
	if flags == nil {
		return nil, ErrMissingFlag
	}
	opts := Options{Logger: logger}
	if flags.WebConfigFile != nil {
		opts.ConfigFile = *flags.WebConfigFile
	}
	return New(opts)
}

// Validate reports whether the config file at path can be served: it loads
// it as Load does and builds what serving it needs. It returns nil for an
// empty path. Errors name the file, line and field.
func Validate(path string) error {
	if path == "" {
		return nil
	}
	cfg, err := config.Load(path)
	if err != nil {
		return err
	}
	_, err = compile(cfg)
	return err
}
