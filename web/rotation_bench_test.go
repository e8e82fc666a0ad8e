package web_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
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
	stepRotations   = 3                      // each file written in steps, as an editor may
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
// each time, no resumption): every handshake that fails is counted. Last, in
// stepRotations rotations each file is written in place in three pieces a
// few milliseconds apart, as a slow writer or an editor may, with the same
// count. The stdlib baseline has no rotation to compare with. It runs once
// whatever b.N is.
func BenchmarkRotation(b *testing.B) {
	d := newBenchDir(b, modeTLS)
	reloads := &reloadClock{}
	g, err := web.New(web.Options{ConfigFile: filepath.Join(d.dir, "web.yml"), Logger: slog.New(reloads)})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { g.Close() })
	addr := serveRotating(b, g)
	tc := d.clientTLS()
	if _, err := handshake(addr, tc); err != nil {
		b.Fatal(err)
	}

	certs := make([]*pki.Cert, rotations+slowRotations+stepRotations)
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
	for _, c := range certs[rotations : rotations+slowRotations] {
		slowLat = append(slowLat, rotate(c, slowGap))
	}
	slowTotal, slowFailed, firstErr := p.stop()
	p = startProber(addr, tc)
	var stepLat []time.Duration
	for _, c := range certs[rotations+slowRotations:] {
		writeInSteps(b, crt, c.CertPEM)
		writeInSteps(b, key, c.KeyPEM)
		start := time.Now()
		want := c.Cert.SerialNumber.String()
		for {
			if got, err := handshake(addr, tc); err == nil && got == want {
				stepLat = append(stepLat, time.Since(start))
				break
			}
			if time.Since(start) > rotationTimeout {
				b.Fatalf("the new certificate was not served within %s of the write", rotationTimeout)
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	stepTotal, stepFailed, stepErr := p.stop()
	b.StopTimer()
	if stepErr != nil {
		b.Logf("first failed handshake during the writes in steps: %v", stepErr)
	}
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
	b.ReportMetric(ms(percentile(reloadLat[rotations:], 1)), "gap500-reload-max-ms")
	b.ReportMetric(float64(slowFailed), "gap500-failed-handshakes")
	b.ReportMetric(float64(slowTotal), "gap500-handshakes")
	b.ReportMetric(ms(percentile(stepLat, 1)), "steps-rotate-max-ms")
	b.ReportMetric(float64(stepFailed), "steps-failed-handshakes")
	b.ReportMetric(float64(stepTotal), "steps-handshakes")
}

// writeInSteps writes data over path in place in three pieces, 3 ms apart.
func writeInSteps(b *testing.B, path string, data []byte) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		b.Fatal(err)
	}
	for i := range 3 {
		piece := data[i*len(data)/3 : (i+1)*len(data)/3]
		if _, err := f.Write(piece); err != nil {
			b.Fatal(err)
		}
		if i < 2 {
			time.Sleep(3 * time.Millisecond)
		}
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkSymlinkSwap measures how soon a certificate directory swapped by
// re-pointing a symlink in the middle of the path (certs -> gen1 becomes
// certs -> gen2, web.yml naming certs/server.crt) is served: from the rename
// that swaps the link to the end of the first handshake presenting the new
// certificate, over swaps swaps, p50 and max, with a client handshaking
// continuously meanwhile (failed handshakes counted). It runs once whatever
// b.N is.
func BenchmarkSymlinkSwap(b *testing.B) {
	const swaps = 10
	d := newBenchDir(b, modeTLS)
	gens := make([]*pki.Cert, swaps+1)
	for i := range gens {
		c, err := d.ca.Server(pki.Request{Hosts: []string{"127.0.0.1"}})
		if err != nil {
			b.Fatal(err)
		}
		gen := filepath.Join(d.dir, fmt.Sprintf("gen%d", i))
		if err := os.Mkdir(gen, 0o700); err != nil {
			b.Fatal(err)
		}
		if err := c.WriteFiles(filepath.Join(gen, "server.crt"), filepath.Join(gen, "server.key")); err != nil {
			b.Fatal(err)
		}
		gens[i] = c
	}
	link := filepath.Join(d.dir, "certs")
	if err := os.Symlink("gen0", link); err != nil {
		b.Fatal(err)
	}
	yml := "tls_server_config:\n  cert_file: certs/server.crt\n  key_file: certs/server.key\n"
	if err := os.WriteFile(filepath.Join(d.dir, "web.yml"), []byte(yml), 0o600); err != nil {
		b.Fatal(err)
	}
	g, err := web.New(web.Options{ConfigFile: filepath.Join(d.dir, "web.yml")})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { g.Close() })
	addr := serveRotating(b, g)
	tc := d.clientTLS()
	if _, err := handshake(addr, tc); err != nil {
		b.Fatal(err)
	}

	b.ResetTimer()
	p := startProber(addr, tc)
	var lat []time.Duration
	for i := 1; i <= swaps; i++ {
		tmp := link + ".tmp"
		if err := os.Symlink(fmt.Sprintf("gen%d", i), tmp); err != nil {
			b.Fatal(err)
		}
		if err := os.Rename(tmp, link); err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		want := gens[i].Cert.SerialNumber.String()
		for {
			if got, err := handshake(addr, tc); err == nil && got == want {
				lat = append(lat, time.Since(start))
				break
			}
			if time.Since(start) > rotationTimeout {
				b.Fatalf("swap %d not served within %s", i, rotationTimeout)
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	total, failed, firstErr := p.stop()
	b.StopTimer()
	if firstErr != nil {
		b.Logf("first failed handshake: %v", firstErr)
	}
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	b.ReportMetric(ms(percentile(lat, 0.5)), "swap-p50-ms")
	b.ReportMetric(ms(percentile(lat, 1)), "swap-max-ms")
	b.ReportMetric(float64(failed), "failed-handshakes")
	b.ReportMetric(float64(total), "handshakes")
}

// serveRotating serves g on a new 127.0.0.1 listener until the benchmark
// ends and returns its address.
func serveRotating(b *testing.B, g *web.Guard) string {
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
	return l.Addr().String()
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
