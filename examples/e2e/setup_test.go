package e2e

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/webguard/webguard/bcrypt"
	"github.com/webguard/webguard/examples/exporter/exporter"
	"github.com/webguard/webguard/examples/server/scrape"
	"github.com/webguard/webguard/internal/pki"
)

// binDir holds the binaries the tests build, once per test run.
var (
	binDir   string
	binMu    sync.Mutex
	binBuilt = map[string]string{}
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "webguard-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// build compiles the main package pkg (e.g. "./cmd/webguard", relative to
// the module root) once per run and returns the binary's path.
func build(t *testing.T, pkg string) string {
	t.Helper()
	binMu.Lock()
	defer binMu.Unlock()
	if bin, ok := binBuilt[pkg]; ok {
		return bin
	}
	bin := filepath.Join(binDir, filepath.Base(pkg))
	cmd := exec.Command("go", "build", "-o", bin, pkg)
	cmd.Dir = "../.." // the module root, from examples/e2e
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, out)
	}
	binBuilt[pkg] = bin
	return bin
}

// lookPath finds a tool the test drives; CI installs them all, so a missing
// one fails the test rather than skipping it.
func lookPath(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s is needed by this test: %v", name, err)
	}
	return p
}

// writeFile writes content to dir/name (mode 0600) and returns the path.
func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// writeCert writes c as dir/name.crt and dir/name.key.
func writeCert(t *testing.T, dir, name string, c *pki.Cert) {
	t.Helper()
	if err := c.WriteFiles(filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")); err != nil {
		t.Fatal(err)
	}
}

// newCA makes a throwaway certificate authority.
func newCA(t *testing.T) *pki.Cert {
	t.Helper()
	ca, err := pki.NewCA(pki.Request{})
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

// serverCert and clientCert issue leaf certificates from ca.
func serverCert(t *testing.T, ca *pki.Cert, hosts ...string) *pki.Cert {
	t.Helper()
	c, err := ca.Server(pki.Request{Hosts: hosts})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func clientCert(t *testing.T, ca *pki.Cert, commonName string) *pki.Cert {
	t.Helper()
	c, err := ca.Client(pki.Request{CommonName: commonName})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// hash bcrypts password at cost.
func hash(t *testing.T, password string, cost int) string {
	t.Helper()
	h, err := bcrypt.Hash([]byte(password), cost)
	if err != nil {
		t.Fatal(err)
	}
	return string(h)
}

// listen opens a listener on a port of 127.0.0.1 the system picks.
func listen(t *testing.T) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// startExporter serves the example exporter under webYML ("" for plain
// HTTP) and returns its address.
func startExporter(t *testing.T, webYML string) (string, *exporter.Exporter) {
	t.Helper()
	exp, err := exporter.New(exporter.Options{WebConfigFile: webYML})
	if err != nil {
		t.Fatal(err)
	}
	l := listen(t)
	served := make(chan error, 1)
	go func() { served <- exp.Serve(l) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := exp.Shutdown(ctx); err != nil {
			t.Errorf("exporter shutdown: %v", err)
		}
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("exporter Serve returned %v, want http.ErrServerClosed", err)
		}
	})
	return l.Addr().String(), exp
}

// startServer serves the example server on l, scraping per promYML and
// protecting its UI per webYML ("" for plain HTTP).
func startServer(t *testing.T, l net.Listener, promYML, webYML string) *scrape.Server {
	t.Helper()
	srv, err := scrape.New(scrape.Options{ConfigFile: promYML, WebConfigFile: webYML})
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("server shutdown: %v", err)
		}
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("server Serve returned %v, want http.ErrServerClosed", err)
		}
	})
	return srv
}

// scraped waits (at most 20s) until every target of srv has been scraped
// once, and returns them by job name.
func scraped(t *testing.T, srv *scrape.Server) map[string]scrape.TargetStatus {
	t.Helper()
	for range 1000 {
		ts := srv.Targets()
		done := len(ts) > 0
		byJob := map[string]scrape.TargetStatus{}
		for _, st := range ts {
			done = done && st.Health != scrape.HealthUnknown
			byJob[st.Job] = st
		}
		if done {
			return byJob
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("targets not all scraped within 20s: %+v", srv.Targets())
	return nil
}

// client is an HTTPS client trusting roots, presenting cert if not nil.
func client(t *testing.T, roots *pki.Cert, cert *pki.Cert) *http.Client {
	t.Helper()
	cfg := &tls.Config{}
	if roots != nil {
		cfg.RootCAs = roots.Pool()
	}
	if cert != nil {
		cfg.Certificates = []tls.Certificate{cert.TLSCertificate()}
	}
	tr := &http.Transport{TLSClientConfig: cfg}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 20 * time.Second}
}

// get fetches url with basic auth when user is set, returning status and
// body, or the transport error.
func get(c *http.Client, url, user, password string) (int, string, error) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return 0, "", err
	}
	if user != "" {
		req.SetBasicAuth(user, password)
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), err
}

// process is a program the test started, with its stderr collected.
type process struct {
	cmd    *exec.Cmd
	mu     sync.Mutex
	stderr strings.Builder
	lines  chan string
	done   chan error
}

// startProcess runs bin with args; t.Cleanup stops it with SIGTERM (then
// SIGKILL after 10s) if it is still running.
func startProcess(t *testing.T, bin string, args ...string) *process {
	t.Helper()
	p := &process{cmd: exec.Command(bin, args...), lines: make(chan string, 1000), done: make(chan error, 1)}
	pipe, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	scanned := make(chan struct{})
	go func() {
		defer close(scanned)
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			p.mu.Lock()
			p.stderr.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
			select {
			case p.lines <- sc.Text():
			default:
			}
		}
	}()
	go func() {
		<-scanned // Wait must not run before the pipe is drained
		p.done <- p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done: // exited already
			return
		default:
		}
		p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			p.cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// log returns what the process wrote to stderr so far.
func (p *process) log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

// waitLine waits (at most 20s) for a stderr line matching re and returns its
// submatches.
func (p *process) waitLine(t *testing.T, re *regexp.Regexp) []string {
	t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case line := <-p.lines:
			if m := re.FindStringSubmatch(line); m != nil {
				return m
			}
		case err := <-p.done:
			t.Fatalf("%s exited (%v) before logging %q; stderr:\n%s", p.cmd.Path, err, re, p.log())
		case <-timeout:
			t.Fatalf("%s did not log %q within 20s; stderr:\n%s", p.cmd.Path, re, p.log())
		}
	}
}

// listeningRE matches web's "listening" log line and captures the address.
var listeningRE = regexp.MustCompile(`msg=listening address=(\S+)`)

// counter returns the value of the counter name{label=value} that g
// gathers, 0 if there is none.
func counter(t *testing.T, g prometheus.Gatherer, name, label, value string) float64 {
	t.Helper()
	families, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range families {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == label && l.GetValue() == value {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}
