package web

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/webguard/webguard/bcrypt"
	"github.com/webguard/webguard/config"
	"github.com/webguard/webguard/internal/pki"
)

// The reload tests serve a Guard on a real listener, change its files on
// disk the ways operators and tools do, and check with real clients what is
// served. They wait for a change to be served (watchEventually), never for a
// fixed time.

// reloadWatch settles fast and leaves polling out of tests of events.
var reloadWatch = watchOptions{debounce: 20 * time.Millisecond, pollEvery: time.Hour}

// reloadLog is a slog.Handler that keeps every record, for checking what
// was logged.
type reloadLog struct {
	mu   sync.Mutex
	recs []reloadLogRecord
}

type reloadLogRecord struct {
	level slog.Level
	msg   string
	attrs map[string]string
}

func (r *reloadLog) Enabled(context.Context, slog.Level) bool { return true }
func (r *reloadLog) WithAttrs([]slog.Attr) slog.Handler       { return r }
func (r *reloadLog) WithGroup(string) slog.Handler            { return r }

func (r *reloadLog) Handle(_ context.Context, rec slog.Record) error {
	lr := reloadLogRecord{level: rec.Level, msg: rec.Message, attrs: map[string]string{}}
	rec.Attrs(func(a slog.Attr) bool {
		lr.attrs[a.Key] = a.Value.String()
		return true
	})
	r.mu.Lock()
	defer r.mu.Unlock()
	r.recs = append(r.recs, lr)
	return nil
}

// find returns the records whose message contains msg.
func (r *reloadLog) find(msg string) []reloadLogRecord {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []reloadLogRecord
	for _, rec := range r.recs {
		if strings.Contains(rec.msg, msg) {
			out = append(out, rec)
		}
	}
	return out
}

// reloadEnv is a directory of config files, the PKI that made them, and a
// Guard serving them.
type reloadEnv struct {
	t       *testing.T
	dir     string
	cfgPath string
	ca      *pki.Cert
	server  *pki.Cert // the server certificate New loaded
	g       *Guard
	logs    *reloadLog
	addr    string
	tls     bool
}

// newReloadEnv writes a PKI (server.crt, server.key, ca.crt for a client CA)
// and web.yml holding cfg into a new directory.
func newReloadEnv(t *testing.T, cfg string) *reloadEnv {
	t.Helper()
	e := &reloadEnv{t: t, dir: t.TempDir()}
	e.cfgPath = filepath.Join(e.dir, "web.yml")
	var err error
	if e.ca, err = pki.NewCA(pki.Request{}); err != nil {
		t.Fatal(err)
	}
	e.server = e.newServerCert()
	if err := e.server.WriteFiles(filepath.Join(e.dir, "server.crt"), filepath.Join(e.dir, "server.key")); err != nil {
		t.Fatal(err)
	}
	if err := e.ca.WriteFiles(filepath.Join(e.dir, "ca.crt"), ""); err != nil {
		t.Fatal(err)
	}
	watchWrite(t, e.cfgPath, cfg)
	return e
}

func (e *reloadEnv) newServerCert() *pki.Cert {
	c, err := e.ca.Server(pki.Request{Hosts: []string{"127.0.0.1"}})
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

func (e *reloadEnv) newClientCert(ca *pki.Cert, san string) *pki.Cert {
	c, err := ca.Client(pki.Request{Hosts: []string{san}})
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

// serve starts a Guard on the config and serves it on 127.0.0.1 until the
// test ends. It returns once the watcher is in place, so that every later
// change is one the watcher must see.
func (e *reloadEnv) serve(opts watchOptions) {
	t := e.t
	t.Helper()
	e.logs = &reloadLog{}
	g, err := New(Options{ConfigFile: e.cfgPath, Logger: slog.New(e.logs)})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	g.watchOpts = opts
	e.g, e.tls = g, g.tlsOn
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.addr = l.Addr().String()
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, "ok")
	})}
	served := make(chan error, 1)
	go func() { served <- g.Serve(l, srv) }()
	t.Cleanup(func() {
		srv.Close()
		select {
		case <-served:
		case <-time.After(watchWait):
			t.Error("Serve did not return after Close")
		}
		g.Close()
	})
	watchEventually(t, "the Guard to start watching", func() bool {
		g.mu.Lock()
		defer g.mu.Unlock()
		return g.watch != nil
	})
}

// writeConfig replaces web.yml atomically, as configuration management does.
func (e *reloadEnv) writeConfig(cfg string) { watchReplace(e.t, e.cfgPath, cfg) }

// reloadClient describes one request.
type reloadClient struct {
	cert       *pki.Cert // client certificate, if any
	user, pass string    // basic auth, if user is set
	maxVersion uint16
}

