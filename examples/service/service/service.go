// Package service is an internal service that keeps its web settings inside
// its own config file, under "web", rather than in a separate web.yml. It
// serves an HTTP API through a web.Guard, and a line protocol (not HTTP) on a
// second listener whose TLS also comes from the guard, through
// Guard.TLSConfig.
//
// service.yml:
//
//	greeting: hello
//	web:
//	  tls_server_config:
//	    cert_file: server.crt
//	    key_file: server.key
//	    client_ca_file: ca.crt
//	    client_auth_type: RequireAndVerifyClientCert
//	  basic_auth_users:
//	    alice: $2y$10$...
//
// The guard watches the certificate, key and CA files the section names and
// reloads them by itself. The service watches nothing: Refresh and Reload
// re-read service.yml and hand the section over (see their docs).
package service

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/webguard/webguard/config"
	"github.com/webguard/webguard/web"
)

// settings are service.yml's own keys; "web" is the guard's.
type settings struct {
	Greeting string    `yaml:"greeting"`
	Web      yaml.Node `yaml:"web"`
}

// load reads service.yml: the service's settings and the web section, whose
// errors name service.yml, the line and the field (web.…).
func load(path string) (settings, *config.Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return settings{}, nil, fmt.Errorf("service: %w", err)
	}
	var s settings
	if err := yaml.Unmarshal(data, &s); err != nil {
		return settings{}, nil, fmt.Errorf("service: %s: %w", path, err)
	}
	if s.Greeting == "" {
		s.Greeting = "hello"
	}
	webCfg, err := config.ParseSection(data, path, "web")
	if err != nil {
		return settings{}, nil, err
	}
	return s, webCfg, nil
}

// Service is the running service.
type Service struct {
	path     string
	logger   *slog.Logger
	guard    *web.Guard
	greeting atomic.Pointer[string]
	server   *http.Server

	mu       sync.Mutex
	lines    net.Listener // the line protocol's listener, once Serve runs
	open     map[net.Conn]struct{}
	stopping bool
	conns    sync.WaitGroup
}

// New loads path and returns the service, not yet serving.
func New(path string, logger *slog.Logger) (*Service, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s, webCfg, err := load(path)
	if err != nil {
		return nil, err
	}
	g, err := web.New(web.Options{Config: webCfg, Logger: logger})
	if err != nil {
		return nil, err
	}
	svc := &Service{path: path, logger: logger, guard: g}
	svc.greeting.Store(&s.Greeting)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /hello", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s, %s\n", *svc.greeting.Load(), r.URL.Query().Get("name"))
	})
	svc.server = &http.Server{Handler: mux}
	return svc, nil
}

// Guard returns the service's guard, for its metrics.
func (s *Service) Guard() *web.Guard { return s.guard }

// Serve serves the HTTP API on api and the line protocol on lines until
// Shutdown, then returns http.ErrServerClosed.
func (s *Service) Serve(api, lines net.Listener) error {
	s.mu.Lock()
	s.lines = lines
	s.mu.Unlock()
	errc := make(chan error, 1)
	go func() { errc <- s.serveLines(lines) }()
	err := s.guard.Serve(api, s.server)
	lines.Close()
	return errors.Join(err, <-errc)
}

// serveLines accepts line protocol connections. TLS is decided per
// connection, as the guard does for HTTP: Guard.TLSConfig is nil while the
// web section has TLS off, and its GetConfigForClient serves the
// certificate and client CA of the config current at each handshake.
func (s *Service) serveLines(l net.Listener) error {
	for {
		conn, err := l.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			return err
		}
		if tc := s.guard.TLSConfig(); tc != nil {
			conn = tls.Server(conn, tc)
		}
		if !s.track(conn, true) {
			conn.Close()
			continue
		}
		s.conns.Add(1)
		go func() {
			defer s.conns.Done()
			defer s.track(conn, false)
			s.serveLineConn(conn)
		}()
	}
}

// track adds conn to the open connections, or removes it; adding fails once
// Shutdown has begun.
func (s *Service) track(conn net.Conn, add bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !add {
		delete(s.open, conn)
		return true
	}
	if s.stopping {
		return false
	}
	if s.open == nil {
		s.open = map[net.Conn]struct{}{}
	}
	s.open[conn] = struct{}{}
	return true
}

// serveLineConn answers each line NAME with "GREETING, NAME".
func (s *Service) serveLineConn(conn net.Conn) {
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	if tc, ok := conn.(*tls.Conn); ok {
		if err := tc.Handshake(); err != nil {
			s.logger.Debug("line protocol handshake failed", "remote", conn.RemoteAddr().String(), "err", err)
			return
		}
	}
	r := bufio.NewScanner(io.LimitReader(conn, 64<<10))
	for r.Scan() {
		if _, err := fmt.Fprintf(conn, "%s, %s\n", *s.greeting.Load(), strings.TrimSpace(r.Text())); err != nil {
			return
		}
	}
}

// Refresh re-reads service.yml after it changed by itself (the program's own
// file watch or poll): the greeting applies, and the web section goes to the
// guard with Update, which holds back a change that lowers security (it may
// be a half-written file) and returns an error wrapping web.ErrHeld. The
// guard logs and counts what it refuses or holds; the error is for the
// caller to log too, or not.
func (s *Service) Refresh() error { return s.reload(false) }

// Reload re-reads service.yml on the operator's request (SIGHUP): as
// Refresh, but a change that lowers security applies too.
func (s *Service) Reload() error { return s.reload(true) }

func (s *Service) reload(explicit bool) error {
	st, webCfg, err := load(s.path)
	if err != nil {
		return err
	}
	// The service's own settings apply whatever the guard decides.
	s.greeting.Store(&st.Greeting)
	err = s.guard.Update(webCfg)
	if explicit && errors.Is(err, web.ErrHeld) {
		err = s.guard.Reload()
	}
	return err
}

// Shutdown stops both listeners, waits for HTTP requests to finish, as
// http.Server.Shutdown, and closes the line protocol's connections.
func (s *Service) Shutdown(ctx context.Context) error {
	err := s.server.Shutdown(ctx)
	s.mu.Lock()
	s.stopping = true
	if s.lines != nil {
		s.lines.Close()
	}
	for c := range s.open {
		c.Close()
	}
	s.mu.Unlock()
	s.conns.Wait()
	return errors.Join(err, s.guard.Close())
}
