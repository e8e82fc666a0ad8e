package web

import (
	"context"
	"crypto/tls"
	"crypto/x509"
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
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
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
	e.g, e.tls = g, g.snap.Load().tls != nil
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
	plain      bool // speak plain HTTP whatever the env serves
	// tls adjusts the client's TLS settings.
	tls func(*tls.Config)
}

// get makes one request on a new connection.
func (e *reloadEnv) get(c reloadClient) (*http.Response, error) {
	tc := &tls.Config{RootCAs: e.ca.Pool(), MaxVersion: c.maxVersion}
	if c.cert != nil {
		tc.Certificates = []tls.Certificate{c.cert.TLSCertificate()}
	}
	if c.tls != nil {
		c.tls(tc)
	}
	tr := &http.Transport{TLSClientConfig: tc, DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	scheme := "http"
	if e.tls && !c.plain {
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
	vol := newK8sVolume(t, files(e.server, "sameorigin"))
	e.cfgPath = filepath.Join(vol.dir, "web.yml")
	e.serve(reloadWatch)
	if got := e.header(reloadClient{}, "X-Frame-Options"); got != "sameorigin" {
		t.Fatalf("X-Frame-Options = %q, want sameorigin", got)
	}

	for i := range 2 {
		next := e.newServerCert()
		vol.update(files(next, "deny"))
		want := next.Cert.SerialNumber.String()
		watchEventually(t, fmt.Sprintf("swap %d to be served", i+1), func() bool { return e.servedSerial() == want })
		if got, want := e.header(reloadClient{}, "X-Frame-Options"), "deny"; got != want {
			t.Errorf("swap %d: X-Frame-Options = %q, want %q", i+1, got, want)
		}
	}
}

// TestHotReloadClientCA replaces the client CA. A CA that trusts clients the
// old one did not lowers security: the change is held until an explicit
// Reload, then clients of the new CA get in and clients of the old one no
// longer do.
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
	held := e.reloads(reloadHeld)
	watchReplace(t, filepath.Join(e.dir, "ca.crt"), string(ca2.CertPEM))
	e.waitReload(reloadHeld, held)
	if got := e.status(newClient); got != 0 {
		t.Errorf("client of the new CA while the change is held: status %d, want a refused handshake", got)
	}
	if err := e.g.Reload(); err != nil {
		t.Fatal(err)
	}
	if got := e.status(newClient); got != http.StatusOK {
		t.Errorf("client of the new CA after Reload: status %d, want 200", got)
	}
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
	e := newReloadEnv(t, reloadTLS+"http_server_config:\n  headers:\n    X-Frame-Options: sameorigin\n")
	e.serve(reloadWatch)
	for range 3 {
		if got := e.status(reloadClient{}); got != http.StatusOK {
			t.Fatalf("before the rate limit: status %d, want 200", got)
		}
	}

	// One token, refilled hourly: the request that sees the new header
	// spends it, so the next one is over the limit.
	e.writeConfig(reloadTLS + "http_server_config:\n  headers:\n    X-Frame-Options: deny\n" +
		"    X-Content-Type-Options: nosniff\nrate_limit:\n  interval: 1h\n  burst: 1\n")
	watchEventually(t, "the new headers", func() bool { return e.header(reloadClient{}, "X-Frame-Options") == "deny" })
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
				e.writeConfig(reloadTLS + "http_server_config:\n  header:\n    X-Frame-Options: sameorigin\n")
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
				e.writeConfig(strings.Replace(good(t, "sameorigin"), "server.crt", "missing.crt", 1))
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
			e := newReloadEnv(t, good(t, "sameorigin"))
			e.serve(reloadWatch)
			alice := reloadClient{user: "alice", pass: "alice-pw"}
			serial := e.servedSerial()

			failures := e.reloads(reloadFailure)
			tc.spoil(t, e)
			e.waitReload(reloadFailure, failures)

			if got := e.status(alice); got != http.StatusOK {
				t.Errorf("alice under the last good config: status %d, want 200", got)
			}
			if got := e.header(alice, "X-Frame-Options"); got != "sameorigin" {
				t.Errorf("X-Frame-Options under the last good config = %q, want sameorigin", got)
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
			e.writeConfig(good(t, "deny"))
			watchEventually(t, "the fixed config", func() bool {
				return e.header(alice, "X-Frame-Options") == "deny" &&
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

// TestHotReloadHeldThenCompleted holds a half-written file (the users not
// written yet), then sees the rest arrive: the completed file applies by
// itself, with its users.
func TestHotReloadHeldThenCompleted(t *testing.T) {
	users := "basic_auth_users:\n  alice: " + reloadHash(t, "alice-pw") + "\n"
	e := newReloadEnv(t, reloadTLS+users)
	e.serve(reloadWatch)
	held, success := e.reloads(reloadHeld), e.reloads(reloadSuccess)
	e.writeConfig(reloadTLS + "http_server_config:\n  headers:\n    X-Frame-Options: sameorigin\n")
	e.waitReload(reloadHeld, held)
	if got := e.status(reloadClient{}); got != http.StatusUnauthorized {
		t.Fatalf("no credentials while the change is held: status %d, want 401", got)
	}
	e.writeConfig(reloadTLS + "http_server_config:\n  headers:\n    X-Frame-Options: sameorigin\n" + users)
	e.waitReload(reloadSuccess, success)
	alice := reloadClient{user: "alice", pass: "alice-pw"}
	if got := e.header(alice, "X-Frame-Options"); got != "sameorigin" {
		t.Errorf("X-Frame-Options after the completed write = %q, want sameorigin", got)
	}
	if got := e.status(reloadClient{}); got != http.StatusUnauthorized {
		t.Errorf("no credentials after the completed write: status %d, want 401", got)
	}
}

// TestHotReloadPollFallback turns file events off: the Guard still picks up a
// change by polling.
func TestHotReloadPollFallback(t *testing.T) {
	e := newReloadEnv(t, reloadTLS+"http_server_config:\n  headers:\n    X-Frame-Options: sameorigin\n")
	e.serve(watchOptions{debounce: 20 * time.Millisecond, pollEvery: 50 * time.Millisecond, noEvents: true})
	e.writeConfig(reloadTLS + "http_server_config:\n  headers:\n    X-Frame-Options: deny\n")
	watchEventually(t, "the change, by polling", func() bool { return e.header(reloadClient{}, "X-Frame-Options") == "deny" })
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
	e := newReloadEnv(t, reloadTLS+"http_server_config:\n  headers:\n    X-Frame-Options: sameorigin\n")
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
	e.writeConfig(reloadTLS + "http_server_config:\n  headers:\n    X-Frame-Options: deny\n")
	watchEventually(t, "the reload", func() bool { return e.header(reloadClient{}, "X-Frame-Options") == "deny" })

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

// TestDowngradeAxes walks every axis of downgradeAxes both ways through a
// real server: lowering is held (the old rules keep applying, one warning
// names the axis, the held metric counts it) until an explicit Reload
// applies it, and going back, which tightens, applies at once.
func TestDowngradeAxes(t *testing.T) {
	ca2, err := pki.NewCA(pki.Request{CommonName: "second CA"})
	if err != nil {
		t.Fatal(err)
	}
	headers := func(v string) string { return "http_server_config:\n  headers:\n    X-Frame-Options: " + v + "\n" }
	mtlsWith := func(caFile string) string {
		return reloadTLS + "  client_ca_file: " + caFile + "\n  client_auth_type: RequireAndVerifyClientCert\n"
	}
	const aes = "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"
	const chacha = "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"
	type downgradeCase struct {
		axis          string // the axis name the warning must carry
		tight, loose  string // web.yml before and after the downgrade
		inEffect      func(e *reloadEnv) bool
		needsUsers    bool
		needsSecondCA bool
		prepare       func(e *reloadEnv) // writes files the tight config names
	}
	var revoked *pki.Cert // the client the CRL case revokes
	tests := []downgradeCase{
		{
			axis: "tls_server_config (TLS turned off)", tight: reloadTLS, loose: "",
			inEffect: func(e *reloadEnv) bool { return e.status(reloadClient{plain: true}) == http.StatusOK },
		},
		{
			axis: "tls_server_config.min_version", tight: reloadTLS + "  min_version: TLS13\n", loose: reloadTLS + "  min_version: TLS12\n",
			inEffect: func(e *reloadEnv) bool { return e.status(reloadClient{maxVersion: tls.VersionTLS12}) == http.StatusOK },
		},
		{
			axis: "tls_server_config.max_version", tight: reloadTLS, loose: reloadTLS + "  max_version: TLS12\n",
			inEffect: func(e *reloadEnv) bool {
				return e.status(reloadClient{tls: func(c *tls.Config) { c.MinVersion = tls.VersionTLS13 }}) != http.StatusOK
			},
		},
		{
			axis:  "tls_server_config.cipher_suites",
			tight: reloadTLS + "  cipher_suites: [" + aes + "]\n", loose: reloadTLS + "  cipher_suites: [" + aes + ", " + chacha + "]\n",
			inEffect: func(e *reloadEnv) bool {
				return e.status(reloadClient{maxVersion: tls.VersionTLS12, tls: func(c *tls.Config) {
					c.CipherSuites = []uint16{tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256}
				}}) == http.StatusOK
			},
		},
		{
			axis: "tls_server_config.client_auth_type", tight: reloadMTLS,
			loose:    strings.Replace(reloadMTLS, "RequireAndVerifyClientCert", "VerifyClientCertIfGiven", 1),
			inEffect: func(e *reloadEnv) bool { return e.status(reloadClient{}) == http.StatusOK },
		},
		{
			axis: "tls_server_config.client_ca_file", tight: mtlsWith("ca.crt"), loose: mtlsWith("both.crt"), needsSecondCA: true,
			inEffect: func(e *reloadEnv) bool {
				return e.status(reloadClient{cert: e.newClientCert(ca2, "scraper.example")}) == http.StatusOK
			},
		},
		{
			axis:  "tls_server_config.client_allowed_sans",
			tight: reloadMTLS + "  client_allowed_sans: [scraper.example]\n", loose: reloadMTLS + "  client_allowed_sans: [scraper.example, other.example]\n",
			inEffect: func(e *reloadEnv) bool {
				return e.status(reloadClient{cert: e.newClientCert(e.ca, "other.example")}) == http.StatusOK
			},
		},
		{
			axis:  "tls_server_config.client_allowed_san_patterns",
			tight: reloadMTLS + "  client_allowed_sans: [scraper.example]\n",
			loose: reloadMTLS + "  client_allowed_sans: [scraper.example]\n  client_allowed_san_patterns: ['*.monitoring.example']\n",
			inEffect: func(e *reloadEnv) bool {
				return e.status(reloadClient{cert: e.newClientCert(e.ca, "prom-1.monitoring.example")}) == http.StatusOK
			},
		},
		{
			axis: "tls_server_config.client_crl_file", tight: reloadMTLS + "  client_crl_file: ca.crl\n", loose: reloadMTLS,
			prepare: func(e *reloadEnv) {
				revoked = e.newClientCert(e.ca, "scraper.example")
				crl, err := e.ca.CRL(pki.CRLRequest{Revoked: []*x509.Certificate{revoked.Cert}})
				if err != nil {
					t.Fatal(err)
				}
				watchWrite(t, filepath.Join(e.dir, "ca.crl"), string(crl.PEM))
			},
			inEffect: func(e *reloadEnv) bool { return e.status(reloadClient{cert: revoked}) == http.StatusOK },
		},
		{
			axis: "basic_auth_users", tight: reloadTLS + "basic_auth_users:\n  alice: HASH\n", loose: reloadTLS, needsUsers: true,
			inEffect: func(e *reloadEnv) bool { return e.status(reloadClient{}) == http.StatusOK },
		},
		{
			axis: "rate_limit", tight: reloadTLS + "rate_limit:\n  interval: 1h\n  burst: 1\n", loose: reloadTLS + "rate_limit:\n  interval: 1h\n  burst: 100\n",
			inEffect: func(e *reloadEnv) bool {
				for range 3 {
					if e.status(reloadClient{}) != http.StatusOK {
						return false
					}
				}
				return true
			},
		},
		{
			axis: "http_server_config.headers", tight: reloadTLS + headers("deny"), loose: reloadTLS + headers("sameorigin"),
			inEffect: func(e *reloadEnv) bool { return e.header(reloadClient{}, "X-Frame-Options") == "sameorigin" },
		},
		{
			axis:  "http_server_config.unauthenticated_paths",
			tight: reloadTLS + "basic_auth_users:\n  alice: HASH\n", loose: reloadTLS + "http_server_config:\n  unauthenticated_paths: [/]\nbasic_auth_users:\n  alice: HASH\n",
			needsUsers: true,
			inEffect:   func(e *reloadEnv) bool { return e.status(reloadClient{}) == http.StatusOK },
		},
	}
	// Every axis of the table has a case here.
	for _, a := range downgradeAxes {
		if !slices.ContainsFunc(tests, func(tc downgradeCase) bool { return tc.axis == a.name }) {
			t.Errorf("axis %q has no case in TestDowngradeAxes", a.name)
		}
	}
	hash := ""
	for _, tc := range tests {
		t.Run(tc.axis, func(t *testing.T) {
			if tc.needsUsers && hash == "" {
				hash = reloadHash(t, "alice-pw")
			}
			e := newReloadEnv(t, strings.ReplaceAll(tc.tight, "HASH", hash))
			if tc.needsSecondCA {
				watchWrite(t, filepath.Join(e.dir, "both.crt"), string(e.ca.CertPEM)+string(ca2.CertPEM))
			}
			if tc.prepare != nil {
				tc.prepare(e)
			}
			e.serve(reloadWatch)
			if tc.inEffect(e) {
				t.Fatal("the downgrade is in effect before the change")
			}

			held, success := e.reloads(reloadHeld), e.reloads(reloadSuccess)
			e.writeConfig(strings.ReplaceAll(tc.loose, "HASH", hash))
			e.waitReload(reloadHeld, held)
			if tc.inEffect(e) {
				t.Error("the downgrade applied without an explicit Reload")
			}
			if got := e.reloads(reloadSuccess); got != success {
				t.Errorf("reloads{outcome=success} went from %v to %v for a held change", success, got)
			}
			warned := e.logs.find("held back")
			if len(warned) != 1 {
				t.Fatalf("logged %d held-back warnings, want 1", len(warned))
			}
			if w := warned[0]; w.level != slog.LevelWarn || w.attrs["reason"] != tc.axis+" lowered" {
				t.Errorf("held back logged at %v with reason %q, want WARN with %q", w.level, w.attrs["reason"], tc.axis+" lowered")
			}

			if err := e.g.Reload(); err != nil {
				t.Fatalf("explicit Reload: %v", err)
			}
			if !tc.inEffect(e) {
				t.Fatal("the downgrade did not apply after an explicit Reload")
			}

			// Back the other way: tightening applies at once.
			held = e.reloads(reloadHeld)
			e.writeConfig(strings.ReplaceAll(tc.tight, "HASH", hash))
			watchEventually(t, "the tightening to apply", func() bool { return !tc.inEffect(e) })
			if got := e.reloads(reloadHeld); got != held {
				t.Errorf("tightening was held (held %v -> %v)", held, got)
			}
		})
	}
}

// TestHotReloadTLSOnLive starts a server on an empty web.yml and writes an
// mTLS config: without a restart, the next plain HTTP client is refused and
// an mTLS client is served.
func TestHotReloadTLSOnLive(t *testing.T) {
	e := newReloadEnv(t, "")
	e.serve(reloadWatch)
	if got := e.status(reloadClient{}); got != http.StatusOK {
		t.Fatalf("plain HTTP on the empty config: status %d, want 200", got)
	}
	e.writeConfig(reloadMTLS)
	e.tls = true
	mtls := reloadClient{cert: e.newClientCert(e.ca, "scraper.example")}
	watchEventually(t, "TLS to be served", func() bool { return e.status(mtls) == http.StatusOK })
	if got := e.status(reloadClient{plain: true}); got == http.StatusOK {
		t.Errorf("plain HTTP after TLS was switched on: status %d, want a refusal", got)
	}
	if got := e.status(reloadClient{}); got != 0 {
		t.Errorf("TLS client without certificate: status %d, want a refused handshake", got)
	}
	// The new snapshot serves a moment before the reload's line is written.
	watchEventually(t, "the reload's log line", func() bool { return len(e.logs.find("web config reloaded")) > 0 })
	if l := e.logs.find("web config reloaded"); len(l) != 1 || !strings.Contains(l[0].attrs["tls"], "switched on") {
		t.Errorf("reload log lines %+v, want one saying TLS switched on", l)
	}
	if n := len(e.logs.find("held back")) + len(e.logs.find("reload failed")); n != 0 {
		t.Errorf("%d held-back or failure lines for switching TLS on", n)
	}
}

// TestHotReloadHTTP2 switches HTTP/2 off and on again: each applies to the
// next connection, and neither is held.
func TestHotReloadHTTP2(t *testing.T) {
	e := newReloadEnv(t, reloadTLS)
	e.serve(reloadWatch)
	alpn := func() string {
		conn, err := tls.Dial("tcp", e.addr, &tls.Config{RootCAs: e.ca.Pool(), NextProtos: []string{"h2", "http/1.1"}})
		if err != nil {
			return "failed: " + err.Error()
		}
		defer conn.Close()
		return conn.ConnectionState().NegotiatedProtocol
	}
	if got := alpn(); got != "h2" {
		t.Fatalf("ALPN %q at start, want h2", got)
	}
	e.writeConfig(reloadTLS + "http_server_config:\n  http2: false\n")
	watchEventually(t, "HTTP/2 off", func() bool { return alpn() == "http/1.1" })
	e.writeConfig(reloadTLS)
	watchEventually(t, "HTTP/2 on", func() bool { return alpn() == "h2" })
	if got := e.reloads(reloadHeld); got != 0 {
		t.Errorf("reloads{outcome=held} = %v, want 0", got)
	}
}

// TestHotReloadDirectorySymlinkSwap names the certificate through a
// directory symlink in the middle of the path (certs -> gen1) and re-points
// it (certs -> gen2) the way `ln -sfn` does: the new certificate is served
// from the file events, polling being off.
func TestHotReloadDirectorySymlinkSwap(t *testing.T) {
	e := newReloadEnv(t, "tls_server_config:\n  cert_file: certs/server.crt\n  key_file: certs/server.key\n")
	for _, gen := range []string{"gen1", "gen2"} {
		if err := os.Mkdir(filepath.Join(e.dir, gen), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.server.WriteFiles(filepath.Join(e.dir, "gen1", "server.crt"), filepath.Join(e.dir, "gen1", "server.key")); err != nil {
		t.Fatal(err)
	}
	next := e.newServerCert()
	if err := next.WriteFiles(filepath.Join(e.dir, "gen2", "server.crt"), filepath.Join(e.dir, "gen2", "server.key")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("gen1", filepath.Join(e.dir, "certs")); err != nil {
		t.Fatal(err)
	}
	e.serve(reloadWatch)
	if got, want := e.servedSerial(), e.server.Cert.SerialNumber.String(); got != want {
		t.Fatalf("serving %s, want %s", got, want)
	}
	swapSymlink(t, filepath.Join(e.dir, "certs"), "gen2")
	want := next.Cert.SerialNumber.String()
	watchEventually(t, "the certificate behind the re-pointed link", func() bool { return e.servedSerial() == want })

	// The directory the link leads to now is watched too: a later write
	// there, once the swap has settled, is seen.
	time.Sleep(5 * reloadWatch.debounce) // the operator's pause, not an assertion
	third := e.newServerCert()
	if err := third.WriteFiles(filepath.Join(e.dir, "gen2", "server.crt"), filepath.Join(e.dir, "gen2", "server.key")); err != nil {
		t.Fatal(err)
	}
	want = third.Cert.SerialNumber.String()
	watchEventually(t, "a certificate rewritten in the new directory", func() bool { return e.servedSerial() == want })
}

// swapSymlink re-points the symlink at link to target atomically: a new link
// renamed over it, as `ln -sfn` and deploy tools do.
func swapSymlink(t testing.TB, link, target string) {
	t.Helper()
	tmp := link + ".tmp"
	if err := os.Symlink(target, tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, link); err != nil {
		t.Fatal(err)
	}
}

// TestInMemoryConfig serves the web section of a service's own config file:
// its certificate files are watched and reloaded as usual, a changed section
// handed over with Update follows the rules of a file change (tightening at
// once, a downgrade held until Reload, a broken one refused with the last
// good kept), and errors name the service file, line and field.
func TestInMemoryConfig(t *testing.T) {
	e := newReloadEnv(t, "")
	svc := filepath.Join(e.dir, "service.yml")
	section := func(web string) *config.Config {
		t.Helper()
		c, err := config.ParseSection([]byte("name: svc\nweb:\n"+web), svc, "web")
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	indent := func(s string) string {
		return "  " + strings.ReplaceAll(strings.TrimSuffix(s, "\n"), "\n", "\n  ") + "\n"
	}
	alice := "basic_auth_users:\n  alice: " + reloadHash(t, "alice-pw") + "\n"

	if _, err := New(Options{ConfigFile: e.cfgPath, Config: section(indent(reloadTLS))}); err == nil {
		t.Error("New with both ConfigFile and Config succeeded")
	}
	logs := &reloadLog{}
	g, err := New(Options{Config: section(indent(reloadTLS + alice)), Logger: slog.New(logs)})
	if err != nil {
		t.Fatal(err)
	}
	g.watchOpts = reloadWatch
	e.g, e.logs, e.tls = g, logs, true
	t.Cleanup(func() { g.Close() }) // after the server stops
	e.addr = serveServer(t, g, &http.Server{Handler: http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})})
	aliceC := reloadClient{user: "alice", pass: "alice-pw"}
	watchEventually(t, "serving", func() bool { return e.status(aliceC) == http.StatusOK })

	// The certificate files the section names are watched.
	next := e.newServerCert()
	if err := next.WriteFiles(filepath.Join(e.dir, "server.crt"), filepath.Join(e.dir, "server.key")); err != nil {
		t.Fatal(err)
	}
	watchEventually(t, "the rotated certificate", func() bool { return e.servedSerial() == next.Cert.SerialNumber.String() })

	// Tightening applies at once.
	if err := g.Update(section(indent(reloadTLS + alice + "http_server_config:\n  headers:\n    X-Frame-Options: deny\n"))); err != nil {
		t.Fatalf("Update adding a header: %v", err)
	}
	if got := e.header(aliceC, "X-Frame-Options"); got != "deny" {
		t.Errorf("X-Frame-Options after Update = %q, want deny", got)
	}

	// A downgrade is held until Reload.
	err = g.Update(section(indent(reloadTLS)))
	if !errors.Is(err, ErrHeld) || !strings.Contains(err.Error(), "basic_auth_users") {
		t.Fatalf("Update removing every user: %v, want ErrHeld naming basic_auth_users", err)
	}
	if got := e.status(reloadClient{}); got != http.StatusUnauthorized {
		t.Errorf("no credentials while held: status %d, want 401", got)
	}
	if err := g.Reload(); err != nil {
		t.Fatal(err)
	}
	if got := e.status(reloadClient{}); got != http.StatusOK {
		t.Errorf("no credentials after Reload: status %d, want 200", got)
	}

	// A section whose files cannot be read is refused; the last good stays.
	// ParseSection reads the files: a missing one fails there, named.
	_, err = config.ParseSection([]byte("name: svc\nweb:\n"+indent(strings.Replace(reloadTLS, "server.crt", "missing.crt", 1))), svc, "web")
	if err == nil || !strings.HasPrefix(err.Error(), svc+":4: web.tls_server_config.cert_file: cannot read") {
		t.Errorf("ParseSection naming a missing file: %v", err)
	}
	failures := e.reloads(reloadFailure)
	good := section(indent(reloadTLS))
	if err := os.Rename(filepath.Join(e.dir, "server.key"), filepath.Join(e.dir, "server.key.away")); err != nil {
		t.Fatal(err)
	}
	err = g.Update(good)
	if err == nil || !strings.HasPrefix(err.Error(), svc+":5: web.tls_server_config.key_file: cannot read") {
		t.Errorf("Update with the key gone: %v, want an error at %s:5 naming web.tls_server_config.key_file", err, svc)
	}
	if got := e.reloads(reloadFailure); got < failures+1 {
		t.Errorf("reloads{outcome=failure} %v -> %v, want one more", failures, got)
	}
	if got := e.servedSerial(); got != next.Cert.SerialNumber.String() {
		t.Errorf("serving %s after a failed Update, want the last good %s", got, next.Cert.SerialNumber)
	}
	// The watcher sees the key gone (the section handed over names it),
	// and then back.
	e.waitReload(reloadFailure, failures+1)
	if err := os.Rename(filepath.Join(e.dir, "server.key.away"), filepath.Join(e.dir, "server.key")); err != nil {
		t.Fatal(err)
	}
	watchEventually(t, "the reload once the key is back", func() bool { return e.metric("webguard_config_last_reload_successful") == 1 })

	if err := (&Guard{path: "web.yml"}).Update(good); err == nil {
		t.Error("Update on a Guard serving a file succeeded")
	}
}

// TestCloseDoesNotWaitBehindReload blocks a reload on a read that does not
// return (the key replaced by a FIFO nobody writes, as a stuck network
// filesystem would): Close and the end of Serve return anyway, and the
// reload finishes on its own once the read does.
func TestCloseDoesNotWaitBehindReload(t *testing.T) {
	e := newReloadEnv(t, reloadTLS)
	e.serve(reloadWatch)
	fifo := filepath.Join(e.dir, "key.fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(fifo, filepath.Join(e.dir, "server.key")); err != nil {
		t.Fatal(err)
	}
	// Wait (bounded) for the reload to be stuck in the read, holding the
	// reload lock; a loader that refuses FIFOs outright never blocks, and
	// Close must return all the same.
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		if !e.g.reloadMu.TryLock() {
			t.Log("a reload is stuck in the read")
			break
		}
		e.g.reloadMu.Unlock()
		time.Sleep(5 * time.Millisecond)
	}
	closed := make(chan error, 1)
	go func() { closed <- e.g.Close() }()
	select {
	case <-closed:
	case <-time.After(watchWait):
		t.Fatal("Close waited behind a reload")
	}
	// Unblock the read so the reload's goroutine can finish.
	w, err := os.OpenFile(filepath.Join(e.dir, "server.key"), os.O_WRONLY|syscall.O_NONBLOCK, 0)
	if err == nil {
		w.Write(e.server.KeyPEM)
		w.Close()
	}
	watchEventually(t, "the reload to finish", func() bool {
		if e.g.reloadMu.TryLock() {
			e.g.reloadMu.Unlock()
			return true
		}
		return false
	})
}

// TestUpdateWithoutConfig serves a Guard made with no config at all, then
// hands it a section with TLS: the next connection speaks TLS, and the
// certificate files the section names are watched from then on.
func TestUpdateWithoutConfig(t *testing.T) {
	e := newReloadEnv(t, "")
	g, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	g.watchOpts = reloadWatch
	e.g, e.logs = g, &reloadLog{}
	t.Cleanup(func() { g.Close() }) // after the server stops
	e.addr = serveServer(t, g, &http.Server{Handler: http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})})
	watchEventually(t, "plain HTTP", func() bool { return e.status(reloadClient{}) == http.StatusOK })
	if err := g.Reload(); err != nil {
		t.Errorf("Reload without a config: %v", err)
	}

	c, err := config.ParseSection([]byte("web:\n  "+strings.ReplaceAll(strings.TrimSuffix(reloadTLS, "\n"), "\n", "\n  ")+"\n"), filepath.Join(e.dir, "service.yml"), "web")
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Update(c); err != nil {
		t.Fatalf("Update: %v", err)
	}
	e.tls = true
	if got, want := e.servedSerial(), e.server.Cert.SerialNumber.String(); got != want {
		t.Fatalf("serving %q after Update, want %s", got, want)
	}
	next := e.newServerCert()
	if err := next.WriteFiles(filepath.Join(e.dir, "server.crt"), filepath.Join(e.dir, "server.key")); err != nil {
		t.Fatal(err)
	}
	watchEventually(t, "the rotated certificate", func() bool { return e.servedSerial() == next.Cert.SerialNumber.String() })
}

// TestRequire: Options.Require vets the first config and every reload,
// explicit or not; a config it refuses is not served.
func TestRequire(t *testing.T) {
	p := newTestPKI(t)
	errNoUsers := errors.New("no basic_auth_users")
	require := func(cfg *config.Config) error {
		if len(cfg.Users) == 0 {
			return errNoUsers
		}
		return nil
	}
	if _, err := New(Options{ConfigFile: putFile(t, p.dir, "first.yml", p.tlsSection()), Require: require}); !errors.Is(err, errNoUsers) {
		t.Fatalf("New with a refused config: %v", err)
	}

	withUsers := p.tlsSection() + "basic_auth_users:\n  alice: " + testHash(t, "pw") + "\n"
	logs, logger := newLogBuffer()
	g := newGuardWith(t, p.dir, withUsers, Options{Logger: logger, Require: require})
	url, _ := startServing(t, g)
	c := p.httpClient(nil)
	mustGet(t, c, url, http.StatusUnauthorized)
	putFile(t, p.dir, "web.yml", p.tlsSection())
	eventuallyCount(t, "failed reloads", func() float64 {
		return float64(len(logs.lines(`msg="web config reload failed; serving the previous config"`, `err="no basic_auth_users"`)))
	}, 1)
	if err := g.Reload(); !errors.Is(err, errNoUsers) {
		t.Fatalf("explicit Reload of a refused config: %v", err)
	}
	mustGet(t, c, url, http.StatusUnauthorized)
	mustGet(t, c, url, http.StatusOK, basicAuth("alice", "pw"))
}