// get makes one request on a new connection.
func (e *reloadEnv) get(c reloadClient) (*http.Response, error) {
	tc := &tls.Config{RootCAs: e.ca.Pool(), MaxVersion: c.maxVersion}
	if c.cert != nil {
		tc.Certificates = []tls.Certificate{c.cert.TLSCertificate()}
	}
	tr := &http.Transport{TLSClientConfig: tc, DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	scheme := "http"
	if e.tls {
		scheme = "https"
	}
	req, err := http.NewRequest(http.MethodGet, scheme+"://"+e.addr+"/", nil)
	if err != nil {
		return nil, err
	}
	if c.user != "" {
		req.SetBasicAuth(c.user, c.pass)
	}
	resp, err := (&http.Client{Transport: tr, Timeout: watchWait}).Do(req)
	if err != nil {
		return nil, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp, nil
}

// status is the status of one request, or 0 when the connection or
// handshake failed.
func (e *reloadEnv) status(c reloadClient) int {
	resp, err := e.get(c)
	if err != nil {
		return 0
	}
	return resp.StatusCode
}

// header returns a response header of one request, "" on failure.
func (e *reloadEnv) header(c reloadClient, name string) string {
	resp, err := e.get(c)
	if err != nil {
		return ""
	}
	return resp.Header.Get(name)
}

// servedSerial is the serial number of the certificate the server presents.
func (e *reloadEnv) servedSerial() string {
	conn, err := tls.Dial("tcp", e.addr, &tls.Config{RootCAs: e.ca.Pool()})
	if err != nil {
		return ""
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].SerialNumber.String()
}

// metric returns the value of the Guard's metric name with the given label
// pairs, failing the test when there is none.
func (e *reloadEnv) metric(name string, labels ...string) float64 {
	e.t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(e.g.Collector())
	mfs, err := reg.Gather()
	if err != nil {
		e.t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metrics:
		for _, m := range mf.GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				found := false
				for _, lp := range m.GetLabel() {
					found = found || (lp.GetName() == labels[i] && lp.GetValue() == labels[i+1])
				}
				if !found {
					continue metrics
				}
			}
			switch {
			case m.GetGauge() != nil:
				return m.GetGauge().GetValue()
			case m.GetCounter() != nil:
				return m.GetCounter().GetValue()
			}
		}
	}
	e.t.Fatalf("no metric %s%v", name, labels)
	return 0
}

func (e *reloadEnv) reloads(outcome string) float64 {
	return e.metric("webguard_config_reloads_total", "outcome", outcome)
}

// waitReload waits until the reload counter for outcome passes before.
func (e *reloadEnv) waitReload(outcome string, before float64) {
	e.t.Helper()
	watchEventually(e.t, "a reload with outcome "+outcome, func() bool { return e.reloads(outcome) > before })
}

