package config_test

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/youmark/pkcs8"

	"github.com/webguard/webguard/config"
	"github.com/webguard/webguard/internal/pki"
)

// TestEncryptedKeys loads keys encrypted the ways operators encrypt them
// (what openssl genrsa -des3 writes, openssl pkcs8 -topk8 -v2 aes256,
// OpenSSL's legacy PEM encryption, and Go), then serves a TLS handshake on
// 127.0.0.1 with what was loaded.
func TestEncryptedKeys(t *testing.T) {
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Fatal("openssl is needed: ", err)
	}
	const password = "s3cret pass phrase"
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		t.Helper()
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	run := func(args ...string) {
		t.Helper()
		cmd := exec.Command(openssl, args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	// A line break after the password, as `echo` writes it.
	write("pw", []byte(password+"\n"))
	write("wrong", []byte("hunter2\n"))

	ca, err := pki.NewCA(pki.Request{})
	if err != nil {
		t.Fatal(err)
	}
	rsaSrv, err := ca.Server(pki.Request{Hosts: []string{"127.0.0.1"}, RSABits: 2048})
	if err != nil {
		t.Fatal(err)
	}
	ecSrv, err := ca.Server(pki.Request{Hosts: []string{"127.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := rsaSrv.WriteFiles(filepath.Join(dir, "rsa.crt"), filepath.Join(dir, "rsa.key")); err != nil {
		t.Fatal(err)
	}
	if err := ecSrv.WriteFiles(filepath.Join(dir, "ec.crt"), filepath.Join(dir, "ec.key")); err != nil {
		t.Fatal(err)
	}
	// What `openssl genrsa -des3` writes (OpenSSL 3: PKCS #8, PBES2 with
	// 3DES), for the key the certificate was made for.
	run("pkey", "-in", "rsa.key", "-des3", "-passout", "file:pw", "-out", "rsa-des3.key")
	run("pkcs8", "-topk8", "-v2", "aes256", "-in", "ec.key", "-passout", "file:pw", "-out", "ec-pkcs8-aes256.key")
	run("rsa", "-in", "rsa.key", "-des3", "-traditional", "-passout", "file:pw", "-out", "rsa-legacy-des3.key")
	goPKCS8, err := pkcs8.MarshalPrivateKey(ecSrv.Key, []byte(password), nil)
	if err != nil {
		t.Fatal(err)
	}
	write("ec-go-pkcs8.key", pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: goPKCS8}))
	//lint:ignore SA1019 making a legacy encrypted key, as old tools do, to test that it is read
	legacy, err := x509.EncryptPEMBlock(rand.Reader, "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rsaSrv.Key.(*rsa.PrivateKey)), []byte(password), x509.PEMCipherAES256)
	if err != nil {
		t.Fatal(err)
	}
	write("rsa-go-legacy.key", pem.EncodeToMemory(legacy))

	for _, tt := range []struct{ key, cert, header string }{
		{"rsa-des3.key", "rsa.crt", "-----BEGIN ENCRYPTED PRIVATE KEY-----"},
		{"ec-pkcs8-aes256.key", "ec.crt", "-----BEGIN ENCRYPTED PRIVATE KEY-----"},
		{"rsa-legacy-des3.key", "rsa.crt", "Proc-Type: 4,ENCRYPTED"},
		{"ec-go-pkcs8.key", "ec.crt", "-----BEGIN ENCRYPTED PRIVATE KEY-----"},
		{"rsa-go-legacy.key", "rsa.crt", "Proc-Type: 4,ENCRYPTED"},
	} {
		t.Run(tt.key, func(t *testing.T) {
			if b, _ := os.ReadFile(filepath.Join(dir, tt.key)); !strings.Contains(string(b), tt.header) {
				t.Fatalf("%s is not the encrypted form under test:\n%s", tt.key, b)
			}
			base := "tls_server_config:\n  cert_file: " + tt.cert + "\n  key_file: " + tt.key + "\n"
			web := write("web.yml", []byte(base))
			_, err := config.Load(web)
			if err == nil || !strings.Contains(err.Error(), "web.yml:3: tls_server_config.key_file: "+filepath.Join(dir, tt.key)+" holds an encrypted private key, and no key_password_file is set") {
				t.Errorf("without a password file: %v", err)
			}
			write("web.yml", []byte(base+"  key_password_file: wrong\n"))
			_, err = config.Load(web)
			if err == nil || !strings.Contains(err.Error(), "wrong password, or a damaged key") || strings.Contains(err.Error(), "hunter2") {
				t.Errorf("with the wrong password: %v", err)
			}
			write("web.yml", []byte(base+"  key_password_file: pw\n"))
			c, err := config.Load(web)
			if err != nil {
				t.Fatal(err)
			}
			if files := c.Files(); files[len(files)-1] != filepath.Join(dir, "pw") {
				t.Errorf("Files() = %q, want the password file watched too", files)
			}
			handshake(t, c.TLSMaterial().Certificate, ca)
		})
	}

	// A key made by `openssl genrsa -des3` itself: said to be encrypted, and
	// with its password it decrypts (and then does not match the certificate,
	// which was made for another key).
	run("genrsa", "-des3", "-passout", "file:pw", "-out", "genrsa.key", "2048")
	web := write("web.yml", []byte("tls_server_config:\n  cert_file: rsa.crt\n  key_file: genrsa.key\n"))
	if _, err := config.Load(web); err == nil || !strings.Contains(err.Error(), "holds an encrypted private key") {
		t.Errorf("genrsa -des3 key: %v", err)
	}
	write("web.yml", []byte("tls_server_config:\n  cert_file: rsa.crt\n  key_file: genrsa.key\n  key_password_file: pw\n"))
	_, err = config.Load(web)
	if err == nil || !strings.Contains(err.Error(), "do not make a key pair: tls: private key does not match public key") {
		t.Errorf("genrsa -des3 key with its password: %v", err)
	}
	if err != nil && strings.Contains(err.Error(), password) {
		t.Errorf("error shows the password: %v", err)
	}
}

// handshake serves one TLS connection on 127.0.0.1 with cert and checks
// that a client trusting ca completes it and reads the server's reply.
func handshake(t *testing.T, cert tls.Certificate, ca *pki.Cert) {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		_, _ = io.WriteString(c, "hello")
	}()
	conn, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{RootCAs: ca.Pool(), ServerName: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	got, err := io.ReadAll(conn)
	if err != nil || string(got) != "hello" {
		t.Fatalf("read %q, %v", got, err)
	}
}

// TestEncryptedKeyCostBounded: a key whose encryption asks for more key
// derivation work than a reload should pay is refused before any is done.
func TestEncryptedKeyCostBounded(t *testing.T) {
	p, err := loadPKI()
	if err != nil {
		t.Fatal(err)
	}
	ca := p.ca
	srv, err := ca.Server(pki.Request{Hosts: []string{"127.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := srv.WriteFiles(filepath.Join(dir, "server.crt"), ""); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "pw"), []byte("pw"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		opts *pkcs8.Opts
		want string
	}{
		{"PBKDF2", &pkcs8.Opts{Cipher: pkcs8.AES256CBC, KDFOpts: pkcs8.PBKDF2Opts{SaltSize: 8, IterationCount: 2_000_000_000, HMACHash: crypto.SHA256}},
			"asks for 2000000000 PBKDF2 iterations (at most 10000000 are done)"},
		{"scrypt", &pkcs8.Opts{Cipher: pkcs8.AES256CBC, KDFOpts: pkcs8.ScryptOpts{SaltSize: 8, CostParameter: 1 << 24, BlockSize: 8, ParallelizationParameter: 1}},
			"scrypt encryption (N=16777216, r=8, p=1) needs more than 256 MiB"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			der, err := marshalWithoutDeriving(srv, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "enc.key"), pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: der}), 0o600); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			_, err = config.ParseNamed([]byte("tls_server_config:\n  cert_file: server.crt\n  key_file: enc.key\n  key_password_file: pw\n"), "web.yml", dir)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v\nwant %q", err, tt.want)
			}
			if d := time.Since(start); d > 10*time.Second {
				t.Errorf("took %v: the key derivation ran", d)
			}
		})
	}
}

