package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/webguard/webguard/bcrypt"
	"github.com/webguard/webguard/examples/exporter/exporter"
	"github.com/webguard/webguard/examples/server/scrape"
	"github.com/webguard/webguard/internal/pki"
)

// The names the demo gives its identities. The scraper's client certificate
// carries clientSAN, and the exporter admits only that SAN.
const (
	clientCN   = "prometheus"
	clientSAN  = "prometheus.demo.internal"
	scrapeUser = "prometheus"
	adminUser  = "admin"
)

// demo is a running exporter and server, and the files they were made from.
type demo struct {
	dir          string
	exporterAddr string
	serverAddr   string
	exporter     *exporter.Exporter
	server       *scrape.Server
	served       chan error // one value per Serve that returned
	ca           *pki.Cert
	client       *pki.Cert
}

// file is the path of name in the demo directory.
func (d *demo) file(name string) string { return filepath.Join(d.dir, name) }

// start writes the PKI, passwords and config files into dir and starts the
// exporter and the server on 127.0.0.1 ports the system picks.
func start(dir string, verbose bool, logTo io.Writer) (*demo, error) {
	d := &demo{dir: dir, served: make(chan error, 2)}
	if err := d.writeFiles(); err != nil {
		return nil, err
	}

	// Listen first: the server's scrape config must name the exporter's port.
	exporterL, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	serverL, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		exporterL.Close()
		return nil, err
	}
	d.exporterAddr, d.serverAddr = exporterL.Addr().String(), serverL.Addr().String()
	if err := d.writeScrapeConfig(); err != nil {
		exporterL.Close()
		serverL.Close()
		return nil, err
	}

	logger := slog.New(slog.DiscardHandler)
	if verbose {
		logger = slog.New(slog.NewTextHandler(logTo, nil))
	}
	d.exporter, err = exporter.New(exporter.Options{WebConfigFile: d.file("exporter-web.yml"), Logger: logger.With("program", "exporter")})
	if err != nil {
		exporterL.Close()
		serverL.Close()
		return nil, err
	}
	go func() { d.served <- d.exporter.Serve(exporterL) }()

	d.server, err = scrape.New(scrape.Options{
		ConfigFile:    d.file("prometheus.yml"),
		WebConfigFile: d.file("server-web.yml"),
		Logger:        logger.With("program", "server"),
	})
	if err != nil {
		serverL.Close()
		d.exporter.Shutdown(context.Background())
		<-d.served
		return nil, err
	}
	go func() { d.served <- d.server.Serve(serverL) }()
	return d, nil
}

// stop shuts both down and waits for their Serve calls to return. Errors
// are ignored: at worst a connection is cut, and the demo is over.
func (d *demo) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = d.server.Shutdown(ctx)
	_ = d.exporter.Shutdown(ctx)
	<-d.served
	<-d.served
}

// writeFiles makes the CA, the certificates, the passwords and both web.yml.
func (d *demo) writeFiles() error {
	var err error
	d.ca, err = pki.NewCA(pki.Request{CommonName: "webguard demo CA"})
	if err != nil {
		return err
	}
	exporterCert, err := d.ca.Server(pki.Request{CommonName: "exporter", Hosts: []string{"127.0.0.1", "localhost"}})
	if err != nil {
		return err
	}
	serverCert, err := d.ca.Server(pki.Request{CommonName: "server", Hosts: []string{"127.0.0.1", "localhost"}})
	if err != nil {
		return err
	}
	d.client, err = d.ca.Client(pki.Request{CommonName: clientCN, Hosts: []string{clientSAN}})
	if err != nil {
		return err
	}
	// The CA's key stays in memory: nothing needs to sign anything later.
	for _, w := range []struct {
		c         *pki.Cert
		cert, key string
	}{
		{d.ca, "ca.crt", ""},
		{exporterCert, "exporter.crt", "exporter.key"},
		{serverCert, "server.crt", "server.key"},
		{d.client, "client.crt", "client.key"},
	} {
		key := ""
		if w.key != "" {
			key = d.file(w.key)
		}
		if err := w.c.WriteFiles(d.file(w.cert), key); err != nil {
			return err
		}
	}

	scrapeHash, err := newPassword(d.file("scrape-password"))
	if err != nil {
		return err
	}
	adminHash, err := newPassword(d.file("admin-password"))
	if err != nil {
		return err
	}

	exporterWeb := fmt.Sprintf(`# The exporter admits only clients with a certificate from the demo CA that
# names %[1]s, and only with the right password.
tls_server_config:
  cert_file: exporter.crt
  key_file: exporter.key
  client_ca_file: ca.crt
  client_auth_type: RequireAndVerifyClientCert
  client_allowed_sans: [%[1]s]
basic_auth_users:
  %[2]s: %[3]s
`, clientSAN, scrapeUser, scrapeHash)
	serverWeb := fmt.Sprintf(`# The server's UI and API: TLS, a client certificate checked if one is
# presented, and a password in any case.
tls_server_config:
  cert_file: server.crt
  key_file: server.key
  client_ca_file: ca.crt
  client_auth_type: VerifyClientCertIfGiven
basic_auth_users:
  %s: %s
`, adminUser, adminHash)
	return errors.Join(
		os.WriteFile(d.file("exporter-web.yml"), []byte(exporterWeb), 0o600),
		os.WriteFile(d.file("server-web.yml"), []byte(serverWeb), 0o600),
	)
}

// writeScrapeConfig writes the server's prometheus.yml, which names the
// exporter's address.
func (d *demo) writeScrapeConfig() error {
	cfg := fmt.Sprintf(`# Scrape the exporter the way Prometheus would: over TLS, presenting the
# client certificate, with the password read from a file.
global:
  scrape_interval: 5s
scrape_configs:
  - job_name: exporter
    scheme: https
    tls_config:
      ca_file: ca.crt
      cert_file: client.crt
      key_file: client.key
    basic_auth:
      username: %s
      password_file: scrape-password
    static_configs:
      - targets: ['%s']
`, scrapeUser, d.exporterAddr)
	return os.WriteFile(d.file("prometheus.yml"), []byte(cfg), 0o600)
}

// newPassword writes a fresh random password to path (mode 0600) and returns
// its bcrypt hash, for basic_auth_users.
func newPassword(path string) (string, error) {
	password, err := randomPassword()
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(path, []byte(password), 0o600); err != nil {
		return "", err
	}
	hash, err := bcrypt.Hash([]byte(password), bcrypt.DefaultCost)
	if err != nil {
		return "", err
	}
	return string(hash), nil
}