func reloadHash(t *testing.T, password string) string {
	t.Helper()
	h, err := bcrypt.Hash([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return string(h)
}

// tlsConfig is the tls_server_config section for the env's files.
const reloadTLS = `tls_server_config:
  cert_file: server.crt
  key_file: server.key
`

const reloadMTLS = reloadTLS + `  client_ca_file: ca.crt
  client_auth_type: RequireAndVerifyClientCert
`

// TestHotReloadCertificate replaces the server certificate and key the ways
// they get replaced in practice, and waits for new handshakes to present the
// new certificate.
func TestHotReloadCertificate(t *testing.T) {
	tests := []struct {
		name  string
		write func(t *testing.T, e *reloadEnv, c *pki.Cert)
	}{
		{"rename over", func(t *testing.T, e *reloadEnv, c *pki.Cert) {
			watchReplace(t, filepath.Join(e.dir, "server.key"), string(c.KeyPEM))
			watchReplace(t, filepath.Join(e.dir, "server.crt"), string(c.CertPEM))
		}},
		{"in place", func(t *testing.T, e *reloadEnv, c *pki.Cert) {
			if err := c.WriteFiles(filepath.Join(e.dir, "server.crt"), filepath.Join(e.dir, "server.key")); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newReloadEnv(t, reloadTLS)
			e.serve(reloadWatch)
			if got, want := e.servedSerial(), e.server.Cert.SerialNumber.String(); got != want {
				t.Fatalf("serving certificate %s, want %s", got, want)
			}
			next := e.newServerCert()
			tc.write(t, e, next)
			want := next.Cert.SerialNumber.String()
			watchEventually(t, "the new certificate to be served", func() bool { return e.servedSerial() == want })
			if got := e.status(reloadClient{}); got != http.StatusOK {
				t.Errorf("request after rotation: status %d, want 200", got)
			}
		})
	}
}

// TestHotReloadKubernetesSecret serves from a directory laid out like a mounted
// Kubernetes Secret and rotates it the way the kubelet does: a new
// timestamped directory and the "..data" symlink swapped to it.
func TestHotReloadKubernetesSecret(t *testing.T) {
	e := newReloadEnv(t, "")
	files := func(c *pki.Cert, header string) map[string]string {
		return map[string]string{
			"tls.crt": string(c.CertPEM),
			"tls.key": string(c.KeyPEM),
			"web.yml": "tls_server_config:\n  cert_file: tls.crt\n  key_file: tls.key\n" +
				"http_server_config:\n  headers:\n    X-Frame-Options: " + header + "\n",
		}
	}
	vol := newK8sVolume(t, files(e.server, "deny"))
	e.cfgPath = filepath.Join(vol.dir, "web.yml")
	e.serve(reloadWatch)
	if got := e.header(reloadClient{}, "X-Frame-Options"); got != "deny" {
		t.Fatalf("X-Frame-Options = %q, want deny", got)
	}

	for i := range 2 {
		next := e.newServerCert()
		vol.update(files(next, []string{"sameorigin", "deny"}[i]))
		want := next.Cert.SerialNumber.String()
		watchEventually(t, fmt.Sprintf("swap %d to be served", i+1), func() bool { return e.servedSerial() == want })
		if got, want := e.header(reloadClient{}, "X-Frame-Options"), []string{"sameorigin", "deny"}[i]; got != want {
			t.Errorf("swap %d: X-Frame-Options = %q, want %q", i+1, got, want)
		}
	}
}

// TestHotReloadClientCA replaces the client CA: clients of the new CA get in,
// clients of the old one no longer do.
func TestHotReloadClientCA(t *testing.T) {
	e := newReloadEnv(t, reloadMTLS)
	e.serve(reloadWatch)
	oldClient := reloadClient{cert: e.newClientCert(e.ca, "scraper.example")}
	if got := e.status(oldClient); got != http.StatusOK {
		t.Fatalf("client of the first CA: status %d, want 200", got)
	}
	if got := e.status(reloadClient{}); got != 0 {
		t.Fatalf("client without certificate: status %d, want a refused handshake", got)
	}

	ca2, err := pki.NewCA(pki.Request{CommonName: "second CA"})
	if err != nil {
		t.Fatal(err)
	}
	newClient := reloadClient{cert: e.newClientCert(ca2, "scraper.example")}
	watchReplace(t, filepath.Join(e.dir, "ca.crt"), string(ca2.CertPEM))
	watchEventually(t, "the new CA's client to be accepted", func() bool { return e.status(newClient) == http.StatusOK })
	if got := e.status(oldClient); got != 0 {
		t.Errorf("client of the replaced CA: status %d, want a refused handshake", got)
	}
}

// TestHotReloadUsers adds a user, then removes one of two: the removed user is
// refused on the first request after the reload, and removing one user of
// several is not held back as a downgrade.
func TestHotReloadUsers(t *testing.T) {
	alice, bob := reloadHash(t, "alice-pw"), reloadHash(t, "bob-pw")
	users := func(entries ...string) string {
		return reloadTLS + "basic_auth_users:\n" + strings.Join(entries, "")
	}
	aliceLine, bobLine := "  alice: "+alice+"\n", "  bob: "+bob+"\n"
	e := newReloadEnv(t, users(aliceLine))
	e.serve(reloadWatch)
	aliceC, bobC := reloadClient{user: "alice", pass: "alice-pw"}, reloadClient{user: "bob", pass: "bob-pw"}
	if got := e.status(aliceC); got != http.StatusOK {
		t.Fatalf("alice: status %d, want 200", got)
	}
	if got := e.status(bobC); got != http.StatusUnauthorized {
		t.Fatalf("bob before being added: status %d, want 401", got)
	}

	e.writeConfig(users(aliceLine, bobLine))
	watchEventually(t, "bob to be let in", func() bool { return e.status(bobC) == http.StatusOK })

	before := e.reloads(reloadSuccess)
	held := e.reloads(reloadHeld)
	e.writeConfig(users(bobLine))
	e.waitReload(reloadSuccess, before)
	if got := e.status(aliceC); got != http.StatusUnauthorized {
		t.Errorf("alice right after her removal: status %d, want 401", got)
	}
	if got := e.status(bobC); got != http.StatusOK {
		t.Errorf("bob after alice's removal: status %d, want 200", got)
	}
	if got := e.reloads(reloadHeld); got != held {
		t.Errorf("removing one user of two was held back (held %v -> %v)", held, got)
	}
}

// TestHotReloadRateLimitAndHeaders changes the headers and turns the rate
// limit on: both apply without a restart.
func TestHotReloadRateLimitAndHeaders(t *testing.T) {
	e := newReloadEnv(t, reloadTLS+"http_server_config:\n  headers:\n    X-Frame-Options: deny\n")
	e.serve(reloadWatch)
	for range 3 {
		if got := e.status(reloadClient{}); got != http.StatusOK {
			t.Fatalf("before the rate limit: status %d, want 200", got)
		}
	}

	// One token, refilled hourly: the request that sees the new header
	// spends it, so the next one is over the limit.
	e.writeConfig(reloadTLS + "http_server_config:\n  headers:\n    X-Frame-Options: sameorigin\n" +
		"    X-Content-Type-Options: nosniff\nrate_limit:\n  interval: 1h\n  burst: 1\n")
	watchEventually(t, "the new headers", func() bool { return e.header(reloadClient{}, "X-Frame-Options") == "sameorigin" })
	resp, err := e.get(reloadClient{})
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("second request under burst 1: status %d, want 429", resp.StatusCode)
	}
	if got := resp.Header.Get("X-Content-Type-Options"); got != "nosniff" {
		t.Errorf("429 response: X-Content-Type-Options = %q, want nosniff", got)
	}
}

// TestHotReloadKeepsLastGood breaks the config in the ways a running server
// meets: the old config keeps serving, one error names the file, line and
// field, the reload metric says 0, and fixing the files is picked up
// without a restart.
func TestHotReloadKeepsLastGood(t *testing.T) {
	good := func(t *testing.T, header string) string {
		return reloadTLS + "http_server_config:\n  headers:\n    X-Frame-Options: " + header + "\n" +
			"basic_auth_users:\n  alice: " + reloadHash(t, "alice-pw") + "\n"
	}
	tests := []struct {
		name  string
		spoil func(t *testing.T, e *reloadEnv)
		// wantErr matches the err of the logged error, after the path of
		// web.yml is replaced by "web.yml".
		wantErr string
	}{
		{
			name:    "invalid YAML",
			spoil:   func(t *testing.T, e *reloadEnv) { e.writeConfig(reloadTLS + "  client_allowed_sans: [unclosed\n") },
			wantErr: `^web\.yml:\d+: `,
		},
		{
			name: "wrong type",
			spoil: func(t *testing.T, e *reloadEnv) {
				e.writeConfig(reloadTLS + "rate_limit:\n  interval: 1s\n  burst: many\n")
			},
			wantErr: `^web\.yml:6: rate_limit\.burst: `,
		},
		{
			name: "unknown key",
			spoil: func(t *testing.T, e *reloadEnv) {
				e.writeConfig(reloadTLS + "http_server_config:\n  header:\n    X-Frame-Options: deny\n")
			},
			wantErr: `^web\.yml:5: http_server_config\.header: unknown field`,
		},
		{
			name: "config file removed",
			spoil: func(t *testing.T, e *reloadEnv) {
				if err := os.Remove(e.cfgPath); err != nil {
					t.Fatal(err)
				}
			},
			wantErr: `^web\.yml: cannot read config file`,
		},
		{
			name: "certificate file missing",
			spoil: func(t *testing.T, e *reloadEnv) {
				e.writeConfig(strings.Replace(good(t, "deny"), "server.crt", "missing.crt", 1))
			},
			wantErr: `^web\.yml:2: tls_server_config\.cert_file: cannot read .*missing\.crt`,
		},
		{
			name: "not a bcrypt hash",
			spoil: func(t *testing.T, e *reloadEnv) {
				e.writeConfig(reloadTLS + "basic_auth_users:\n  alice: plaintext-password\n")
			},
			wantErr: `^web\.yml:5: basic_auth_users\["alice"\]: not a bcrypt hash`,
		},
		{
			name: "key does not match certificate",
			spoil: func(t *testing.T, e *reloadEnv) {
				watchReplace(t, filepath.Join(e.dir, "server.crt"), string(e.newServerCert().CertPEM))
			},
			wantErr: `^web\.yml:2: tls_server_config\.cert_file: .* do not make a key pair`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newReloadEnv(t, good(t, "deny"))
			e.serve(reloadWatch)
			alice := reloadClient{user: "alice", pass: "alice-pw"}
			serial := e.servedSerial()

			failures := e.reloads(reloadFailure)
			tc.spoil(t, e)
			e.waitReload(reloadFailure, failures)

			if got := e.status(alice); got != http.StatusOK {
				t.Errorf("alice under the last good config: status %d, want 200", got)
			}
			if got := e.header(alice, "X-Frame-Options"); got != "deny" {
				t.Errorf("X-Frame-Options under the last good config = %q, want deny", got)
			}
			if got := e.servedSerial(); got != serial {
				t.Errorf("serving certificate %s, want the last good one %s", got, serial)
			}
			if got := e.metric("webguard_config_last_reload_successful"); got != 0 {
				t.Errorf("webguard_config_last_reload_successful = %v, want 0", got)
			}
			logged := e.logs.find("reload failed")
			if len(logged) != 1 {
				t.Fatalf("logged %d reload errors, want 1: %+v", len(logged), logged)
			}
			if logged[0].level != slog.LevelError {
				t.Errorf("reload failure logged at %v, want ERROR", logged[0].level)
			}
			msg := strings.ReplaceAll(logged[0].attrs["err"], e.cfgPath, "web.yml")
			t.Logf("logged: %s", msg)
			if !regexp.MustCompile(tc.wantErr).MatchString(msg) {
				t.Errorf("logged err %q, want it to match %q", msg, tc.wantErr)
			}

			// The fix: a good config (and, for the mismatched pair, the key
			// that goes with the certificate now on disk).
			fixed := e.newServerCert()
			if err := fixed.WriteFiles(filepath.Join(e.dir, "server.crt"), filepath.Join(e.dir, "server.key")); err != nil {
				t.Fatal(err)
			}
			e.writeConfig(good(t, "sameorigin"))
			watchEventually(t, "the fixed config", func() bool {
				return e.header(alice, "X-Frame-Options") == "sameorigin" &&
					e.servedSerial() == fixed.Cert.SerialNumber.String()
			})
			watchEventually(t, "webguard_config_last_reload_successful 1", func() bool {
				return e.metric("webguard_config_last_reload_successful") == 1
			})
		})
	}
}

