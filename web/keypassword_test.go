package web

import (
	"encoding/pem"
	"path/filepath"
	"strings"
	"testing"

	"github.com/youmark/pkcs8"

	"github.com/webguard/webguard/internal/pki"
)

// TestEncryptedKeyServesAndReloads: a Guard serves with a key encrypted
// under key_password_file; a new key and password written together are
// picked up by a reload; a wrong password keeps the running certificate,
// and neither password reaches the log.
func TestEncryptedKeyServesAndReloads(t *testing.T) {
	p := newTestPKI(t)
	encrypt := func(c *pki.Cert, password string) string {
		der, err := pkcs8.MarshalPrivateKey(c.Key, []byte(password), nil)
		if err != nil {
			t.Fatal(err)
		}
		return string(pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: der}))
	}
	const first, second = "first pass phrase", "second pass phrase"
	putFile(t, p.dir, "enc.key", encrypt(p.server, first))
	putFile(t, p.dir, "pw", first+"\n")
	logs, logger := newLogRecorder()
	g := newGuard(t, p.dir, "tls_server_config:\n  cert_file: server.crt\n  key_file: enc.key\n  key_password_file: pw\n", logger)
	base, _ := startServing(t, g)
	client := p.httpClient(nil)
	serial := func() string {
		t.Helper()
		resp := mustGet(t, client, base+"/", 200)
		return resp.TLS.PeerCertificates[0].SerialNumber.String()
	}
	if got := serial(); got != p.server.Cert.SerialNumber.String() {
		t.Fatalf("serving certificate %s, want %s", got, p.server.Cert.SerialNumber)
	}
	files := g.snap.Load().cfg.Files()
	if files[len(files)-1] != filepath.Join(p.dir, "pw") {
		t.Errorf("Files() = %q: the password file is not watched", files)
	}

	// A wrong password: the reload fails, the old certificate serves on.
	putFile(t, p.dir, "pw", "not it\n")
	if err := g.Reload(); err == nil || strings.Contains(err.Error(), "not it") {
		t.Errorf("reload with a wrong password: %v", err)
	}
	if got := serial(); got != p.server.Cert.SerialNumber.String() {
		t.Errorf("after a failed reload, serving %s", got)
	}

	// A new certificate, its key under a new password.
	next, err := p.ca.Server(pki.Request{Hosts: []string{"127.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := next.WriteFiles(p.serverCrt, ""); err != nil {
		t.Fatal(err)
	}
	putFile(t, p.dir, "enc.key", encrypt(next, second))
	putFile(t, p.dir, "pw", second)
	if err := g.Reload(); err != nil {
		t.Fatal(err)
	}
	if got := serial(); got != next.Cert.SerialNumber.String() {
		t.Errorf("after the reload, serving %s, want %s", got, next.Cert.SerialNumber)
	}
	for _, secret := range []string{first, second, "not it"} {
		if m := logs.matching(secret); len(m) > 0 {
			t.Errorf("a log line shows a password: %q", m)
		}
	}
	if len(logs.matching("wrong password")) == 0 {
		t.Errorf("the failed reload was not logged with its reason: %q", logs.matching(""))
	}
}
