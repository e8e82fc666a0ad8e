package config_test

import (
	"strings"
	"testing"
	"time"

	"github.com/webguard/webguard/config"
)

// TestErrorsHideSecrets puts a password hash, and a private key, in every
// place where the YAML library or our own checks quote what they read, and
// checks that no error shows them.
func TestErrorsHideSecrets(t *testing.T) {
	p, err := loadPKI()
	if err != nil {
		t.Fatal(err)
	}
	const h = "$2y$10$mCO93FvuqvdpdVA23zdp0uCGSnC3NAHcBCQnSS.f3brdklsLHqVN2"
	key := string(p.files["server.key"])
	keyLines := strings.Split(strings.TrimSpace(key), "\n")
	indented := "    " + strings.ReplaceAll(strings.TrimSpace(key), "\n", "\n    ")
	tests := []struct{ name, yml, want string }{
		{"hash repeated as a key inside a user's value", "basic_auth_users:\n  alice:\n    " + h + ": 1\n    " + h + ": 2\n", `3: basic_auth_users["alice"]: want a string, got a mapping`},
		{"hash repeated as a key inside a header value", "http_server_config:\n  headers:\n    X-Frame-Options: {" + h + ": 1, " + h + ": 2}\n", "want a string, got a mapping"},
		{"hash repeated as a key inside a list", "tls_server_config:\n  client_allowed_sans:\n    - {" + h + ": 1, " + h + ": 2}\n", "want a string, got a mapping"},
		{"hash repeated as a user", "basic_auth_users:\n  " + h + ": " + h + "\n  " + h + ": " + h + "\n", "duplicate key (first set on line 2)"},
		{"hash as an unknown field", "tls_server_config:\n  " + h + ": x\n", "unknown field"},
		{"hash as an unknown anchor", "rate_limit: *" + h + "\n", ""},
		{"hash as a tag", "rate_limit:\n  burst: !" + h + " 3\n", ""},
		{"hash under an explicit int tag", "rate_limit:\n  burst: !!int " + h + "\n", "2: rate_limit.burst: a value tagged !!int cannot be read as a number"},
		{"hash under an explicit bool tag", "http_server_config:\n  http2: !!bool " + h + "\n", "2:"},
		{"hash where a boolean belongs", "http_server_config:\n  http2: " + h + "\n", "want true or false, got a string"},
		{"hash where a duration belongs", "rate_limit:\n  interval: " + h + "\n", "invalid duration"},
		{"hash where a number belongs", "rate_limit:\n  interval: 1s\n  burst: " + h + "\n", "want an integer"},
		{"hash where a version belongs", "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  min_version: " + h + "\n", "unknown value"},
		{"hash as a header name", "http_server_config:\n  headers:\n    " + h + ": deny\n", "not allowed"},
		{"hash as a merge", "rate_limit:\n  <<: " + h + "\n", "merge"},
		{"hash in a flow key", "rate_limit: {? " + h + "}\n", "unknown field"},
		{"hash in an unterminated quote", "basic_auth_users:\n  alice: \"" + h + "\n", ""},
		{"hash after a tab", "basic_auth_users:\n\talice: " + h + "\n", ""},
		{"hash as a mapping key of a mapping key", "basic_auth_users:\n  ? {" + h + ": 1}\n  : x\n", ""},
		{"key where a certificate belongs", "tls_server_config:\n  cert: |\n" + indented + "\n  key_file: server.key\n", "holds no PEM certificate"},
		{"key as a user name", "basic_auth_users:\n  ? |\n" + indented + "\n  : " + h + "\n", ""},
		{"key as an unknown field", "tls_server_config:\n  ? |\n" + indented + "\n  : x\n", "unknown field"},
		{"key body line as an unknown field", "rate_limit:\n  " + keyLines[1] + ": 1\n", "unknown field"},
		{"key body line under an int tag", "rate_limit:\n  burst: !!int " + keyLines[1] + "\n", "2:"},
		{"key as an anchor name", "rate_limit: *" + keyLines[1] + "\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, _ := fixtureDir(t)
			_, err := config.ParseNamed([]byte(tt.yml), "web.yml", dir)
			if err == nil {
				t.Fatalf("no error for\n%s", tt.yml)
			}
			msg := err.Error()
			if tt.want != "" && !strings.Contains(msg, tt.want) {
				t.Errorf("error lacks %q:\n%s", tt.want, msg)
			}
			for _, s := range append([]string{h, h[7:27], h[30:50]}, keyLines[1:len(keyLines)-1]...) {
				if strings.Contains(msg, s) {
					t.Errorf("error shows a secret (%.20s...):\n%s", s, msg)
				}
			}
			t.Log(msg)
		})
	}
}

// TestWarningsHideSecrets: a hash used as a user name (with a weak hash as
// its value, which warns) does not reach the warning.
func TestWarningsHideSecrets(t *testing.T) {
	const h = "$2y$04$s7/OnaCt/rfDzMLw83Y/ve.R4d5bVezfP7io/t94YPVnJlYNxIzBW"
	c, err := config.ParseNamed([]byte("basic_auth_users:\n  \""+h+"\": "+h+"\n"), "web.yml", "")
	if err != nil {
		t.Fatal(err)
	}
	ws := c.Warnings(time.Now())
	if len(ws) == 0 {
		t.Fatal("no warning")
	}
	for _, w := range ws {
		if strings.Contains(w.String(), h[7:27]) {
			t.Errorf("warning shows the hash: %s", w)
		}
	}
}
