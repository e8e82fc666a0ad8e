package bootstrap

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/webguard/webguard/bcrypt"
	"github.com/webguard/webguard/internal/pki"
)

// listenLog is a slog.Handler that passes on the address of each
// "listening" line web logs, and keeps every message.
type listenLog struct {
	addrs chan string
	mu    sync.Mutex
	msgs  []string
}

// listening waits for the runner to log the address it listens on and
// returns it; done reports the runner returning first.
func (l *listenLog) listening(t *testing.T, done <-chan error) string {
	t.Helper()
	select {
	case a := <-l.addrs:
		return a
	case err := <-done:
		t.Fatalf("run: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("not listening after 20s")
	}
	return ""
}

func (l *listenLog) Enabled(context.Context, slog.Level) bool { return true }
func (l *listenLog) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *listenLog) WithGroup(string) slog.Handler            { return l }
func (l *listenLog) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	l.msgs = append(l.msgs, r.Message)
	l.mu.Unlock()
	if r.Message == "listening" {
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "address" {
				l.addrs <- a.Value.String()
			}
			return true
		})
	}
	return nil
}

func (l *listenLog) logged(part string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, m := range l.msgs {
		if strings.Contains(m, part) {
			return true
		}
	}
	return false
}

// tlsFiles writes a CA, a server certificate for 127.0.0.1 and a web.yml
// with TLS and the user "prometheus" (password "secret") to dir, and
// returns the CA file and web.yml paths.
func tlsFiles(t *testing.T, dir string) (caFile, webYML string) {
	t.Helper()
	if _, err := pki.WriteServerFiles(dir, "127.0.0.1"); err != nil {
		t.Fatal(err)
	}
	caFile = filepath.Join(dir, "ca.crt")
	hash, err := bcrypt.Hash([]byte("secret"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	webYML = filepath.Join(dir, "web.yml")
	yml := fmt.Sprintf("tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\nbasic_auth_users:\n  prometheus: %s\n", hash)
	if err := os.WriteFile(webYML, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	return caFile, webYML
}

// curl runs curl against url with the CA and, when user is not empty, the
// password "secret"; it returns the status code and body. curl is needed:
// the test fails without it.
func curl(t *testing.T, caFile, user, url string) (int, string) {
	t.Helper()
	cmd := curlCmd(t, caFile, user, url)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("curl %s: %v", url, err)
	}
	return parseCurl(t, string(out))
}

func curlCmd(t *testing.T, caFile, user, url string) *exec.Cmd {
	t.Helper()
	bin, err := exec.LookPath("curl")
	if err != nil {
		t.Fatalf("curl is needed: %v", err)
	}
	args := []string{"-sS", "--max-time", "20", "--cacert", caFile, "-w", "\n%{http_code}", url}
	if user != "" {
		args = append(args, "-u", user+":secret")
	}
	return exec.Command(bin, args...)
}

func parseCurl(t *testing.T, out string) (int, string) {
	t.Helper()
	i := strings.LastIndexByte(out, '\n')
	var code int
	if _, err := fmt.Sscan(out[i+1:], &code); err != nil {
		t.Fatalf("curl output %q: %v", out, err)
	}
	return code, out[:i]
}

// A bootstrap exporter over TLS and basic auth, driven with curl: a custom
// telemetry path, an extra route, the landing page, the webguard_* metrics,
// and --web.max-requests answering 503.
func TestRunnerWithCurl(t *testing.T) {
	dir := t.TempDir()
	caFile, webYML := tlsFiles(t, dir)
	reg := prometheus.NewRegistry()
	logs := &listenLog{addrs: make(chan string, 1)}
	held, release := make(chan struct{}, 1), make(chan struct{})
	metrics := promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	r := New(Config{
		App:        kingpin.New("test_exporter", "a test"),
		Name:       "test_exporter",
		Logger:     slog.New(logs),
		Registerer: reg,
		MetricsHandlerFactory: func(b *Bootstrap) (http.Handler, error) {
			b.HandleFunc("/hello", func(w http.ResponseWriter, _ *http.Request) {
				fmt.Fprintf(w, "hello, metrics at %s, max %d", b.MetricsPath, b.MaxRequests)
			})
			return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
				if req.URL.Query().Has("hold") {
					held <- struct{}{}
					<-release
				}
				metrics.ServeHTTP(w, req)
			}), nil
		},
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- r.run(ctx, []string{"--web.listen-address=127.0.0.1:0", "--web.config.file=" + webYML,
			"--web.telemetry-path=/custom", "--web.max-requests=1"})
	}()
	base := "https://" + logs.listening(t, done)
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run after cancel: %v", err)
		}
	}()

	code, body := curl(t, caFile, "prometheus", base+"/custom")
	if code != 200 || !strings.Contains(body, "webguard_config_last_reload_successful 1") {
		t.Errorf("/custom: %d, want 200 with the webguard_* metrics:\n%s", code, body)
	}
	if code, _ := curl(t, caFile, "", base+"/custom"); code != 401 {
		t.Errorf("/custom without a password: %d, want 401", code)
	}
	if code, _ := curl(t, caFile, "prometheus", base+"/metrics"); code != 404 {
		t.Errorf("/metrics: %d, want 404 (the telemetry path is /custom)", code)
	}
	if code, body := curl(t, caFile, "prometheus", base+"/hello"); code != 200 || body != "hello, metrics at /custom, max 1" {
		t.Errorf("/hello: %d %q", code, body)
	}
	if code, body := curl(t, caFile, "prometheus", base+"/"); code != 200 || !strings.Contains(body, `href="/custom"`) || !strings.Contains(body, "<title>test_exporter</title>") {
		t.Errorf("landing page: %d, want 200 with a link to /custom:\n%s", code, body)
	}

	// One scrape in progress holds the only slot: the next one gets 503.
	first := curlCmd(t, caFile, "prometheus", base+"/custom?hold")
	var out strings.Builder
	first.Stdout = &out
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-held:
	case <-time.After(20 * time.Second):
		t.Fatal("the held scrape did not arrive within 20s")
	}
	code, body = curl(t, caFile, "prometheus", base+"/custom")
	close(release)
	if code != 503 || !strings.Contains(body, "--web.max-requests") {
		t.Errorf("second scrape while one is in progress: %d %q, want 503", code, body)
	}
	if err := first.Wait(); err != nil {
		t.Fatal(err)
	}
	if code, _ := parseCurl(t, out.String()); code != 200 {
		t.Errorf("held scrape: %d, want 200", code)
	}
	if !logs.logged("requests refused with 503") {
		t.Error("no log line about the refused request")
	}
	if code, _ := curl(t, caFile, "prometheus", base+"/custom"); code != 200 {
		t.Errorf("scrape after the slot was freed: %d, want 200", code)
	}
}

