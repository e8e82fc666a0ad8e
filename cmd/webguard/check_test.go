package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/webguard/webguard/config"

	"github.com/webguard/webguard/bcrypt"
	"github.com/webguard/webguard/internal/pki"
)

// checkDir is a directory with a CA (ca.crt), a server certificate
// (server.crt, server.key) and a second, unrelated key (other.key).
func checkDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	ca, err := pki.NewCA(pki.Request{})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := ca.Server(pki.Request{Hosts: []string{"localhost", "127.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	other, err := ca.Server(pki.Request{Hosts: []string{"localhost"}})
	if err != nil {
		t.Fatal(err)
	}
	old, err := ca.Server(pki.Request{Hosts: []string{"localhost"}, Validity: -time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []struct {
		c        *pki.Cert
		crt, key string
	}{{ca, "ca.crt", ""}, {srv, "server.crt", "server.key"}, {other, "", "other.key"}, {old, "old.crt", "old.key"}} {
		crt, key := f.crt, f.key
		if crt != "" {
			crt = filepath.Join(dir, crt)
		}
		if key != "" {
			key = filepath.Join(dir, key)
		}
		if err := f.c.WriteFiles(crt, key); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func hashOf(t *testing.T, password string, cost int) string {
	t.Helper()
	h, err := bcrypt.Hash([]byte(password), cost)
	if err != nil {
		t.Fatal(err)
	}
	return string(h)
}

const checkMTLS = `tls_server_config:
  cert_file: server.crt
  key_file: server.key
  client_ca_file: ca.crt
  client_auth_type: RequireAndVerifyClientCert
`

func TestCheck(t *testing.T) {
	dir := checkDir(t)
	good := hashOf(t, "secret", 10)
	weak := hashOf(t, "secret", 4)
	files := map[string]string{
		"empty.yml":    "",
		"mtls.yml":     checkMTLS,
		"users.yml":    checkMTLS + "basic_auth_users:\n  alice: " + good + "\n",
		"weak.yml":     checkMTLS + "basic_auth_users:\n  alice: " + good + "\n  bob: " + weak + "\n",
		"plain.yml":    "basic_auth_users:\n  alice: " + good + "\n",
		"expired.yml":  "tls_server_config:\n  cert_file: old.crt\n  key_file: old.key\n",
		"typo.yml":     "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  client_auth: RequireAndVerifyClientCert\n",
		"many.yml":     "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  min_version: TLS13\n  max_version: TLS12\nbasic_auth_users:\n  alice: not-a-hash\n",
		"mismatch.yml": "tls_server_config:\n  cert_file: server.crt\n  key_file: other.key\n",
		"nofile.yml":   "tls_server_config:\n  cert_file: missing.crt\n  key_file: server.key\n",
		"tab.yml":      "tls_server_config:\n  cert_file: server.crt\n\tkey_file: server.key\n",
		"indent.yml":   "tls_server_config:\n  cert_file: server.crt\n   key_file: server.key\n",
		"shallow.yml":  "http_server_config:\n  headers:\n    X-Frame-Options: deny\n   X-Content-Type-Options: nosniff\n",
	}
	for name, content := range files {
		writeTestFile(t, filepath.Join(dir, name), content, 0o600)
	}

	tests := []struct {
		name    string
		args    []string
		code    int
		stdout  []string // lines, exactly
		stderr  []string // substrings, each on its own line, in order
		hideout []string // must appear nowhere
	}{
		{
			name: "empty file", args: []string{"empty.yml"}, code: 0, stdout: []string{"empty.yml: OK (1 warning)"},
			stderr: []string{"empty.yml: warning: neither tls_server_config nor basic_auth_users is set: the endpoint serves plain HTTP to anyone"},
		},
		{name: "mutual TLS", args: []string{"mtls.yml"}, code: 0, stdout: []string{"mtls.yml: OK"}},
		{name: "mutual TLS and users", args: []string{"users.yml"}, code: 0, stdout: []string{"users.yml: OK"}},
		{
			name: "several files", args: []string{"mtls.yml", "users.yml", "empty.yml"}, code: 0,
			stdout: []string{"mtls.yml: OK", "users.yml: OK", "empty.yml: OK (1 warning)"},
		},
		{
			name: "weak hash warns", args: []string{"weak.yml"}, code: 0,
			stdout:  []string{"weak.yml: OK (1 warning)"},
			stderr:  []string{`weak.yml:8: warning: basic_auth_users["bob"]: bcrypt cost 4 is below 10`},
			hideout: []string{weak},
		},
		{
			name: "weak hash with --strict", args: []string{"--strict", "weak.yml"}, code: 1,
			stderr: []string{`weak.yml:8: warning: basic_auth_users["bob"]: bcrypt cost 4`, "weak.yml: 1 warning, failing because of --strict"},
		},
		{
			name: "--strict after the file", args: []string{"weak.yml", "--strict"}, code: 1,
			stderr: []string{"failing because of --strict"},
		},
		{
			name: "--strict with a clean file", args: []string{"--strict", "users.yml"}, code: 0,
			stdout: []string{"users.yml: OK"},
		},
		{
			name: "basic auth without TLS", args: []string{"plain.yml"}, code: 0,
			stdout: []string{"plain.yml: OK (1 warning)"},
			stderr: []string{"plain.yml:1: warning: basic_auth_users: basic auth without TLS"},
		},
		{
			name: "expired certificate", args: []string{"--strict", "expired.yml"}, code: 1,
			stderr: []string{"expired.yml:2: warning: tls_server_config.cert_file: server certificate expired on"},
		},
		{
			name: "misspelled field", args: []string{"typo.yml"}, code: 1,
			stderr: []string{"typo.yml:4: tls_server_config.client_auth: unknown field (want one of cert_file,"},
		},
		{
			name: "one error per line", args: []string{"many.yml"}, code: 1,
			stderr: []string{"many.yml:4: tls_server_config.min_version: min_version TLS13 is above max_version TLS12", `many.yml:7: basic_auth_users["alice"]: not a bcrypt hash`},
		},
		{
			name: "key does not match", args: []string{"mismatch.yml"}, code: 1,
			stderr: []string{"mismatch.yml:2: tls_server_config.cert_file:", "do not make a key pair"},
		},
		{
			name: "certificate file missing", args: []string{"nofile.yml"}, code: 1,
			stderr: []string{"nofile.yml:2: tls_server_config.cert_file: cannot read", "no such file or directory"},
		},
		{
			name: "config file missing", args: []string{"absent.yml"}, code: 1,
			stderr: []string{"absent.yml: cannot read config file: no such file or directory"},
		},
		{
			name: "a bad file among good ones", args: []string{"mtls.yml", "typo.yml", "empty.yml"}, code: 1,
			stdout: []string{"mtls.yml: OK", "empty.yml: OK (1 warning)"},
			stderr: []string{"typo.yml:4:"},
		},
		{name: "no file", args: nil, code: 2, stderr: []string{"webguard check: no file given"}},
		{
			name: "a tab", args: []string{"tab.yml"}, code: 1,
			stderr: []string{"tab.yml:3: tls_server_config: a tab in the indentation: YAML indents with spaces only"},
		},
		{
			name: "a key indented too far", args: []string{"indent.yml"}, code: 1,
			stderr: []string{`indent.yml:3: tls_server_config.cert_file: "key_file" is indented deeper (3 spaces) than the key above it`},
		},
		{
			name: "a key indented to no level", args: []string{"shallow.yml"}, code: 1,
			stderr: []string{"shallow.yml:4: http_server_config.headers: this line is indented by 3 spaces, which lines up with no key above it"},
		},
		{name: "unknown format", args: []string{"--format", "json", "mtls.yml"}, code: 2, stderr: []string{`webguard check: unknown --format "json"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := run(t, dir, "", append([]string{"check"}, tt.args...)...)
			if r.code != tt.code {
				t.Errorf("exit %d, want %d\n%s", r.code, tt.code, r)
			}
			got := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
			if r.stdout == "" {
				got = nil
			}
			if strings.Join(got, "\n") != strings.Join(tt.stdout, "\n") {
				t.Errorf("stdout:\n%s\nwant:\n%s", r.stdout, strings.Join(tt.stdout, "\n"))
			}
			rest := r.stderr
			for _, want := range tt.stderr {
				i := strings.Index(rest, want)
				if i < 0 {
					t.Errorf("stderr lacks %q (in order)\n%s", want, r)
					break
				}
				rest = rest[i+len(want):]
			}
			if tt.code == 1 && len(tt.stdout) == 0 && strings.Contains(r.stdout, "OK") {
				t.Errorf("a failing file printed OK\n%s", r)
			}
			for _, secret := range tt.hideout {
				if strings.Contains(r.stdout+r.stderr, secret) {
					t.Errorf("output shows a hash\n%s", r)
				}
			}
		})
	}
}

// TestCheckOneLinePerError checks that joined errors come out one per line,
// each with its file and line.
func TestCheckOneLinePerError(t *testing.T) {
	dir := t.TempDir()
	writeTestFile(t, filepath.Join(dir, "web.yml"), "tls_server_config:\n  foo: 1\n  bar: 2\nhttp_server_config:\n  http3: true\n", 0o600)
	r := run(t, dir, "", "check", "web.yml")
	lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
	if r.code != 1 || len(lines) < 3 {
		t.Fatalf("want exit 1 and at least 3 error lines\n%s", r)
	}
	for _, l := range lines {
		if !strings.HasPrefix(l, "web.yml:") {
			t.Errorf("line without file and line number: %q", l)
		}
	}
}

// TestCheckAgreesWithPromtool: files promtool check web-config accepts are
// accepted here too; the hazard it does not see gets a warning.
func TestCheckAgreesWithPromtool(t *testing.T) {
	need(t, "promtool")
	dir := checkDir(t)
	good := hashOf(t, "secret", 10)
	files := map[string]string{
		"mtls.yml":       checkMTLS + "basic_auth_users:\n  alice: " + good + "\n",
		"tls.yml":        "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  min_version: TLS13\n",
		"headers.yml":    "http_server_config:\n  headers:\n    X-Frame-Options: deny\n",
		"systemroot.yml": "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  client_auth_type: RequireAndVerifyClientCert\n",
	}
	for name, content := range files {
		path := filepath.Join(dir, name)
		writeTestFile(t, path, content, 0o600)
		if out, err := tool(t, "promtool", "check", "web-config", path); err != nil {
			t.Fatalf("promtool refuses %s: %v\n%s", name, err, out)
		}
		r := run(t, dir, "", "check", name)
		if r.code != 0 || !strings.HasPrefix(r.stdout, name+": OK") {
			t.Errorf("%s: promtool accepts it, webguard check does not\n%s", name, r)
		}
	}
	r := run(t, dir, "", "check", "systemroot.yml")
	if !strings.Contains(r.stderr, "system's root CAs") {
		t.Errorf("no warning about verifying against the system roots\n%s", r)
	}
}

// TestCheckPromtoolFormat runs promtool check web-config and webguard check
// --format promtool on the same files: the same stream, exit status and
// per-file lines ("FILE SUCCESS" byte for byte, "FILE FAILED: " as the
// prefix; the reasons are worded differently).
func TestCheckPromtoolFormat(t *testing.T) {
	need(t, "promtool")
	dir := checkDir(t)
	files := map[string]string{
		"empty.yml":   "",
		"tls.yml":     "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n",
		"headers.yml": "http_server_config:\n  headers:\n    X-Frame-Options: deny\n",
		"typo.yml":    "tls_server_config:\n  cert_fil: server.crt\n",
		"missing.yml": "tls_server_config:\n  cert_file: missing.crt\n  key_file: server.key\n",
		"tab.yml":     "tls_server_config:\n  cert_file: server.crt\n\tkey_file: server.key\n",
		"twice.yml":   "tls_server_config:\n  foo: 1\n  bar: 2\n",
	}
	for name, content := range files {
		writeTestFile(t, filepath.Join(dir, name), content, 0o600)
	}
	// perFile returns the lines that start a file's verdict: the rest are
	// continuation lines of a FAILED message.
	perFile := func(out string) []string {
		var ls []string
		for l := range strings.Lines(out) {
			if !strings.HasPrefix(l, " ") {
				ls = append(ls, strings.TrimSuffix(l, "\n"))
			}
		}
		return ls
	}
	for _, args := range [][]string{
		{"empty.yml", "tls.yml", "headers.yml"},
		{"tls.yml", "typo.yml", "empty.yml", "missing.yml", "tab.yml", "twice.yml"},
	} {
		var pOut, pErr strings.Builder
		cmd := exec.Command("promtool", append([]string{"check", "web-config"}, args...)...)
		cmd.Dir, cmd.Stdout, cmd.Stderr = dir, &pOut, &pErr
		pCode := 0
		if err := cmd.Run(); err != nil {
			var ee *exec.ExitError
			if !errors.As(err, &ee) {
				t.Fatal(err)
			}
			pCode = ee.ExitCode()
		}
		r := run(t, dir, "", append([]string{"check", "--format", "promtool"}, args...)...)
		if r.code != pCode || r.stdout != pOut.String() {
			t.Errorf("%v: exit %d, stdout %q; promtool: exit %d, stdout %q", args, r.code, r.stdout, pCode, pOut.String())
		}
		got, want := perFile(r.stderr), perFile(pErr.String())
		if len(got) != len(want) {
			t.Fatalf("%v: %d verdict lines, promtool %d\nwebguard:\n%s\npromtool:\n%s", args, len(got), len(want), r.stderr, pErr.String())
		}
		for i := range want {
			ok := got[i] == want[i]
			if p, _, failed := strings.Cut(want[i], " FAILED: "); failed {
				ok = strings.HasPrefix(got[i], p+" FAILED: ")
			}
			if !ok {
				t.Errorf("line %d: %q, promtool %q", i+1, got[i], want[i])
			}
		}
		if !strings.HasSuffix(r.stderr, "\n") {
			t.Errorf("output does not end in a line break: %q", r.stderr)
		}
	}
}

// TestCheckWarnsWhatPromtoolRefuses: files that webguard loads but
// promtool (Prometheus' exporter-toolkit) refuses get a warning that says
// so, naming the key.
func TestCheckWarnsWhatPromtoolRefuses(t *testing.T) {
	need(t, "promtool")
	dir := checkDir(t)
	tls := "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"
	files := []struct{ name, content, warning string }{
		{"paths.yml", tls + "http_server_config:\n  unauthenticated_paths: [/-/healthy]\n",
			"paths.yml:5: warning: http_server_config.unauthenticated_paths: unauthenticated_paths is a webguard extension: exporter-toolkit v0.20.0 and Prometheus refuse the file"},
		{"password.yml", tls + "  key_password_file: server.crt\n",
			"password.yml:4: warning: tls_server_config.key_password_file: key_password_file is a webguard extension"},
		{"mlkem.yml", tls + "  curve_preferences: [X25519MLKEM768, X25519]\n",
			"mlkem.yml:4: warning: tls_server_config.curve_preferences[0]: X25519MLKEM768 is unknown to exporter-toolkit v0.20.0 and Prometheus"},
	}
	for _, f := range files {
		writeTestFile(t, filepath.Join(dir, f.name), f.content, 0o600)
		if out, err := tool(t, "promtool", "check", "web-config", filepath.Join(dir, f.name)); err == nil {
			t.Errorf("promtool accepts %s; the warning would be wrong\n%s", f.name, out)
		}
		r := run(t, dir, "", "check", f.name)
		if r.code != 0 || !strings.Contains(r.stderr, f.warning) {
			t.Errorf("%s: want exit 0 and %q\n%s", f.name, f.warning, r)
		}
		r = run(t, dir, "", "check", "--strict", "--format", "promtool", f.name)
		if r.code != 1 || !strings.HasPrefix(r.stderr, f.name+" FAILED: warning: ") {
			t.Errorf("%s --strict --format promtool: want FAILED\n%s", f.name, r)
		}
	}
}

// TestExpiryThresholdIsOneNumber: the alert examples in docs/ warn when
// `webguard check` and the logs do.
func TestExpiryThresholdIsOneNumber(t *testing.T) {
	days := int(config.ExpiryWarning / (24 * time.Hour))
	pages, err := filepath.Glob(filepath.Join("..", "..", "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	alert := regexp.MustCompile(`expiry_timestamp_seconds[^\n]*time\(\) < (\d+) \* 86400`)
	within := regexp.MustCompile(`(?:within|expir\w*) (\d+)\s+days`)
	found := 0
	for _, page := range pages {
		b, err := os.ReadFile(page)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range append(alert.FindAllStringSubmatch(string(b), -1), within.FindAllStringSubmatch(string(b), -1)...) {
			found++
			if m[1] != strconv.Itoa(days) {
				t.Errorf("%s: %q; webguard check warns at %d days", filepath.Base(page), m[0], days)
			}
		}
	}
	if found == 0 {
		t.Error("no alert example or threshold found in docs/")
	}
	r := run(t, t.TempDir(), "", "check", "--help")
	if !strings.Contains(r.stdout, fmt.Sprintf("within %d days", days)) && !strings.Contains(r.stdout, fmt.Sprintf("within %d\ndays", days)) {
		t.Errorf("check --help does not give the threshold of %d days:\n%s", days, r.stdout)
	}
}

// TestCompleteExampleIsPortable: the complete example of
// docs/web-configuration.md loads, and webguard check finds nothing in it
// that exporter-toolkit v0.20.0 or Prometheus would refuse.
func TestCompleteExampleIsPortable(t *testing.T) {
	page, err := os.ReadFile(filepath.Join("..", "..", "docs", "web-configuration.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, rest, _ := strings.Cut(string(page), "## A complete example")
	_, rest, _ = strings.Cut(rest, "```yaml\n")
	example, _, _ := strings.Cut(rest, "```")
	dir := checkDir(t)
	example = strings.ReplaceAll(example, "/etc/exporter/tls/", "")
	writeTestFile(t, filepath.Join(dir, "web.yml"), example, 0o600)
	r := run(t, dir, "", "check", "web.yml")
	if r.code != 0 || strings.Contains(r.stderr, "refuse") {
		t.Errorf("the complete example does not pass, or would not load in exporter-toolkit:\n%s", r)
	}
}

// TestCheckEncryptedKey: a key encrypted as `openssl genrsa -des3` writes it
// is named as such, with what to do; with key_password_file it loads, and
// the password shows nowhere.
func TestCheckEncryptedKey(t *testing.T) {
	need(t, "openssl")
	dir := checkDir(t)
	const password = "Tr0ub4dor&3 pass"
	writeTestFile(t, filepath.Join(dir, "pw"), password+"\n", 0o600)
	if out, err := tool(t, "openssl", "pkey", "-in", filepath.Join(dir, "server.key"), "-des3", "-passout", "file:"+filepath.Join(dir, "pw"), "-out", filepath.Join(dir, "enc.key")); err != nil {
		t.Fatalf("openssl: %v\n%s", err, out)
	}
	base := "tls_server_config:\n  cert_file: server.crt\n  key_file: enc.key\n"
	writeTestFile(t, filepath.Join(dir, "nopw.yml"), base, 0o600)
	writeTestFile(t, filepath.Join(dir, "pw.yml"), base+"  key_password_file: pw\n", 0o600)
	r := run(t, dir, "", "check", "nopw.yml")
	want := "nopw.yml:3: tls_server_config.key_file: enc.key holds an encrypted private key, and no key_password_file is set: set tls_server_config.key_password_file to a file holding its password"
	if r.code != 1 || !strings.Contains(r.stderr, want) || strings.Contains(r.stderr, "failed to parse private key") {
		t.Errorf("want exit 1 and %q\n%s", want, r)
	}
	r = run(t, dir, "", "check", "pw.yml")
	if r.code != 0 || r.stdout != "pw.yml: OK (1 warning)\n" || strings.Contains(r.stdout+r.stderr, password) {
		t.Errorf("with the password file:\n%s", r)
	}
}

// TestCheckMergeBomb: a few hundred bytes of nested merge keys are refused
// at once, not expanded.
func TestCheckMergeBomb(t *testing.T) {
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString("l0: &l0 {interval: 1s, burst: 1}\n")
	for i := 1; i <= 8; i++ {
		fmt.Fprintf(&b, "l%d: &l%d {<<: [%s]}\n", i, i, strings.TrimSuffix(strings.Repeat(fmt.Sprintf("*l%d, ", i-1), 9), ", "))
	}
	b.WriteString("rate_limit: *l8\n")
	writeTestFile(t, filepath.Join(dir, "bomb.yml"), b.String(), 0o600)
	r := run(t, dir, "", "check", "bomb.yml")
	if r.code != 1 || !strings.Contains(r.stderr, "bomb.yml:10: rate_limit: aliases and merge keys expand to more than 100000 values") {
		t.Errorf("want the bomb refused at line 10\n%s", r)
	}
}
