package web_test

// Benchmarks of webguard against the stdlib baseline: net/http with a static
// *tls.Config, serving the same 20 KB body. docs/performance.md has the
// figures and the commands that reproduce them.
//
// The network benchmarks run each server in a process of its own, so that
// what a server costs is measured apart from the client that loads it: the
// server process reports its own CPU time (getrusage RUSAGE_SELF, user +
// system), its allocation count (runtime.MemStats.Mallocs) and its peak
// resident set size (VmHWM) between rounds. The two servers are separate
// programs (testdata/benchserver/stdlib and .../webguard, built by
// newBenchDir): the baseline links only net/http and crypto/tls, as a
// program written by hand would, so its memory is not inflated by what
// webguard links and initialises. Baseline and webguard run in the same
// benchmark, in alternating rounds (ABBA order), and the ratios reported are
// medians over the rounds. No benchmark asserts a
// time: they measure and report.

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/webguard/webguard/bcrypt"
	"github.com/webguard/webguard/internal/pki"
	"github.com/webguard/webguard/web"
	"github.com/webguard/webguard/web/testdata/benchserver/serverproc"
)

// The two servers compared.
const (
	kindStdlib   = "stdlib"
	kindWebguard = "webguard"
)

const (
	// bodySize is the size of the response body, a typical /metrics page.
	bodySize      = serverproc.BodySize
	benchUser     = "prometheus"
	benchPassword = "correct horse battery staple"
)

// benchMode is what the servers ask of clients.
type benchMode string

const (
	modeTLS  benchMode = "tls"  // TLS, no client certificate, no password
	modeMTLS benchMode = "mtls" // RequireAndVerifyClientCert
	modeAuth benchMode = "auth" // TLS and basic auth (the baseline has no auth)
)

// benchBody is what both servers answer: 20 KB shaped like a metrics page.
var benchBody = serverproc.Body()

func benchHandler(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	w.Write(benchBody)
}

// benchDir is a directory holding a PKI and a web.yml for one mode, and the
// two server programs.
type benchDir struct {
	dir    string
	mode   benchMode
	ca     *pki.Cert
	client *pki.Cert
	bins   map[string]string // server kind → program
}

// newBenchDir writes ca.crt, server.crt, server.key and web.yml for mode,
// and builds the server programs into the same directory.
func newBenchDir(b testing.TB, mode benchMode) *benchDir {
	b.Helper()
	d := &benchDir{dir: b.TempDir(), mode: mode, bins: map[string]string{}}
	for _, kind := range []string{kindStdlib, kindWebguard} {
		d.bins[kind] = filepath.Join(d.dir, kind)
		out, err := exec.Command("go", "build", "-o", d.bins[kind], "./testdata/benchserver/"+kind).CombinedOutput()
		if err != nil {
			b.Fatalf("build the %s server: %v\n%s", kind, err, out)
		}
	}
	var err error
	if d.ca, err = pki.NewCA(pki.Request{}); err != nil {
		b.Fatal(err)
	}
	server, err := d.ca.Server(pki.Request{Hosts: []string{"127.0.0.1"}})
	if err != nil {
		b.Fatal(err)
	}
	if d.client, err = d.ca.Client(pki.Request{CommonName: "scraper", Hosts: []string{"scraper.example"}}); err != nil {
		b.Fatal(err)
	}
	if err := d.ca.WriteFiles(filepath.Join(d.dir, "ca.crt"), ""); err != nil {
		b.Fatal(err)
	}
	if err := server.WriteFiles(filepath.Join(d.dir, "server.crt"), filepath.Join(d.dir, "server.key")); err != nil {
		b.Fatal(err)
	}
	yml := "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"
	switch mode {
	case modeMTLS:
		yml += "  client_ca_file: ca.crt\n  client_auth_type: RequireAndVerifyClientCert\n"
	case modeAuth:
		hash, err := bcrypt.Hash([]byte(benchPassword), bcrypt.DefaultCost)
		if err != nil {
			b.Fatal(err)
		}
		yml += "basic_auth_users:\n  " + benchUser + ": " + string(hash) + "\n"
	}
	if err := os.WriteFile(filepath.Join(d.dir, "web.yml"), []byte(yml), 0o600); err != nil {
		b.Fatal(err)
	}
	return d
}

