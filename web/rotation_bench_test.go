package web_test

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/webguard/webguard/internal/pki"
	"github.com/webguard/webguard/web"
)

// Shape of BenchmarkRotation.
const (
	rotations       = 10                     // cert and key written back to back
	slowRotations   = 3                      // cert, then the key 500 ms later
	slowGap         = 500 * time.Millisecond // between the cert and the key write
	rotationTimeout = 5 * time.Second        // for the new certificate to be served
)

// BenchmarkRotation measures certificate rotation through the file watcher,
// in process: a Guard serves TLS from server.crt and server.key, and new
// pairs are written over them in place (os.WriteFile, as cp or an editor
// would). Latency is from the end of the write that makes the pair
// consistent (the key, written right after the certificate) to the end of
// the first handshake that presents the new certificate; the benchmark
// handshakes in a loop to find it. Over rotations rotations it reports p50
// and max. Then, in slowRotations rotations the key is written 500 ms after
// the certificate while a client handshakes continuously (a new connection
// each time, no resumption): every handshake that fails is counted. The
// stdlib baseline has no rotation to compare with. It runs once whatever b.N
// is.
func BenchmarkRotation(b *testing.B) {
	d := newBenchDir(b, modeTLS)
	reloads := &reloadClock{}
	g, err := web.New(web.Options{ConfigFile: filepath.Join(d.dir, "web.yml"), Logger: slog.New(reloads)})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { g.Close() })
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	server := &http.Server{Handler: http.HandlerFunc(benchHandler)}
	served := make(chan error, 1)
	go func() { served <- g.Serve(l, server) }()
	b.Cleanup(func() {
		server.Close()
		<-served
	})
	addr := l.Addr().String()
	tc := d.clientTLS()
	if _, err := handshake(addr, tc); err != nil {
		b.Fatal(err)
	}

	certs := make([]*pki.Cert, rotations+slowRotations)
	for i := range certs {
		if certs[i], err = d.ca.Server(pki.Request{Hosts: []string{"127.0.0.1"}}); err != nil {
			b.Fatal(err)
		}
	}
	crt, key := filepath.Join(d.dir, "server.crt"), filepath.Join(d.dir, "server.key")
	var reloadLat []time.Duration
	// rotate writes c, the key after gap, and returns how long after the key
	// write the first handshake served c.
	rotate := func(c *pki.Cert, gap time.Duration) time.Duration {
		if err := c.WriteFiles(crt, ""); err != nil {
			b.Fatal(err)
		}
		time.Sleep(gap)
		if err := c.WriteFiles("", key); err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		want := c.Cert.SerialNumber.String()
		for time.Since(start) < rotationTimeout {
			if got, err := handshake(addr, tc); err == nil && got == want {
				served := time.Since(start)
				reloadLat = append(reloadLat, reloads.since(start))
				return served
			}
		}
		b.Fatalf("the new certificate was not served within %s of the write", rotationTimeout)
		return 0
	}

	// What one change costs: reading and compiling the files, by hand.
	var reloadCost []time.Duration
	for range 5 {
		start := time.Now()
		if err := g.Reload(); err != nil {
			b.Fatal(err)
		}
		reloadCost = append(reloadCost, time.Since(start))
	}

	b.ResetTimer()
	lat := make([]time.Duration, 0, rotations)
	p := startProber(addr, tc)
	for _, c := range certs[:rotations] {
		lat = append(lat, rotate(c, 0))
		time.Sleep(50 * time.Millisecond)
	}
	fastTotal, fastFailed, _ := p.stop()
	p = startProber(addr, tc)
	var slowLat []time.Duration
	for _, c := range certs[rotations:] {
		slowLat = append(slowLat, rotate(c, slowGap))
	}
	slowTotal, slowFailed, firstErr := p.stop()
	b.StopTimer()
	if firstErr != nil {
		b.Logf("first failed handshake during the 500 ms writes: %v", firstErr)
	}
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	b.ReportMetric(ms(percentile(lat, 0.5)), "rotate-p50-ms")
	b.ReportMetric(ms(percentile(lat, 1)), "rotate-max-ms")
	b.ReportMetric(ms(percentile(reloadLat[:rotations], 0.5)), "reload-p50-ms")
	b.ReportMetric(ms(percentile(reloadCost, 0.5)), "explicit-reload-ms")
	b.ReportMetric(float64(fastFailed), "failed-handshakes")
	b.ReportMetric(float64(fastTotal), "handshakes")
	b.ReportMetric(ms(percentile(slowLat, 1)), "gap500-rotate-max-ms")
	b.ReportMetric(float64(slowFailed), "gap500-failed-handshakes")
	b.ReportMetric(float64(slowTotal), "gap500-handshakes")
}

// reloadClock is a slog.Handler that keeps the time of the Guard's last
// successful reload, so that the benchmark can tell the watcher's share of
// the rotation latency from the handshake's.
type reloadClock struct {
	last atomic.Int64 // UnixNano
}

func (c *reloadClock) Enabled(context.Context, slog.Level) bool { return true }
func (c *reloadClock) WithAttrs([]slog.Attr) slog.Handler       { return c }
func (c *reloadClock) WithGroup(string) slog.Handler            { return c }

func (c *reloadClock) Handle(_ context.Context, r slog.Record) error {
	if r.Message == "web config reloaded" {
		c.last.Store(time.Now().UnixNano())
	}
	return nil
}

// since returns how long after start the last reload happened, or -1 when
// none was logged since (the log message may have changed).
func (c *reloadClock) since(start time.Time) time.Duration {
	d := time.Duration(c.last.Load() - start.UnixNano())
	if d < 0 {
		return -1
	}
	return d
}

// handshake makes one TLS connection to addr and returns the serial number
// of the certificate the server presented.
func handshake(addr string, tc *tls.Config) (string, error) {
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 2 * time.Second}, "tcp", addr, tc)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	certs := conn.ConnectionState().PeerCertificates
	if len(certs) == 0 {
		return "", errors.New("no server certificate")
	}
	return certs[0].SerialNumber.String(), nil
}

// prober handshakes with a server in a loop, counting failures.
type prober struct {
	total, failed atomic.Int64
	mu            sync.Mutex
	first         error
	done          chan struct{}
	wg            sync.WaitGroup
}

func startProber(addr string, tc *tls.Config) *prober {
	p := &prober{done: make(chan struct{})}
	p.wg.Go(func() {
		for {
			select {
			case <-p.done:
				return
			default:
			}
			p.total.Add(1)
			if _, err := handshake(addr, tc); err != nil {
				p.failed.Add(1)
				p.mu.Lock()
				p.first = firstError(p.first, err)
				p.mu.Unlock()
			}
		}
	})
	return p
}

// stop ends probing and returns the handshakes made, those that failed and
// the first error.
func (p *prober) stop() (total, failed int64, first error) {
	close(p.done)
	p.wg.Wait()
	return p.total.Load(), p.failed.Load(), p.first
}