// marshalWithoutDeriving encrypts c's key cheaply, then writes the cost
// opts asks for into its parameters: a key with that cost, made without
// paying it. It does not decrypt; it only has to be refused before it is.
func marshalWithoutDeriving(c *pki.Cert, opts *pkcs8.Opts) ([]byte, error) {
	cheap := *opts
	var cost int64
	switch k := opts.KDFOpts.(type) {
	case pkcs8.PBKDF2Opts:
		cost = int64(k.IterationCount)
		k.IterationCount = 1
		cheap.KDFOpts = k
	case pkcs8.ScryptOpts:
		cost = int64(k.CostParameter)
		k.CostParameter = 2
		cheap.KDFOpts = k
	}
	der, err := pkcs8.MarshalPrivateKey(c.Key, []byte("pw"), &cheap)
	if err != nil {
		return nil, err
	}
	type alg struct {
		Algorithm  asn1.ObjectIdentifier
		Parameters asn1.RawValue `asn1:"optional"`
	}
	var info struct {
		Alg  alg
		Data []byte
	}
	var pbes2 struct{ KDF, Cipher alg }
	var params []asn1.RawValue
	if _, err := asn1.Unmarshal(der, &info); err != nil {
		return nil, err
	}
	if _, err := asn1.Unmarshal(info.Alg.Parameters.FullBytes, &pbes2); err != nil {
		return nil, err
	}
	if _, err := asn1.Unmarshal(pbes2.KDF.Parameters.FullBytes, &params); err != nil {
		return nil, err
	}
	// The second field is the iteration count (PBKDF2) or N (scrypt).
	if params[1].FullBytes, err = asn1.Marshal(cost); err != nil {
		return nil, err
	}
	b, err := asn1.Marshal(params)
	if err != nil {
		return nil, err
	}
	pbes2.KDF.Parameters = asn1.RawValue{FullBytes: b}
	if b, err = asn1.Marshal(pbes2); err != nil {
		return nil, err
	}
	info.Alg.Parameters = asn1.RawValue{FullBytes: b}
	return asn1.Marshal(info)
}
