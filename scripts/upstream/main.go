// Command upstream is the endpoint behind the proxies in scripts/bench-proxy.sh:
// it answers every request with the same 20 KB body, like a /metrics page,
// over plain HTTP on 127.0.0.1, and optionally also over TLS with a static
// crypto/tls config (the "direct" baseline, no proxy in between).
//
// It prints one line per listener, "plain ADDR" then "tls ADDR", and serves
// until it is signalled or --lifetime has passed.
package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"time"
)

const bodySize = 20 << 10

func main() {
	plain := flag.String("plain", "127.0.0.1:0", "`ADDR` for plain HTTP (the proxies' upstream)")
	tlsAddr := flag.String("tls", "", "`ADDR` for direct TLS, the baseline; empty: off")
	cert := flag.String("cert", "", "server certificate `FILE` for --tls")
	key := flag.String("key", "", "server key `FILE` for --tls")
	clientCA := flag.String("client-ca", "", "CA `FILE`; with it --tls requires and verifies client certificates")
	lifetime := flag.Duration("lifetime", 10*time.Minute, "exit after this long, in case nobody stops it")
	flag.Parse()
	time.AfterFunc(*lifetime, func() { os.Exit(0) })
	if err := run(*plain, *tlsAddr, *cert, *key, *clientCA); err != nil {
		fmt.Fprintln(os.Stderr, "upstream:", err)
		os.Exit(1)
	}
}

func run(plainAddr, tlsAddr, cert, key, clientCA string) error {
	var body bytes.Buffer
	for i := 0; body.Len() < bodySize; i++ {
		fmt.Fprintf(&body, "bench_metric_total{instance=\"127.0.0.1\",series=\"%06d\"} %d\n", i, i*7)
	}
	page := body.Bytes()[:bodySize]
	handler := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		w.Write(page)
	})
	errc := make(chan error, 2)

	l, err := net.Listen("tcp", plainAddr)
	if err != nil {
		return err
	}
	plain := &http.Server{Handler: handler, ErrorLog: log.New(io.Discard, "", 0)}
	go func() { errc <- plain.Serve(l) }()
	fmt.Println("plain", l.Addr())

	if tlsAddr != "" {
		pair, err := tls.LoadX509KeyPair(cert, key)
		if err != nil {
			return err
		}
		tc := &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}
		if clientCA != "" {
			pem, err := os.ReadFile(clientCA)
			if err != nil {
				return err
			}
			tc.ClientCAs = x509.NewCertPool()
			if !tc.ClientCAs.AppendCertsFromPEM(pem) {
				return fmt.Errorf("no certificate in %s", clientCA)
			}
			tc.ClientAuth = tls.RequireAndVerifyClientCert
		}
		tl, err := net.Listen("tcp", tlsAddr)
		if err != nil {
			return err
		}
		direct := &http.Server{Handler: handler, TLSConfig: tc, ErrorLog: log.New(io.Discard, "", 0)}
		go func() { errc <- direct.ServeTLS(tl, "", "") }()
		fmt.Println("tls", tl.Addr())
	}

	return <-errc
}
