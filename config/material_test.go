package config

import (
	"crypto/ecdsa"
	"crypto/rsa"
	"math/big"
	"strings"
	"testing"
)

// TestWeakKey covers the RSA size check with keys built in memory:
// internal/pki will not make an RSA key below 2048 bits, and no PEM is
// committed, so there is no small-key file to load.
func TestWeakKey(t *testing.T) {
	bits := func(n int) *rsa.PrivateKey {
		return &rsa.PrivateKey{PublicKey: rsa.PublicKey{N: new(big.Int).Lsh(big.NewInt(1), uint(n-1)), E: 65537}}
	}
	for _, tc := range []struct {
		name string
		key  any
		want string
	}{
		{"rsa 512", bits(512), "RSA key of 512 bits is too small for TLS (want at least 1024"},
		{"rsa 1023", bits(1023), "RSA key of 1023 bits"},
		{"rsa 1024", bits(1024), ""},
		{"rsa 2048", bits(2048), ""},
		{"ecdsa", &ecdsa.PrivateKey{}, ""},
	} {
		got := weakKey(tc.key)
		if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestTypeMsg(t *testing.T) {
	for in, want := range map[string]string{
		"cannot unmarshal !!str `sometim...` into bool": "want true or false, got a string",
		"cannot unmarshal !!map into config.Secret":     "want a string, got a mapping",
		"cannot unmarshal !!seq into map[string]string": "want a mapping of names to strings, got a list",
		"cannot unmarshal !!str `x` into some.Thing":    "want some.Thing, got a string",
		"did not find expected key":                     "did not find expected key",
	} {
		if got := typeMsg(in); got != want {
			t.Errorf("typeMsg(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestClosest(t *testing.T) {
	names := []string{"cert_file", "key_file", "client_ca_file", "min_version"}
	for in, want := range map[string]string{
		"cert_filse":  "cert_file",
		"CERT_FILE":   "cert_file",
		"min_versoin": "min_version",
		"keyfile":     "key_file",
		"http2":       "",
	} {
		if got := closest(in, names); got != want {
			t.Errorf("closest(%q) = %q, want %q", in, got, want)
		}
	}
}
