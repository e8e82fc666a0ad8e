package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// shellBlocks returns the ```sh blocks of a Markdown page, in order: the
// session the page promises runs top to bottom. Output is shown in ```text
// blocks, which are not run.
func shellBlocks(page string) string {
	var b strings.Builder
	in := false
	for line := range strings.Lines(page) {
		switch {
		case !in && strings.TrimSpace(line) == "```sh":
			in = true
		case in && strings.HasPrefix(line, "```"):
			in = false
		case in:
			b.WriteString(line)
		}
	}
	return b.String()
}

// TestDocs runs each operator page's shell session in an empty directory
// with the built webguard first on PATH, and checks a few things it prints.
func TestDocs(t *testing.T) {
	for _, tool := range []string{"bash", "curl", "openssl", "htpasswd", "promtool", "prometheus", "prometheus-node-exporter", "systemd-socket-activate"} {
		need(t, tool)
	}
	tests := []struct {
		page  string
		ports bool     // the page uses ports 9100, 9101 and 9090: use free ones
		want  []string // in the combined output
	}{
		{"validate-a-config.md", false, []string{"web.yml: OK", "weak.yml: OK (3 warnings)", "failing because of --strict", "exit status 1", "web.yml SUCCESS\nweak.yml SUCCESS\n", "weak.yml FAILED: warning: weak.yml:4:"}},
		{"make-a-password-hash.md", false, []string{"$2a$10$", "Password for user prometheus correct.", "$2a$12$", "webguard hash: empty password"}},
		{"make-certificates.md", false, []string{"pki/server.crt: OK", "pki/client.crt: OK", "DNS:node1.example.org", "web.yml: OK", "already exists; use --force"}},
		{"health-probes-without-a-password.md", true, []string{"Prometheus Server is Healthy.", "Prometheus Server is Ready.", "401 //-/healthy", "401 /-/healthy/../api/v1/status/config", "401 /-%2Fhealthy", "200 with the password"}},
		{"serve-on-a-unix-socket.md", true, []string{"srw-rw---- socket", "node_load1 ", "\n401\n", "exit status 1\nanother process is listening\n200\n", "socket\n200\n", "\n0\n"}},
		{"allow-clients-by-san-pattern.md", true, []string{`client_allowed_san_patterns[1]: pattern "*.org" would match names directly under a top-level domain`, "prom-1: admitted\nspiffe-prom: admitted\nnested: refused\nspiffe-app: refused\n", "sans=DNS:a.b.monitoring.example.org want="}},
		{"revoke-a-client-certificate.md", true, []string{"web.yml: OK", "prometheus 200\nlaptop 200\n", "laptop refused, exit status", `msg="client refused"`, "subject=\"CN=laptop"}},
		{"secure-an-exporter-you-cannot-change.md", true, []string{"node_load1 ", "\n401\n", "\n200\n", "SUCCESS", `msg="shutting down"`, "empty.yml turns on neither TLS"}},
		{"one-port-for-several-exporters.md", true, []string{"web.yml: OK", `href="/node/metrics"`, `href="/app/metrics"`, "\n401\n", "SUCCESS", `job="app"} => 1`, `job="node"} => 1`, "msg=proxying path=/app/ upstream=unix://"}},
		{"proxy-to-a-tls-or-socket-upstream.md", true, []string{"refused, exit status", "\n200\n", "msg=proxying path=/local/ upstream=unix://", `msg="upstream TLS files reloaded"`}},
	}
	for _, tt := range tests {
		t.Run(tt.page, func(t *testing.T) {
			page, err := os.ReadFile(filepath.Join("..", "..", "docs", tt.page))
			if err != nil {
				t.Fatal(err)
			}
			script := shellBlocks(string(page))
			if script == "" {
				t.Fatal("no shell session in the page")
			}
			// A port chosen free may be taken (by another test's client
			// connection, say) before the page's server binds it: the
			// session is then run again, on new ports.
			var out string
			for attempt := 1; ; attempt++ {
				var logs string
				out, logs, err = runSession(t, need(t, "bash"), script, tt.ports)
				if err == nil {
					break
				}
				if tt.ports && attempt < 3 && strings.Contains(out+logs, "address already in use") {
					t.Logf("attempt %d: a port was taken before the page's server bound it; again on new ports", attempt)
					continue
				}
				t.Fatalf("the session in docs/%s fails: %v\n%s\nlog files of the session:\n%s", tt.page, err, out, logs)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("the session's output lacks %q:\n%s", w, out)
				}
			}
		})
	}
}

// runSession runs a page's shell session in a new directory, with free
// ports for 9100, 9101 and 9090 when ports is set, and returns its output
// and the *.log files it wrote, each under its name.
func runSession(t *testing.T, bash, script string, ports bool) (out, logs string, err error) {
	t.Helper()
	if ports {
		p := freePorts(t, 3)
		script = strings.NewReplacer("9100", p[0], "9101", p[1], "9090", p[2]).Replace(script)
	}
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bash, "-euo", "pipefail", "-c", script)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PATH="+filepath.Dir(binary)+string(os.PathListSeparator)+os.Getenv("PATH"))
	// The session starts background processes; if it fails half-way they
	// must not outlive the test, so it gets its own group.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	// A session that fails half-way leaves its background processes
	// holding the output pipe: without a delay, Wait would wait for them
	// forever and the cleanup below would never run.
	cmd.WaitDelay = 10 * time.Second
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) })
	err = cmd.Wait()
	if err != nil {
		// Whatever the session's servers said, for the failure message.
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		files, _ := filepath.Glob(filepath.Join(dir, "*.log"))
		var b strings.Builder
		for _, f := range files {
			data, _ := os.ReadFile(f)
			fmt.Fprintf(&b, "== %s\n%s\n", filepath.Base(f), data)
		}
		logs = b.String()
	}
	return buf.String(), logs, err
}
