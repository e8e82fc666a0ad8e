package main

import (
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/webguard/webguard/bcrypt"
)

// TestProxyUnixSocket runs the proxy on a unix socket, as
// --web.listen-address=unix:///... asks, with TLS and basic auth: curl gets
// through with the password, not without, the socket has the mode
// --web.listen-socket-mode sets, and SIGTERM removes it.
func TestProxyUnixSocket(t *testing.T) {
	need(t, "curl")
	dir := t.TempDir()
	tlsPKI(t, dir)
	hash, err := bcrypt.Hash([]byte("secret"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	writeTestFile(t, filepath.Join(dir, "web.yml"), "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\nbasic_auth_users:\n  prometheus: "+string(hash)+"\n", 0o600)
	up := newUpstream(t)
	sock := filepath.Join(dir, "proxy.sock")

	p := &proxyProc{logs: &syncBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(binary, "proxy", "--web.config.file", "web.yml", "--upstream", up.URL,
		"--web.listen-address", "unix://"+sock, "--web.listen-socket-mode", "0600")
	p.cmd.Dir = dir
	p.cmd.Stdout, p.cmd.Stderr = p.logs, p.logs
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() { p.stop(t) })
	p.waitLog(t, "msg=listening address="+sock)

	fi, err := os.Lstat(sock)
	if err != nil || fi.Mode().Type() != fs.ModeSocket || fi.Mode().Perm() != 0o600 {
		t.Fatalf("socket file: %v, %v; want a socket with mode 0600", fi, err)
	}
	status := func(args ...string) string {
		out, err := tool(t, "curl", append([]string{"-sS", "-o", "/dev/null", "-w", "%{http_code}", "--unix-socket", sock,
			"--cacert", filepath.Join(dir, "ca.crt"), "https://localhost/metrics"}, args...)...)
		if err != nil {
			t.Fatalf("curl: %v\n%s", err, out)
		}
		return strings.TrimSpace(out)
	}
	if got := status("-u", "prometheus:secret"); got != "200" {
		t.Errorf("with the password: %s, want 200", got)
	}
	if got := status(); got != "401" {
		t.Errorf("without a password: %s, want 401", got)
	}

	p.stop(t)
	if _, err := os.Lstat(sock); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("socket after SIGTERM: %v, want it removed\n%s", err, p.logs)
	}
}
