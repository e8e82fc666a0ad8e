package scrape

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestConfigFiles loads every testdata/*.good.yml (must load) and
// *.bad.yml (must fail, saying why); the file name is the test case.
func TestConfigFiles(t *testing.T) {
	wantErr := map[string]string{
		"unknown-key.bad.yml":     "tls_confg",
		"unknown-tls-key.bad.yml": "ca_fil",
		"duplicate-job.bad.yml":   `job_name "node" is used twice`,
		"no-port.bad.yml":         "want host:port",
		"timeout.bad.yml":         "longer than scrape_interval",
		"password-twice.bad.yml":  "at most one of basic_auth password",
		"scheme.bad.yml":          `scheme "ftp"`,
		"no-job-name.bad.yml":     "job_name is required",
	}
	files, err := filepath.Glob("testdata/*.yml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata: %v", err)
	}
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			_, err := LoadConfig(f)
			switch {
			case strings.HasSuffix(name, ".good.yml"):
				if err != nil {
					t.Fatalf("want no error, got %v", err)
				}
			case strings.HasSuffix(name, ".bad.yml"):
				want, ok := wantErr[name]
				if !ok {
					t.Fatalf("no expected error listed for %s", name)
				}
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Fatalf("want an error containing %q, got %v", want, err)
				}
			default:
				t.Fatalf("name a test file *.good.yml or *.bad.yml")
			}
		})
	}
}

// TestConfigDefaultsAndPaths checks what LoadConfig fills in: defaults
// inherited from global, and client file paths made relative to the file.
func TestConfigDefaultsAndPaths(t *testing.T) {
	c, err := LoadConfig("testdata/tls.good.yml")
	if err != nil {
		t.Fatal(err)
	}
	sc := c.ScrapeConfigs[0]
	if got := time.Duration(sc.ScrapeInterval); got != 30*time.Second {
		t.Errorf("scrape_interval = %s, want the job's 30s", got)
	}
	if got := time.Duration(sc.ScrapeTimeout); got != 5*time.Second {
		t.Errorf("scrape_timeout = %s, want global 5s", got)
	}
	tc := sc.HTTPClientConfig.TLSConfig
	if want := filepath.Join("testdata", "ca.crt"); tc.CAFile != want {
		t.Errorf("ca_file = %q, want %q", tc.CAFile, want)
	}
	if want := filepath.Join("testdata", "secrets", "password"); sc.HTTPClientConfig.BasicAuth.PasswordFile != want {
		t.Errorf("password_file = %q, want %q", sc.HTTPClientConfig.BasicAuth.PasswordFile, want)
	}
	if tc.ServerName != "node.example.internal" {
		t.Errorf("server_name = %q", tc.ServerName)
	}
	if !sc.HTTPClientConfig.FollowRedirects || !sc.HTTPClientConfig.EnableHTTP2 {
		t.Errorf("Prometheus' client defaults (follow_redirects, enable_http2) not applied")
	}

	m, err := LoadConfig("testdata/minimal.good.yml")
	if err != nil {
		t.Fatal(err)
	}
	msc := m.ScrapeConfigs[0]
	if msc.Scheme != "http" || msc.MetricsPath != "/metrics" || time.Duration(msc.ScrapeInterval) != time.Minute || time.Duration(msc.ScrapeTimeout) != 10*time.Second {
		t.Errorf("defaults: scheme %q, metrics_path %q, interval %s, timeout %s; want http, /metrics, 1m, 10s",
			msc.Scheme, msc.MetricsPath, msc.ScrapeInterval, msc.ScrapeTimeout)
	}
}