// clientTLS is what a scraper uses: the CA as root, the client certificate
// in mTLS mode, no session resumption (every new connection is a full
// handshake).
func (d *benchDir) clientTLS() *tls.Config {
	tc := &tls.Config{RootCAs: d.ca.Pool(), SessionTicketsDisabled: true}
	if d.mode == modeMTLS {
		tc.Certificates = []tls.Certificate{d.client.TLSCertificate()}
	}
	return tc
}

// benchServer is a running server process.
type benchServer struct {
	kind   string
	url    string
	addr   string
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stdout *bufio.Reader
	stderr bytes.Buffer
	once   sync.Once
}

// serverStats is what a server process reports about itself.
type serverStats struct {
	cpu     time.Duration // user + system CPU time since start
	mallocs uint64
	hwmKB   int64 // peak resident set size
	rssKB   int64
}

// startBenchServer runs a server process of kind for the files in d; it is
// stopped at cleanup.
func startBenchServer(b testing.TB, kind string, d *benchDir) *benchServer {
	b.Helper()
	s := &benchServer{kind: kind}
	s.cmd = exec.Command(d.bins[kind])
	s.cmd.Env = append(os.Environ(), serverproc.EnvDir+"="+d.dir, serverproc.EnvMode+"="+string(d.mode))
	s.cmd.Stderr = &s.stderr
	var err error
	if s.stdin, err = s.cmd.StdinPipe(); err != nil {
		b.Fatal(err)
	}
	out, err := s.cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	s.stdout = bufio.NewReader(out)
	if err := s.cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(s.stop)
	line, err := s.stdout.ReadString('\n')
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "addr ")
	if err != nil || !ok {
		s.stop()
		b.Fatalf("%s server process did not start: %v %q\n%s", kind, err, line, s.stderr.String())
	}
	s.addr = addr
	s.url = "https://" + addr + "/metrics"
	return s
}

func (s *benchServer) stop() {
	s.once.Do(func() {
		s.stdin.Close()
		done := make(chan struct{})
		go func() { s.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			s.cmd.Process.Kill()
			<-done
		}
	})
}

func (s *benchServer) stats(b testing.TB) serverStats {
	b.Helper()
	if _, err := io.WriteString(s.stdin, "stats\n"); err != nil {
		b.Fatalf("%s server process: %v\n%s", s.kind, err, s.stderr.String())
	}
	line, err := s.stdout.ReadString('\n')
	if err != nil {
		b.Fatalf("%s server process: %v\n%s", s.kind, err, s.stderr.String())
	}
	var st serverStats
	var cpu int64
	if _, err := fmt.Sscanf(line, "stats %d %d %d %d", &cpu, &st.mallocs, &st.hwmKB, &st.rssKB); err != nil {
		b.Fatalf("%s server process: %q: %v", s.kind, line, err)
	}
	st.cpu = time.Duration(cpu)
	return st
}

// newClients returns n HTTP/1.1 clients, each with a transport of its own
// (so each worker holds at most one connection).
func newClients(n int, tc *tls.Config, keepAlive bool) []*http.Client {
	cs := make([]*http.Client, n)
	for i := range cs {
		cs[i] = &http.Client{
			Transport: &http.Transport{
				TLSClientConfig:     tc.Clone(),
				DisableKeepAlives:   !keepAlive,
				MaxIdleConnsPerHost: 1,
			},
			Timeout: 10 * time.Second,
		}
	}
	return cs
}

func closeClients(cs []*http.Client) {
	for _, c := range cs {
		c.CloseIdleConnections()
	}
}