// TestHotReloadCertBeforeKey writes a new certificate and, half a second later,
// its key, while clients keep connecting: every handshake succeeds, on the
// old pair until the new one is complete.
func TestHotReloadCertBeforeKey(t *testing.T) {
	e := newReloadEnv(t, reloadTLS)
	e.serve(reloadWatch)
	oldSerial := e.server.Cert.SerialNumber.String()
	next := e.newServerCert()
	newSerial := next.Cert.SerialNumber.String()

	var ok, failed atomic.Int64
	var unexpected atomic.Value
	stop, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		for {
			select {
			case <-stop:
				return
			default:
			}
			switch s := e.servedSerial(); s {
			case oldSerial, newSerial:
				ok.Add(1)
			case "":
				failed.Add(1)
			default:
				unexpected.Store(s)
			}
		}
	}()
	t.Cleanup(func() {
		select {
		case <-stop:
		default:
			close(stop)
		}
		<-stopped
	})

	// Both written by rename, so neither is ever read half-written: the
	// only inconsistency is the pair.
	watchReplace(t, filepath.Join(e.dir, "server.crt"), string(next.CertPEM))
	time.Sleep(500 * time.Millisecond) // the writer's pause between the two files
	watchReplace(t, filepath.Join(e.dir, "server.key"), string(next.KeyPEM))
	watchEventually(t, "the new pair to be served", func() bool { return e.servedSerial() == newSerial })
	watchEventually(t, "a few handshakes on the new pair", func() bool { return ok.Load() > 3 })
	close(stop)
	<-stopped

	if n := failed.Load(); n != 0 {
		t.Errorf("%d of %d handshakes failed during the rotation, want 0", n, n+ok.Load())
	}
	if s := unexpected.Load(); s != nil {
		t.Errorf("served certificate %v, neither the old nor the new", s)
	}
	if n := e.metric("webguard_tls_handshake_failures_total", "reason", "other"); n != 0 {
		t.Errorf("webguard_tls_handshake_failures_total{reason=other} = %v, want 0", n)
	}
	t.Logf("%d handshakes; %v reloads failed on the mismatched pair", ok.Load(), e.reloads(reloadFailure))
}

