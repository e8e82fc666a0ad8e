// Command stdlib is the benchmarks' baseline server: net/http with a static
// crypto/tls config loaded once from the benchmark directory, and nothing
// else linked in.
package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"

	"github.com/webguard/webguard/web/testdata/benchserver/serverproc"
)

func main() {
	if err := run(os.Getenv(serverproc.EnvDir), os.Getenv(serverproc.EnvMode)); err != nil {
		fmt.Fprintln(os.Stderr, "stdlib bench server:", err)
		os.Exit(1)
	}
}

func run(dir, mode string) error {
	cert, err := tls.LoadX509KeyPair(filepath.Join(dir, "server.crt"), filepath.Join(dir, "server.key"))
	if err != nil {
		return err
	}
	tc := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if mode == "mtls" {
		pem, err := os.ReadFile(filepath.Join(dir, "ca.crt"))
		if err != nil {
			return err
		}
		tc.ClientCAs = x509.NewCertPool()
		tc.ClientCAs.AppendCertsFromPEM(pem)
		tc.ClientAuth = tls.RequireAndVerifyClientCert
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	server := &http.Server{Handler: serverproc.Handler(), TLSConfig: tc, ErrorLog: log.New(io.Discard, "", 0)}
	return serverproc.Run("stdlib", l, server, func() error { return server.ServeTLS(l, "", "") })
}
