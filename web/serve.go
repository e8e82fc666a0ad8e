package web

import (
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/webguard/webguard/config"
)

// defaultReadHeaderTimeout is the http.Server ReadHeaderTimeout Serve sets
// when the server has none. It also bounds TLS handshakes, which net/http
// otherwise lets a silent client hold open forever.
const defaultReadHeaderTimeout = 10 * time.Second

// Serve serves HTTP on l with server under the Guard's config, until
// server.Shutdown or server.Close, and then returns http.ErrServerClosed as
// net/http does. On the first Serve of a server it wraps server.Handler with
// Handler, sets server.TLSConfig to TLSConfig when TLS is on (replacing any
// TLSConfig of its own), disables HTTP/2 when the config does, sets
// ReadHeaderTimeout to 10s when it is zero, and routes server.ErrorLog
// through the Guard to count failed handshakes (lines that are not about
// handshakes still reach the server's own ErrorLog). Later Serve calls with
// the same server, concurrent or not, change nothing, so one server can
// serve several listeners.
//
// While any Serve of the Guard runs, the Guard watches its files and
// reloads on change.
func (g *Guard) Serve(l net.Listener, server *http.Server) error {
	if err := g.begin(server); err != nil {
		return err
	}
	defer g.end()
	s := g.snap.Load()
	attrs := []any{"address", l.Addr().String(), "tls", g.tlsOn}
	if g.tlsOn {
		attrs = append(attrs, "http2", g.http2, "client_auth", config.ClientAuthType(s.tls.ClientAuth).String())
	}
	g.logger.Info("listening", attrs...)
	if g.tlsOn {
		return server.ServeTLS(l, "", "")
	}
	return server.Serve(l)
}

// begin prepares server once and counts a running Serve, starting the file
// watcher with the first.
func (g *Guard) begin(server *http.Server) error {
	if server == nil {
		return errors.New("web: nil *http.Server")
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if h, ok := server.Handler.(*guardHandler); !ok || h.g != g {
		server.Handler = g.Handler(server.Handler)
		if g.tlsOn {
			server.TLSConfig = g.TLSConfig()
			switch {
			case !g.http2 && server.TLSNextProto == nil:
				// net/http's documented way to turn HTTP/2 off.
				server.TLSNextProto = map[string]func(*http.Server, *tls.Conn, http.Handler){}
			case g.http2 && !serverSpeaksHTTP2(server):
				// ALPN is decided by the snapshot's tls.Config, shared by
				// every server: it would offer h2 that this one cannot serve.
				g.logger.Warn("the http.Server has HTTP/2 turned off but the web config offers it; set http_server_config.http2: false")
			}
		}
		if server.ReadHeaderTimeout == 0 {
			server.ReadHeaderTimeout = defaultReadHeaderTimeout
		}
		server.ErrorLog = newErrorLog(g, server.ErrorLog)
	}
	g.serving++
	if g.serving == 1 && !g.closed && g.path != "" {
		g.startWatching()
	}
	return nil
}

// serverSpeaksHTTP2 reports whether server serves h2 over TLS, by the rules
// of http.Server.Protocols and TLSNextProto.
func serverSpeaksHTTP2(server *http.Server) bool {
	if server.Protocols != nil {
		return server.Protocols.HTTP2()
	}
	_, h2 := server.TLSNextProto["h2"]
	return server.TLSNextProto == nil || h2
}

// end counts a Serve returning, stopping the file watcher with the last.
func (g *Guard) end() {
	g.mu.Lock()
	defer g.mu.Unlock()
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
		return errors.New("web: no listeners to serve")
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
	ls, err := listen(flags, server.Addr)
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
	opts := Options{Logger: logger}
	if flags != nil && flags.WebConfigFile != nil {
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