// TestHotReloadRestartOnly changes what cannot change on a running server
// together with a header: the first is refused with a log line, the header
// applies.
func TestHotReloadRestartOnly(t *testing.T) {
	headers := func(v string) string { return "http_server_config:\n  headers:\n    X-Frame-Options: " + v + "\n" }
	tests := []struct {
		name, before, after string
		logged              string
		check               func(t *testing.T, e *reloadEnv)
	}{
		{
			name:   "TLS off",
			before: reloadTLS + headers("deny"),
			after:  headers("sameorigin"),
			logged: "turns TLS off",
			check: func(t *testing.T, e *reloadEnv) {
				if e.servedSerial() == "" {
					t.Error("TLS no longer served")
				}
			},
		},
		{
			name:   "TLS on",
			before: headers("deny"),
			after:  reloadTLS + headers("sameorigin"),
			logged: "turns TLS on",
			// header() above already spoke plain HTTP.
		},
		{
			name:   "HTTP/2 off",
			before: reloadTLS + headers("deny"),
			after:  reloadTLS + "http_server_config:\n  http2: false\n  headers:\n    X-Frame-Options: sameorigin\n",
			logged: "http2",
			check: func(t *testing.T, e *reloadEnv) {
				conn, err := tls.Dial("tcp", e.addr, &tls.Config{RootCAs: e.ca.Pool(), NextProtos: []string{"h2", "http/1.1"}})
				if err != nil {
					t.Fatal(err)
				}
				defer conn.Close()
				if p := conn.ConnectionState().NegotiatedProtocol; p != "h2" {
					t.Errorf("ALPN negotiated %q, want h2 as at start", p)
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newReloadEnv(t, tc.before)
			e.serve(reloadWatch)
			e.writeConfig(tc.after)
			watchEventually(t, "the header change", func() bool { return e.header(reloadClient{}, "X-Frame-Options") == "sameorigin" })
			if tc.check != nil {
				tc.check(t, e)
			}
			refused := e.logs.find(tc.logged)
			if len(refused) == 0 {
				t.Fatalf("no log line about %q", tc.logged)
			}
			if refused[0].level != slog.LevelError || !strings.Contains(refused[0].msg, "restart") {
				t.Errorf("refusal logged as %v %q, want an error that says a restart is needed", refused[0].level, refused[0].msg)
			}
		})
	}
}

// TestHotReloadHoldsDowngrade makes changes that lower security: the watcher
// holds each back (the old rules keep applying, a warning names the reason,
// the held metric counts it) until an explicit Reload applies it.
func TestHotReloadHoldsDowngrade(t *testing.T) {
	hash := ""
	tests := []struct {
		name, before, after string
		reason              string
		// admitted reports whether the client the downgrade lets in gets in.
		admitted func(e *reloadEnv) bool
	}{
		{
			name:     "all users removed",
			before:   reloadTLS + "basic_auth_users:\n  alice: HASH\n",
			after:    reloadTLS,
			reason:   "basic_auth_users",
			admitted: func(e *reloadEnv) bool { return e.status(reloadClient{}) == http.StatusOK },
		},
		{
			name:     "client certificate no longer required",
			before:   reloadMTLS,
			after:    strings.Replace(reloadMTLS, "RequireAndVerifyClientCert", "VerifyClientCertIfGiven", 1),
			reason:   "client_auth_type lowered from RequireAndVerifyClientCert to VerifyClientCertIfGiven",
			admitted: func(e *reloadEnv) bool { return e.status(reloadClient{}) == http.StatusOK },
		},
		{
			name:   "client_allowed_sans emptied",
			before: reloadMTLS + "  client_allowed_sans: [other.example]\n",
			after:  reloadMTLS,
			reason: "client_allowed_sans emptied",
			admitted: func(e *reloadEnv) bool {
				return e.status(reloadClient{cert: e.newClientCert(e.ca, "scraper.example")}) == http.StatusOK
			},
		},
		{
			name:     "min_version lowered",
			before:   reloadTLS + "  min_version: TLS13\n",
			after:    reloadTLS + "  min_version: TLS12\n",
			reason:   "min_version lowered from TLS13 to TLS12",
			admitted: func(e *reloadEnv) bool { return e.status(reloadClient{maxVersion: tls.VersionTLS12}) == http.StatusOK },
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if hash == "" {
				hash = reloadHash(t, "alice-pw")
			}
			e := newReloadEnv(t, strings.ReplaceAll(tc.before, "HASH", hash))
			e.serve(reloadWatch)
			if tc.admitted(e) {
				t.Fatal("the client is admitted before the downgrade")
			}
			held, success := e.reloads(reloadHeld), e.reloads(reloadSuccess)
			e.writeConfig(strings.ReplaceAll(tc.after, "HASH", hash))
			e.waitReload(reloadHeld, held)

			if tc.admitted(e) {
				t.Error("the downgrade applied without an explicit Reload")
			}
			if got := e.reloads(reloadSuccess); got != success {
				t.Errorf("reloads{outcome=success} went from %v to %v for a held change", success, got)
			}
			warned := e.logs.find("held back")
			if len(warned) != 1 {
				t.Fatalf("logged %d held-back warnings, want 1", len(warned))
			}
			if w := warned[0]; w.level != slog.LevelWarn || !strings.Contains(w.attrs["reason"], tc.reason) {
				t.Errorf("held back logged at %v with reason %q, want WARN naming %q", w.level, w.attrs["reason"], tc.reason)
			}

			if err := e.g.Reload(); err != nil {
				t.Fatalf("explicit Reload: %v", err)
			}
			if !tc.admitted(e) {
				t.Error("the downgrade did not apply after an explicit Reload")
			}
		})
	}
}

