// Command loadgen is the load generator of scripts/bench-proxy.sh: a few
// concurrent HTTP/1.1 clients fetching one URL on 127.0.0.1 for a bounded
// time and number of requests, then one line of results:
//
//	requests N errors E seconds S req/s R
//
// With --mode=handshake every request opens a new connection with a full
// TLS handshake (no session resumption); with --mode=keepalive each client
// keeps one connection. Every answer must be 200 with --size bytes, else it
// counts as an error. "loadgen ports N" prints N free TCP ports on 127.0.0.1.
package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	if len(os.Args) == 3 && os.Args[1] == "ports" {
		if err := ports(os.Args[2]); err != nil {
			fmt.Fprintln(os.Stderr, "loadgen:", err)
			os.Exit(1)
		}
		return
	}
	target := flag.String("url", "", "`URL` to fetch; its host must be 127.0.0.1")
	mode := flag.String("mode", "keepalive", "handshake (a new TLS connection per request) or keepalive")
	ca := flag.String("ca", "", "CA `FILE` to verify the server with")
	cert := flag.String("cert", "", "client certificate `FILE` (mTLS)")
	key := flag.String("key", "", "client key `FILE` (mTLS)")
	workers := flag.Int("workers", 4, "concurrent clients")
	duration := flag.Duration("duration", 3*time.Second, "how long to send requests (at most 60s)")
	maxRequests := flag.Int64("max", 1_000_000, "stop after this many requests")
	size := flag.Int64("size", 20<<10, "expected body size in bytes")
	x25519 := flag.Bool("x25519", true, "offer only X25519 key exchange, which every server here supports, rather than Go's default hybrid post-quantum share first")
	flag.Parse()
	if err := run(*target, *mode, *ca, *cert, *key, *workers, *duration, *maxRequests, *size, *x25519); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

func ports(arg string) error {
	n, err := strconv.Atoi(arg)
	if err != nil || n < 1 || n > 64 {
		return fmt.Errorf("ports: want a count from 1 to 64, got %q", arg)
	}
	var ls []net.Listener
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		ls = append(ls, l)
		fmt.Println(l.Addr().(*net.TCPAddr).Port)
	}
	for _, l := range ls {
		l.Close()
	}
	return nil
}

func run(target, mode, ca, cert, key string, workers int, duration time.Duration, maxRequests, size int64, x25519 bool) error {
	u, err := url.Parse(target)
	if err != nil {
		return err
	}
	if u.Hostname() != "127.0.0.1" {
		return fmt.Errorf("--url must point at 127.0.0.1, got %q", target)
	}
	if mode != "handshake" && mode != "keepalive" {
		return fmt.Errorf("--mode: want handshake or keepalive, got %q", mode)
	}
	if workers < 1 || workers > 256 || duration <= 0 || duration > time.Minute || maxRequests < 1 {
		return errors.New("--workers must be 1..256, --duration up to 60s, --max positive")
	}
	tc := &tls.Config{SessionTicketsDisabled: true}
	if x25519 {
		tc.CurvePreferences = []tls.CurveID{tls.X25519}
	}
	if ca != "" {
		pem, err := os.ReadFile(ca)
		if err != nil {
			return err
		}
		tc.RootCAs = x509.NewCertPool()
		if !tc.RootCAs.AppendCertsFromPEM(pem) {
			return fmt.Errorf("no certificate in %s", ca)
		}
	}
	if cert != "" {
		pair, err := tls.LoadX509KeyPair(cert, key)
		if err != nil {
			return err
		}
		tc.Certificates = []tls.Certificate{pair}
	}

	var requests, failures atomic.Int64
	var firstErr atomic.Value
	deadline := time.Now().Add(duration)
	start := time.Now()
	var wg sync.WaitGroup
	for range workers {
		client := &http.Client{
			Transport: &http.Transport{
				TLSClientConfig:     tc.Clone(),
				DisableKeepAlives:   mode == "handshake",
				MaxIdleConnsPerHost: 1,
			},
			Timeout: 10 * time.Second,
		}
		wg.Go(func() {
			defer client.CloseIdleConnections()
			for time.Now().Before(deadline) && requests.Add(1) <= maxRequests {
				if err := fetch(client, target, size); err != nil {
					failures.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	n := min(requests.Load(), maxRequests)
	ok := n - failures.Load()
	fmt.Printf("requests %d errors %d seconds %.3f req/s %.1f\n", n, failures.Load(), elapsed.Seconds(), float64(ok)/elapsed.Seconds())
	if e := firstErr.Load(); e != nil {
		fmt.Fprintln(os.Stderr, "loadgen: first error:", e)
	}
	return nil
}

func fetch(c *http.Client, target string, size int64) error {
	resp, err := c.Get(target)
	if err != nil {
		return err
	}
	n, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK || n != size {
		return fmt.Errorf("%s with %d bytes, want 200 with %d", resp.Status, n, size)
	}
	return nil
}