// --web.disable-exporter-metrics leaves the webguard_* metrics out.
func TestRunnerDisableExporterMetrics(t *testing.T) {
	dir := t.TempDir()
	caFile, webYML := tlsFiles(t, dir)
	reg := prometheus.NewRegistry()
	reg.MustRegister(prometheus.NewCounter(prometheus.CounterOpts{Name: "test_total", Help: "A counter."}))
	logs := &listenLog{addrs: make(chan string, 1)}
	var disabled bool
	r := New(Config{
		App:        kingpin.New("test_exporter", ""),
		Logger:     slog.New(logs),
		Registerer: reg,
		MetricsHandlerFactory: func(b *Bootstrap) (http.Handler, error) {
			disabled = b.DisableExporterMetrics
			return promhttp.HandlerFor(reg, promhttp.HandlerOpts{}), nil
		},
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- r.run(ctx, []string{"--web.listen-address=127.0.0.1:0", "--web.config.file=" + webYML, "--web.disable-exporter-metrics"})
	}()
	base := "https://" + logs.listening(t, done)
	code, body := curl(t, caFile, "prometheus", base+"/metrics")
	cancel()
	if err := <-done; err != nil {
		t.Errorf("run after cancel: %v", err)
	}
	if !disabled {
		t.Error("Bootstrap.DisableExporterMetrics is false")
	}
	if code != 200 || !strings.Contains(body, "test_total 0") || strings.Contains(body, "webguard_") {
		t.Errorf("/metrics: %d, want 200 with test_total and no webguard_*:\n%s", code, body)
	}
}

// What stops Run before it serves, with the reason.
func TestRunnerErrors(t *testing.T) {
	ok := http.NotFoundHandler()
	for _, tc := range []struct {
		name string
		c    Config
		args []string
		want string
	}{
		{"no handler", Config{}, nil, "no metrics handler"},
		{"two handlers", Config{MetricsHandler: ok, MetricsHandlerFactory: func(*Bootstrap) (http.Handler, error) { return ok, nil }}, nil, "both"},
		{"factory fails", Config{MetricsHandlerFactory: func(*Bootstrap) (http.Handler, error) { return nil, errors.New("no database") }}, nil, "no database"},
		{"route on the metrics path", Config{MetricsHandlerFactory: func(b *Bootstrap) (http.Handler, error) {
			b.Handle("/m", ok)
			return ok, nil
		}}, []string{"--web.telemetry-path=/m"}, `route "/m" is the metrics path`},
		{"routes in conflict", Config{MetricsHandlerFactory: func(b *Bootstrap) (http.Handler, error) {
			b.Handle("/a", ok)
			b.Handle("/a", ok)
			return ok, nil
		}}, nil, `route "/a"`},
		{"empty telemetry path", Config{MetricsHandler: ok}, []string{"--web.telemetry-path="}, "--web.telemetry-path is empty"},
		{"negative max requests", Config{MetricsHandler: ok}, []string{"--web.max-requests=-1"}, "--web.max-requests is -1"},
		{"unknown flag", Config{MetricsHandler: ok}, []string{"--web.nope"}, "web.nope"},
		{"bad web config", Config{MetricsHandler: ok}, []string{"--web.config.file=/nonexistent/web.yml"}, "/nonexistent/web.yml"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.c.App = kingpin.New("x", "")
			tc.c.Logger = slog.New(slog.DiscardHandler)
			err := New(tc.c).run(context.Background(), append([]string{"--web.listen-address=127.0.0.1:0"}, tc.args...))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error with %q", err, tc.want)
			}
		})
	}
}