// TestHotReloadHoldsDowngradeAfterRefusedTLSOff takes the long way round to
// a weaker client_auth_type: first TLS off (refused, so mutual TLS is still
// served), then TLS back on without client certificates. The second step
// lowers what is served, and is held.
func TestHotReloadHoldsDowngradeAfterRefusedTLSOff(t *testing.T) {
	e := newReloadEnv(t, reloadMTLS)
	e.serve(reloadWatch)
	success, held := e.reloads(reloadSuccess), e.reloads(reloadHeld)
	e.writeConfig("http_server_config:\n  headers:\n    X-Frame-Options: deny\n")
	e.waitReload(reloadSuccess, success)
	if got := e.status(reloadClient{}); got != 0 {
		t.Fatalf("client without certificate after the refused TLS off: status %d, want a refused handshake", got)
	}
	e.writeConfig(reloadTLS)
	e.waitReload(reloadHeld, held)
	if got := e.status(reloadClient{}); got != 0 {
		t.Errorf("client without certificate after the held change: status %d, want a refused handshake", got)
	}
}

// TestHotReloadHeldThenCompleted holds a half-written file (the users not
// written yet), then sees the rest arrive: the completed file applies by
// itself, with its users.
func TestHotReloadHeldThenCompleted(t *testing.T) {
	users := "basic_auth_users:\n  alice: " + reloadHash(t, "alice-pw") + "\n"
	e := newReloadEnv(t, reloadTLS+users)
	e.serve(reloadWatch)
	held, success := e.reloads(reloadHeld), e.reloads(reloadSuccess)
	e.writeConfig(reloadTLS + "http_server_config:\n  headers:\n    X-Frame-Options: deny\n")
	e.waitReload(reloadHeld, held)
	if got := e.status(reloadClient{}); got != http.StatusUnauthorized {
		t.Fatalf("no credentials while the change is held: status %d, want 401", got)
	}
	e.writeConfig(reloadTLS + "http_server_config:\n  headers:\n    X-Frame-Options: deny\n" + users)
	e.waitReload(reloadSuccess, success)
	alice := reloadClient{user: "alice", pass: "alice-pw"}
	if got := e.header(alice, "X-Frame-Options"); got != "deny" {
		t.Errorf("X-Frame-Options after the completed write = %q, want deny", got)
	}
	if got := e.status(reloadClient{}); got != http.StatusUnauthorized {
		t.Errorf("no credentials after the completed write: status %d, want 401", got)
	}
}

