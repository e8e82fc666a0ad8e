package config_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/webguard/webguard/config"
)

// mergeBomb is a web.yml of a few hundred bytes whose rate_limit stands,
// through eight levels of merge keys each merging the level below nine
// times, for 9^8 (43 million) mappings.
func mergeBomb() string {
	var b strings.Builder
	b.WriteString("l0: &l0 {interval: 1s, burst: 1}\n")
	for i := 1; i <= 8; i++ {
		refs := strings.TrimSuffix(strings.Repeat(fmt.Sprintf("*l%d, ", i-1), 9), ", ")
		fmt.Fprintf(&b, "l%d: &l%d {<<: [%s]}\n", i, i, refs)
	}
	b.WriteString("rate_limit: *l8\n")
	return b.String()
}

// manyUsers is a web.yml with n users sharing one hash.
func manyUsers(n int) []byte {
	const hash = "$2y$04$s7/OnaCt/rfDzMLw83Y/ve.R4d5bVezfP7io/t94YPVnJlYNxIzBW"
	var b strings.Builder
	b.WriteString("basic_auth_users:\n")
	for i := range n {
		fmt.Fprintf(&b, "  user%d: %s\n", i, hash)
	}
	return []byte(b.String())
}

// BenchmarkLoadUsers parses a web.yml of 80,000 users (5.9 MB). The target
// is under 2 s per load; the YAML library's own mapping decoder took 30 s.
func BenchmarkLoadUsers(b *testing.B) {
	const n = 80_000
	data := manyUsers(n)
	for b.Loop() {
		c, err := config.Parse(data, "")
		if err != nil || len(c.Users) != n {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/user")
	b.ReportMetric(float64(b.Elapsed().Seconds())/float64(b.N), "s/load")
}

// BenchmarkMergeBomb refuses the 529-byte nested-merge file; the target is
// under 100 ms.
func BenchmarkMergeBomb(b *testing.B) {
	data := []byte(mergeBomb())
	for b.Loop() {
		if _, err := config.Parse(data, ""); err == nil {
			b.Fatal("bomb loaded")
		}
	}
}

// loadBounded runs Load in a goroutine and fails the test if it has not
// returned within a generous bound: the point is that it does not hang.
func loadBounded(t *testing.T, path string) (*config.Config, error) {
	t.Helper()
	type result struct {
		c   *config.Config
		err error
	}
	done := make(chan result, 1)
	go func() {
		c, err := config.Load(path)
		done <- result{c, err}
	}()
	select {
	case r := <-done:
		return r.c, r.err
	case <-time.After(20 * time.Second):
		t.Fatalf("Load(%s) has not returned after 20s", path)
		return nil, nil
	}
}

func TestMergeBombRefused(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "web.yml")
	bomb := mergeBomb()
	if err := os.WriteFile(path, []byte(bomb), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := loadBounded(t, path)
	var ce *config.Error
	if !errors.As(err, &ce) {
		t.Fatalf("want a *config.Error, got %v", err)
	}
	want := path + ":10: rate_limit: aliases and merge keys expand to more than 100000 values"
	if !strings.HasPrefix(err.Error(), want) {
		t.Errorf("error %q\nwant it to start with %q", err, want)
	}
	t.Logf("%d bytes: %v", len(bomb), err)
}

// TestAliasesWithinBudget: a file that reuses sections through anchors, as
// people write them, still loads, merges resolved as YAML defines them.
func TestAliasesWithinBudget(t *testing.T) {
	data := []byte(`
http_server_config:
  headers: &h {X-Frame-Options: deny}
rate_limit:
  <<: [{interval: 2s}, {interval: 3s, burst: 4}]
  burst: 5
basic_auth_users:
  <<: &u {alice: "$2y$04$s7/OnaCt/rfDzMLw83Y/ve.R4d5bVezfP7io/t94YPVnJlYNxIzBW"}
  bob: "$2y$04$s7/OnaCt/rfDzMLw83Y/ve.R4d5bVezfP7io/t94YPVnJlYNxIzBW"
`)
	c, err := config.Parse(data, "")
	if err != nil {
		t.Fatal(err)
	}
	if c.RateLimit.Interval != 2*time.Second || c.RateLimit.Burst != 5 {
		t.Errorf("rate limit %+v, want the written burst and the first merged interval", c.RateLimit)
	}
	if len(c.Users) != 2 || c.HTTP.Headers["X-Frame-Options"] != "deny" {
		t.Errorf("users %d, headers %v", len(c.Users), c.HTTP.Headers)
	}
}

func TestFileKindsRefused(t *testing.T) {
	dir, _ := fixtureDir(t)
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big.yml")
	f, err := os.Create(big)
	if err != nil {
		t.Fatal(err)
	}
	// Sparse: 64 MiB that costs no disk and, refused, no memory.
	if err := f.Truncate(64 << 20); err != nil {
		t.Fatal(err)
	}
	f.Close()
	tests := []struct {
		name, web, want string
	}{
		{"FIFO as key_file", "tls_server_config:\n  cert_file: server.crt\n  key_file: fifo\n",
			"web.yml:3: tls_server_config.key_file: cannot read " + fifo + ": not a regular file (a named pipe)"},
		{"FIFO as cert_file", "tls_server_config:\n  cert_file: fifo\n  key_file: server.key\n",
			"web.yml:2: tls_server_config.cert_file: cannot read " + fifo + ": not a regular file (a named pipe)"},
		{"directory as client_ca_file", "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: .\n",
			"web.yml:5: tls_server_config.client_ca_file: cannot read " + dir + ": not a regular file (a directory)"},
		{"64 MiB cert_file", "tls_server_config:\n  cert_file: big.yml\n  key_file: server.key\n",
			"web.yml:2: tls_server_config.cert_file: cannot read " + big + ": 64.0 MiB is larger than the 16 MiB limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, "web.yml")
			if err := os.WriteFile(path, []byte(tt.web), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := loadBounded(t, path)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v\nwant %q", err, tt.want)
			}
		})
	}
	for _, tt := range []struct{ path, want string }{
		{fifo, fifo + ": cannot read config file: not a regular file (a named pipe)"},
		{big, big + ": cannot read config file: 64.0 MiB is larger than the 16 MiB limit"},
		{dir, dir + ": cannot read config file: not a regular file (a directory)"},
	} {
		if _, err := loadBounded(t, tt.path); err == nil || err.Error() != tt.want {
			t.Errorf("Load(%s) = %v\nwant %q", tt.path, err, tt.want)
		}
	}
	if _, err := config.Parse(make([]byte, config.MaxFileSize+1), ""); err == nil || !strings.Contains(err.Error(), "larger than the 16 MiB limit") {
		t.Errorf("Parse of %d bytes: %v", config.MaxFileSize+1, err)
	}
}

func TestAliasCycleRefused(t *testing.T) {
	_, err := config.ParseNamed([]byte("rate_limit: &a\n  <<: *a\n"), "web.yml", "")
	if err == nil || !strings.Contains(err.Error(), "web.yml:2: rate_limit: aliases nested more than 64 deep") {
		t.Errorf("got %v", err)
	}
}