// get fetches url, with the bench user's password when auth, and checks the
// answer is the 20 KB body.
func get(c *http.Client, url string, auth bool) error {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	if auth {
		req.SetBasicAuth(benchUser, benchPassword)
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	n, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	switch {
	case err != nil:
		return err
	case resp.StatusCode != http.StatusOK || n != bodySize:
		return fmt.Errorf("GET %s: %s with %d bytes, want 200 with %d", url, resp.Status, n, bodySize)
	}
	return nil
}

// load sends n requests to url, spread over the clients (one worker each),
// and returns how long they took.
func load(clients []*http.Client, url string, auth bool, n int) (time.Duration, error) {
	var next atomic.Int64
	var mu sync.Mutex
	var first error
	var wg sync.WaitGroup
	start := time.Now()
	for _, c := range clients {
		wg.Go(func() {
			for next.Add(1) <= int64(n) {
				if err := get(c, url, auth); err != nil {
					mu.Lock()
					first = firstError(first, err)
					mu.Unlock()
					return
				}
			}
		})
	}
	wg.Wait()
	return time.Since(start), first
}

// firstError returns a, or b when a is nil.
func firstError(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// side is one server of a comparison with its clients and what was measured.
type side struct {
	srv     *benchServer
	clients []*http.Client
	rps     []float64 // per round
	cpu     []float64 // server CPU ns per request, per round
	reqs    int
	mallocs uint64
}

func (s *side) round(b *testing.B, auth bool, n int) {
	b.Helper()
	before := s.srv.stats(b)
	elapsed, err := load(s.clients, s.srv.url, auth, n)
	if err != nil {
		b.Fatalf("%s: %v", s.srv.kind, err)
	}
	after := s.srv.stats(b)
	s.rps = append(s.rps, float64(n)/elapsed.Seconds())
	s.cpu = append(s.cpu, float64(after.cpu-before.cpu)/float64(n))
	s.reqs += n
	s.mallocs += after.mallocs - before.mallocs
}

// compareRounds is how many rounds each server runs (alternating); the
// ratios reported are the medians of the rounds' ratios.
const compareRounds = 5

// benchCompare loads the stdlib and the webguard server of mode in
// alternating rounds with workers concurrent clients and reports for each
// its requests per second, server CPU per request and server allocations per
// request, and webguard's ratios to the stdlib.
func benchCompare(b *testing.B, mode benchMode, keepAlive bool, workers int) {
	d := newBenchDir(b, mode)
	auth := mode == modeAuth
	sides := []*side{
		{srv: startBenchServer(b, kindStdlib, d)},
		{srv: startBenchServer(b, kindWebguard, d)},
	}
	for _, s := range sides {
		s.clients = newClients(workers, d.clientTLS(), keepAlive)
		b.Cleanup(func() { closeClients(s.clients) })
		// Warm up both processes (and, with keep-alives, open the connections).
		if _, err := load(s.clients, s.srv.url, auth, 4*workers); err != nil {
			b.Fatalf("%s: %v", s.srv.kind, err)
		}
	}
	n := max(1, (b.N+compareRounds-1)/compareRounds)
	b.ResetTimer()
	for r := range compareRounds {
		if r%2 == 0 {
			sides[0].round(b, auth, n)
			sides[1].round(b, auth, n)
		} else {
			sides[1].round(b, auth, n)
			sides[0].round(b, auth, n)
		}
	}
	b.StopTimer()
	base, wg := sides[0], sides[1]
	rpsRatio := make([]float64, compareRounds)
	cpuRatio := make([]float64, compareRounds)
	for r := range compareRounds {
		rpsRatio[r] = wg.rps[r] / base.rps[r]
		cpuRatio[r] = wg.cpu[r] / base.cpu[r]
	}
	b.ReportMetric(median(base.rps), "stdlib-req/s")
	b.ReportMetric(median(wg.rps), "webguard-req/s")
	b.ReportMetric(median(rpsRatio), "ratio-req/s")
	b.ReportMetric(median(base.cpu)/1e3, "stdlib-srv-cpu-us/req")
	b.ReportMetric(median(wg.cpu)/1e3, "webguard-srv-cpu-us/req")
	b.ReportMetric(median(cpuRatio), "ratio-srv-cpu")
	baseAllocs := float64(base.mallocs) / float64(base.reqs)
	wgAllocs := float64(wg.mallocs) / float64(wg.reqs)
	b.ReportMetric(baseAllocs, "stdlib-srv-allocs/req")
	b.ReportMetric(wgAllocs, "webguard-srv-allocs/req")
	b.ReportMetric(wgAllocs-baseAllocs, "delta-srv-allocs/req")
	reportPeakRSS(b, base.srv.stats(b), wg.srv.stats(b))
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// BenchmarkHandshake makes a new connection, with a full TLS 1.3 handshake
// (ECDSA P-256 server certificate, no resumption), for every request, with 4
// concurrent clients: "tls" without and "mtls" with a client certificate
// (RequireAndVerifyClientCert). b.N requests per server.
func BenchmarkHandshake(b *testing.B) {
	for _, mode := range []benchMode{modeTLS, modeMTLS} {
		b.Run(string(mode), func(b *testing.B) { benchCompare(b, mode, false, 4) })
	}
}

// BenchmarkKeepAlive sends requests over 4 kept-alive TLS connections:
// "auth" with basic auth (webguard checks the password, answered from its
// cache after the first request; the baseline has no auth) and "noauth"
// without. b.N requests per server.
func BenchmarkKeepAlive(b *testing.B) {
	for _, name := range []string{"auth", "noauth"} {
		mode := modeAuth
		if name == "noauth" {
			mode = modeTLS
		}
		b.Run(name, func(b *testing.B) { benchCompare(b, mode, true, 4) })
	}
}

// BenchmarkMiddleware measures Guard.Handler alone, in process, against the
// bare handler it wraps, both serving the 20 KB body into an
// httptest.ResponseRecorder: "auth" on the cached-password path, "noauth"
// with an empty config. Batches alternate between the two; the reported
// overhead is the median over batch pairs. One op is one request to each.
func BenchmarkMiddleware(b *testing.B) {
	for _, auth := range []bool{true, false} {
		name := "noauth"
		if auth {
			name = "auth"
		}
		b.Run(name, func(b *testing.B) { benchMiddleware(b, auth) })
	}
}

func benchMiddleware(b *testing.B, auth bool) {
	opts := web.Options{}
	if auth {
		hash, err := bcrypt.Hash([]byte(benchPassword), bcrypt.DefaultCost)
		if err != nil {
			b.Fatal(err)
		}
		opts.ConfigFile = filepath.Join(b.TempDir(), "web.yml")
		yml := "basic_auth_users:\n  " + benchUser + ": " + string(hash) + "\n"
		if err := os.WriteFile(opts.ConfigFile, []byte(yml), 0o600); err != nil {
			b.Fatal(err)
		}
	}
	g, err := web.New(opts)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { g.Close() })
	bare := http.HandlerFunc(benchHandler)
	handlers := []http.Handler{bare, g.Handler(bare)}
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	if auth {
		req.SetBasicAuth(benchUser, benchPassword)
	}
	for _, h := range handlers {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req) // the first one fills the password cache
		if rec.Code != http.StatusOK || rec.Body.Len() != bodySize {
			b.Fatalf("got %d with %d bytes, want 200 with %d", rec.Code, rec.Body.Len(), bodySize)
		}
	}

	const pairs = 10
	per := max(1, (b.N+pairs-1)/pairs)
	var ns [2][]float64
	var mallocs [2]uint64
	var ms runtime.MemStats
	b.ReportAllocs()
	b.ResetTimer()
	for p := range pairs {
		for i := range 2 {
			h := handlers[(i+p)%2] // ABBA order
			which := (i + p) % 2
			runtime.ReadMemStats(&ms)
			m0 := ms.Mallocs
			start := time.Now()
			for range per {
				h.ServeHTTP(httptest.NewRecorder(), req)
			}
			elapsed := time.Since(start)
			runtime.ReadMemStats(&ms)
			ns[which] = append(ns[which], float64(elapsed.Nanoseconds())/float64(per))
			mallocs[which] += ms.Mallocs - m0
		}
	}
	b.StopTimer()
	overhead := make([]float64, pairs)
	for p := range pairs {
		overhead[p] = ns[1][p] - ns[0][p]
	}
	b.ReportMetric(median(ns[0]), "bare-ns/req")
	b.ReportMetric(median(ns[1]), "guard-ns/req")
	b.ReportMetric(median(overhead), "overhead-ns/req")
	b.ReportMetric(float64(mallocs[1])/float64(per*pairs)-float64(mallocs[0])/float64(per*pairs), "overhead-allocs/req")
}
