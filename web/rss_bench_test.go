package web_test

import (
	"bufio"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Shape of BenchmarkIdleConnRSS.
const (
	idleConns   = 1000
	idleDialers = 8
	idleRounds  = 3
)

// BenchmarkIdleConnRSS measures the peak resident set size (VmHWM in
// /proc/PID/status) of a server process holding idleConns idle keep-alive
// TLS connections, each of which has made one request with basic auth
// (webguard: bcrypt cost 10, cached; the baseline ignores the header). Each
// measurement uses a fresh process; rounds alternate between the stdlib and
// webguard, and the medians are reported. It runs once whatever b.N is.
func BenchmarkIdleConnRSS(b *testing.B) {
	d := newBenchDir(b, modeAuth)
	var hwm [2][]float64
	var idle [2][]float64
	b.ResetTimer()
	for r := range idleRounds {
		for i := range 2 {
			which := (i + r) % 2
			kind := []string{kindStdlib, kindWebguard}[which]
			before, after := idleRSS(b, kind, d)
			hwm[which] = append(hwm[which], float64(after.hwmKB)/1024)
			idle[which] = append(idle[which], float64(before.hwmKB)/1024)
		}
	}
	b.StopTimer()
	b.ReportMetric(median(idle[0]), "stdlib-start-MB")
	b.ReportMetric(median(idle[1]), "webguard-start-MB")
	b.ReportMetric(median(hwm[0]), "stdlib-peak-MB")
	b.ReportMetric(median(hwm[1]), "webguard-peak-MB")
	b.ReportMetric(median(hwm[1])/median(hwm[0]), "ratio-peak")
}

// idleRSS starts a server process of kind, reads its stats, opens idleConns
// connections and reads them again once all are idle.
func idleRSS(b *testing.B, kind string, d *benchDir) (before, after serverStats) {
	srv := startBenchServer(b, kind, d)
	defer srv.stop()
	before = srv.stats(b)
	tc := d.clientTLS()
	conns := make([]net.Conn, idleConns)
	defer func() {
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
	}()
	req := fmt.Sprintf("GET /metrics HTTP/1.1\r\nHost: %s\r\nAuthorization: Basic %s\r\n\r\n",
		srv.addr, base64.StdEncoding.EncodeToString([]byte(benchUser+":"+benchPassword)))
	var next atomic.Int64
	var mu sync.Mutex
	var first error
	var wg sync.WaitGroup
	for range idleDialers {
		wg.Go(func() {
			for i := next.Add(1) - 1; i < idleConns; i = next.Add(1) - 1 {
				c, err := idleConn(srv.addr, tc, req)
				if err != nil {
					mu.Lock()
					first = firstError(first, err)
					mu.Unlock()
					return
				}
				conns[i] = c
			}
		})
	}
	wg.Wait()
	if first != nil {
		b.Fatalf("%s: %v", kind, first)
	}
	time.Sleep(200 * time.Millisecond) // let the server's connection goroutines go idle
	after = srv.stats(b)
	return before, after
}

// idleConn opens a TLS connection, makes one request on it and returns it
// open and idle.
func idleConn(addr string, tc *tls.Config, req string) (net.Conn, error) {
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, tc)
	if err != nil {
		return nil, err
	}
	if _, err := io.WriteString(c, req); err != nil {
		c.Close()
		return nil, err
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		c.Close()
		return nil, err
	}
	n, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || n != bodySize {
		c.Close()
		return nil, fmt.Errorf("%s with %d bytes (%v), want 200 with %d", resp.Status, n, err, bodySize)
	}
	return c, nil
}

// reportPeakRSS reports the peak resident set size (VmHWM) of the baseline
// and the webguard server processes of one comparison, which served the same
// load from a fresh start, and their ratio.
func reportPeakRSS(b *testing.B, base, wg serverStats) {
	b.ReportMetric(float64(base.hwmKB)/1024, "stdlib-peak-MB")
	b.ReportMetric(float64(wg.hwmKB)/1024, "webguard-peak-MB")
	b.ReportMetric(float64(wg.hwmKB)/float64(base.hwmKB), "ratio-peak-rss")
}
