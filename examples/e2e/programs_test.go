package e2e

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/webguard/webguard/bcrypt"
)

// waitExit waits (at most 20s) for p to exit and fails unless it exited 0.
func waitExit(t *testing.T, p *process) {
	t.Helper()
	select {
	case err := <-p.done:
		if err != nil {
			t.Fatalf("%s exited with %v; stderr:\n%s", p.cmd.Path, err, p.log())
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("%s did not exit within 20s of SIGTERM; stderr:\n%s", p.cmd.Path, p.log())
	}
}

// TestExporterProgram runs examples/exporter as users do: flags, a web.yml,
// SIGHUP to reload it, SIGTERM to stop.
func TestExporterProgram(t *testing.T) {
	bin := build(t, "./examples/exporter")
	dir := t.TempDir()
	ca := newCA(t)
	writeCert(t, dir, "exporter", serverCert(t, ca, "127.0.0.1"))
	webConfig := func(password string) string {
		return fmt.Sprintf(`
tls_server_config:
  cert_file: exporter.crt
  key_file: exporter.key
basic_auth_users:
  prometheus: %s
`, hash(t, password, bcrypt.MinCost))
	}
	webYML := writeFile(t, dir, "web.yml", webConfig("first"))
	p := startProcess(t, bin, "--web.listen-address=127.0.0.1:0", "--web.config.file="+webYML)
	base := "https://" + p.waitLine(t, listeningRE)[1]
	c := client(t, ca, nil)

	status, body, err := get(c, base+"/", "prometheus", "first")
	if err != nil || status != 200 || !strings.Contains(body, `href="/metrics"`) {
		t.Errorf("landing page: status %d, err %v; want 200 with a link to /metrics:\n%s", status, err, body)
	}
	status, body, err = get(c, base+"/metrics", "prometheus", "first")
	if err != nil || status != 200 {
		t.Fatalf("GET /metrics: status %d, err %v; want 200", status, err)
	}
	for _, m := range []string{"process_cpu_seconds_total", "go_goroutines", "go_build_info", "exporter_scrapes_total", "webguard_config_last_reload_successful"} {
		if !strings.Contains(body, m) {
			t.Errorf("/metrics lacks %s", m)
		}
	}

	// SIGHUP applies a new password at once.
	writeFile(t, dir, "web.yml", webConfig("second"))
	if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	p.waitLine(t, regexp.MustCompile(`msg="web config reloaded"`))
	if status, _, err := get(c, base+"/metrics", "prometheus", "first"); err != nil || status != 401 {
		t.Errorf("old password after reload: status %d, err %v; want 401", status, err)
	}
	if status, _, err := get(c, base+"/metrics", "prometheus", "second"); err != nil || status != 200 {
		t.Errorf("new password after reload: status %d, err %v; want 200", status, err)
	}

	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitExit(t, p)
}

// TestServerProgram runs examples/server: its UI behind web.yml, SIGHUP to
// reload the scrape config, SIGTERM to stop (scrapers included).
func TestServerProgram(t *testing.T) {
	bin := build(t, "./examples/server")
	dir := t.TempDir()
	ca := newCA(t)
	writeCert(t, dir, "server", serverCert(t, ca, "127.0.0.1"))
	webYML := writeFile(t, dir, "web.yml", fmt.Sprintf(`
tls_server_config:
  cert_file: server.crt
  key_file: server.key
basic_auth_users:
  admin: %s
`, hash(t, "admin-password", bcrypt.MinCost)))
	exporterAddr, _ := startExporter(t, "")
	scrapeConfig := func(jobs ...string) string {
		s := "scrape_configs:\n"
		for _, j := range jobs {
			s += fmt.Sprintf("  - job_name: %s\n    static_configs: [{targets: ['%s']}]\n", j, exporterAddr)
		}
		return s
	}
	promYML := writeFile(t, dir, "prometheus.yml", scrapeConfig("one"))
	p := startProcess(t, bin, "--config.file="+promYML, "--web.listen-address=127.0.0.1:0", "--web.config.file="+webYML)
	api := "https://" + p.waitLine(t, listeningRE)[1] + "/api/v1/targets"
	c := client(t, ca, nil)

	jobs := func() []string {
		t.Helper()
		status, body, err := get(c, api, "admin", "admin-password")
		if err != nil || status != 200 {
			t.Fatalf("GET %s: status %d, err %v", api, status, err)
		}
		var resp struct {
			Data struct{ ActiveTargets []struct{ ScrapePool string } }
		}
		if err := json.Unmarshal([]byte(body), &resp); err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, at := range resp.Data.ActiveTargets {
			out = append(out, at.ScrapePool)
		}
		return out
	}
	if got := jobs(); len(got) != 1 || got[0] != "one" {
		t.Fatalf("jobs = %v, want [one]", got)
	}
	if status, _, err := get(c, api, "", ""); err != nil || status != 401 {
		t.Errorf("API without password: status %d, err %v; want 401", status, err)
	}

	writeFile(t, dir, "prometheus.yml", scrapeConfig("one", "two"))
	if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	p.waitLine(t, regexp.MustCompile(`msg="config reloaded"`))
	if got := jobs(); len(got) != 2 || got[0] != "one" || got[1] != "two" {
		t.Errorf("jobs after SIGHUP = %v, want [one two]", got)
	}

	// An invalid scrape config is refused and the running one stays.
	writeFile(t, dir, "prometheus.yml", "scrape_configs: [{job_name: x, bogus: 1}]\n")
	if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	p.waitLine(t, regexp.MustCompile(`msg="reload failed, keeping the previous config"`))
	if got := jobs(); len(got) != 2 {
		t.Errorf("jobs after a bad reload = %v, want the previous two", got)
	}

	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitExit(t, p)
}
