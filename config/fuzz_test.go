package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/webguard/webguard/config"
)

// fuzzHash is the password hash planted in the seeds: no error may show it.
const fuzzHash = "$2y$10$mCO93FvuqvdpdVA23zdp0uCGSnC3NAHcBCQnSS.f3brdklsLHqVN2"

// fuzzSeeds are the hostile files of issue 12 and the places a secret can
// sit; testdata/*.yml and testdata/fuzz/FuzzParse add the rest.
func fuzzSeeds(key string) []string {
	indented := "    " + strings.ReplaceAll(strings.TrimSpace(key), "\n", "\n    ")
	return []string{
		mergeBomb(),
		string(manyUsers(2000)),
		"basic_auth_users:\n  alice:\n    " + fuzzHash + ": 1\n    " + fuzzHash + ": 2\n",
		"basic_auth_users:\n  " + fuzzHash + ": x\n  " + fuzzHash + ": y\n",
		"rate_limit:\n  burst: !!int " + fuzzHash + "\n",
		"tls_server_config:\n  cert_file: server.crt\n  key: |\n" + indented + "\n",
		"tls_server_config:\n  cert: |\n" + indented + "\n  key_file: server.key\n",
		"l0: &a [" + fuzzHash + ", " + fuzzHash + "]\nl1: &b [*a, *a, *a]\ntls_server_config:\n  client_allowed_sans: *b\n",
	}
}

// FuzzParse: config.Parse on arbitrary bytes does not panic or hang, and its
// errors never show the hash or the private key planted in the seeds.
func FuzzParse(f *testing.F) {
	p, err := loadPKI()
	if err != nil {
		f.Fatal(err)
	}
	key := string(p.files["server.key"])
	for _, s := range fuzzSeeds(key) {
		f.Add([]byte(s))
	}
	files, _ := filepath.Glob("testdata/*.yml")
	for _, name := range files {
		if b, err := os.ReadFile(name); err == nil {
			f.Add(b)
		}
	}
	// Relative paths in the input name the fixture files.
	dir := f.TempDir()
	for name, data := range p.files {
		path := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			f.Fatal(err)
		}
		if err := os.WriteFile(path, data, 0o600); err != nil {
			f.Fatal(err)
		}
	}
	keyLines := strings.Split(strings.TrimSpace(key), "\n")
	secrets := append([]string{fuzzHash}, keyLines[1:len(keyLines)-1]...)
	f.Fuzz(func(t *testing.T, data []byte) {
		start := time.Now()
		_, err := config.Parse(data, dir)
		if d := time.Since(start); d > 10*time.Second {
			t.Fatalf("Parse took %v on %d bytes", d, len(data))
		}
		if err == nil {
			return
		}
		msg := err.Error()
		for _, s := range secrets {
			if strings.Contains(msg, s) {
				t.Fatalf("error shows a secret (%.12s...):\n%s", s, msg)
			}
		}
	})
}