// TestHotReloadPollFallback turns file events off: the Guard still picks up a
// change by polling.
func TestHotReloadPollFallback(t *testing.T) {
	e := newReloadEnv(t, reloadTLS+"http_server_config:\n  headers:\n    X-Frame-Options: deny\n")
	e.serve(watchOptions{debounce: 20 * time.Millisecond, pollEvery: 50 * time.Millisecond, noEvents: true})
	e.writeConfig(reloadTLS + "http_server_config:\n  headers:\n    X-Frame-Options: sameorigin\n")
	watchEventually(t, "the change, by polling", func() bool { return e.header(reloadClient{}, "X-Frame-Options") == "sameorigin" })
	next := e.newServerCert()
	if err := next.WriteFiles(filepath.Join(e.dir, "server.crt"), filepath.Join(e.dir, "server.key")); err != nil {
		t.Fatal(err)
	}
	watchEventually(t, "the new certificate, by polling", func() bool { return e.servedSerial() == next.Cert.SerialNumber.String() })
}

// TestHotReloadNoGoroutineOutlivesServe serves, reloads, and shuts down: once
// Serve has returned, the watcher is stopped and every goroutine the Guard
// started has exited.
func TestHotReloadNoGoroutineOutlivesServe(t *testing.T) {
	e := newReloadEnv(t, reloadTLS+"http_server_config:\n  headers:\n    X-Frame-Options: deny\n")
	before := runtime.NumGoroutine()

	g, err := New(Options{ConfigFile: e.cfgPath})
	if err != nil {
		t.Fatal(err)
	}
	g.watchOpts = watchOptions{debounce: 20 * time.Millisecond, pollEvery: 50 * time.Millisecond}
	e.g, e.tls = g, true
	ls := make([]net.Listener, 2)
	for i := range ls {
		if ls[i], err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
	}
	e.addr = ls[0].Addr().String()
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {})}
	served := make(chan error, 1)
	go func() { served <- g.ServeMultiple(ls, srv) }()

	watchEventually(t, "serving", func() bool { return e.status(reloadClient{}) == http.StatusOK })
	e.writeConfig(reloadTLS + "http_server_config:\n  headers:\n    X-Frame-Options: sameorigin\n")
	watchEventually(t, "the reload", func() bool { return e.header(reloadClient{}, "X-Frame-Options") == "sameorigin" })

	if err := srv.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-served:
		if !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("ServeMultiple = %v, want http.ErrServerClosed", err)
		}
	case <-time.After(watchWait):
		t.Fatal("ServeMultiple did not return after Shutdown")
	}
	g.mu.Lock()
	w := g.watch
	g.mu.Unlock()
	if w != nil {
		t.Error("the watcher is still set after Serve returned")
	}
	watchEventually(t, "every goroutine started by Serve to exit", func() bool { return runtime.NumGoroutine() <= before })

	// A change now is not acted on: nothing watches.
	e.writeConfig(reloadTLS)
	if err := g.Close(); err != nil {
		t.Errorf("Close = %v", err)
	}
	if n := e.reloads(reloadSuccess); n != 1 {
		t.Errorf("reloads{outcome=success} = %v, want 1", n)
	}
}

