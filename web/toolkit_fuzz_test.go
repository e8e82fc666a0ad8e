package web

import (
	"testing"

	yamlv2 "gopkg.in/yaml.v2"
)

// FuzzToolkitTLSConfig decodes a tls_server_config with gopkg.in/yaml.v2,
// as Alertmanager does, and hands it to ConfigToTLSConfig and
// VerifyPeerCertificate: whatever the input, an error, never a panic.
// File paths are dropped: the fuzzer must not make the test read
// /dev/zero.
func FuzzToolkitTLSConfig(f *testing.F) {
	for _, seed := range []string{
		"cert: x\nkey: y\n",
		"client_auth_type: RequireAndVerifyClientCert\nclient_ca: z\n",
		"client_auth_type: VerifyClientCertIfGiven\nclient_allowed_sans: [a, '::1']\ncert: x\nkey: y\n",
		"min_version: TLS13\nmax_version: TLS12\ncipher_suites: [TLS_AES_128_GCM_SHA256]\ncurve_preferences: [X25519MLKEM768]\n",
		"prefer_server_cipher_suites: true\n",
		"cipher_suites: [1]\n",
	} {
		f.Add(seed, []byte("not a certificate"))
	}
	f.Fuzz(func(t *testing.T, doc string, raw []byte) {
		var c TLSConfig
		if err := yamlv2.UnmarshalStrict([]byte(doc), &c); err != nil {
			return
		}
		c.TLSCertPath, c.TLSKeyPath, c.ClientCAs = "", "", ""
		if tc, err := ConfigToTLSConfig(&c); err == nil && tc == nil {
			t.Fatal("ConfigToTLSConfig returned neither a config nor an error")
		}
		_ = c.VerifyPeerCertificate([][]byte{raw}, nil)
		_ = c.VerifyPeerCertificate(nil, nil)
		if _, err := yamlv2.Marshal(&c); err != nil {
			t.Fatalf("Marshal of a decoded config: %v", err)
		}
	})
}