// TestHotReloadCloseStopsWatching checks that Close stops the watcher even while
// Serve is still running, and that a later Serve does not restart it.
func TestHotReloadCloseStopsWatching(t *testing.T) {
	e := newReloadEnv(t, reloadTLS)
	e.serve(reloadWatch)
	if err := e.g.Close(); err != nil {
		t.Fatal(err)
	}
	e.g.mu.Lock()
	w := e.g.watch
	e.g.mu.Unlock()
	if w != nil {
		t.Error("the watcher is still set after Close")
	}
	if got := e.status(reloadClient{}); got != http.StatusOK {
		t.Errorf("after Close: status %d, want 200 (serving goes on)", got)
	}
}

func TestLowersSecurity(t *testing.T) {
	dir := t.TempDir()
	ca, err := pki.NewCA(pki.Request{})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := ca.Server(pki.Request{Hosts: []string{"127.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.WriteFiles(filepath.Join(dir, "server.crt"), filepath.Join(dir, "server.key")); err != nil {
		t.Fatal(err)
	}
	if err := ca.WriteFiles(filepath.Join(dir, "ca.crt"), ""); err != nil {
		t.Fatal(err)
	}
	h1, h2 := reloadHash(t, "a"), reloadHash(t, "b")
	auth := func(typ string) string {
		if typ == "NoClientCert" || typ == "RequestClientCert" || typ == "RequireAnyClientCert" {
			return reloadTLS + "  client_auth_type: " + typ + "\n"
		}
		return reloadTLS + "  client_ca_file: ca.crt\n  client_auth_type: " + typ + "\n"
	}
	tests := []struct {
		name, running, next string
		want                string // substring of the reason; "" for no downgrade
	}{
		{"same", auth("RequireAndVerifyClientCert"), auth("RequireAndVerifyClientCert"), ""},
		{"one user of two removed", "basic_auth_users:\n  a: " + h1 + "\n  b: " + h2 + "\n", "basic_auth_users:\n  a: " + h1 + "\n", ""},
		{"all users removed", "basic_auth_users:\n  a: " + h1 + "\n", "", "every basic_auth_users entry removed"},
		{"users added", "", "basic_auth_users:\n  a: " + h1 + "\n", ""},
		{"verify to verify if given", auth("RequireAndVerifyClientCert"), auth("VerifyClientCertIfGiven"), "client_auth_type lowered"},
		{"verify if given to require any", auth("VerifyClientCertIfGiven"), auth("RequireAnyClientCert"), "client_auth_type lowered"},
		{"require any to verify if given", auth("RequireAnyClientCert"), auth("VerifyClientCertIfGiven"), "client_auth_type lowered"},
		{"request to none", auth("RequestClientCert"), auth("NoClientCert"), "client_auth_type lowered"},
		{"none to verify", auth("NoClientCert"), auth("RequireAndVerifyClientCert"), ""},
		{"verify if given to verify", auth("VerifyClientCertIfGiven"), auth("RequireAndVerifyClientCert"), ""},
		{"legacy name is require any", auth("RequireAnyClientCert"), auth("RequireClientCert"), ""},
		{"sans emptied", auth("RequireAndVerifyClientCert") + "  client_allowed_sans: [a]\n", auth("RequireAndVerifyClientCert"), "client_allowed_sans emptied"},
		{"sans narrowed", auth("RequireAndVerifyClientCert") + "  client_allowed_sans: [a, b]\n", auth("RequireAndVerifyClientCert") + "  client_allowed_sans: [a]\n", ""},
		{"min version lowered", reloadTLS + "  min_version: TLS13\n", reloadTLS, "min_version lowered from TLS13 to TLS12"},
		{"min version raised", reloadTLS, reloadTLS + "  min_version: TLS13\n", ""},
		{"TLS off is left to the restart rule", auth("RequireAndVerifyClientCert"), "", ""},
		{"two at once", auth("RequireAndVerifyClientCert") + "basic_auth_users:\n  a: " + h1 + "\n", reloadTLS, "every basic_auth_users entry removed; tls_server_config.client_auth_type lowered"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			load := func(yml string) *config.Config {
				path := filepath.Join(dir, "web.yml")
				watchWrite(t, path, yml)
				c, err := config.Load(path)
				if err != nil {
					t.Fatalf("config.Load(%q): %v", yml, err)
				}
				return c
			}
			running, err := compile(load(tc.running))
			if err != nil {
				t.Fatal(err)
			}
			got := lowersSecurity(running, load(tc.next))
			if (got == "") != (tc.want == "") || !strings.Contains(got, tc.want) {
				t.Errorf("lowersSecurity = %q, want %q", got, tc.want)
			}
		})
	}
}
