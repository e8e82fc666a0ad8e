package config

import (
	"encoding/asn1"
	"fmt"
)

// The most key derivation work an encrypted PKCS #8 key may ask for. A key
// file states its own cost, and the loader pays it on every reload: an
// iteration count of two billion, or an scrypt that wants gigabytes, would
// stall the reload (or exhaust memory) as surely as a YAML bomb. OpenSSL
// writes 2048 PBKDF2 iterations, Go's pkcs8 10000, and password managers
// use up to a few hundred thousand.
const (
	maxPBKDF2Iterations = 10_000_000
	maxScryptMemory     = 256 << 20 // bytes: 128 * N * r * p
)

var (
	oidPBES2  = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 13}
	oidPBKDF2 = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 12}
	oidScrypt = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 11591, 4, 11}
)

type algorithm struct {
	Algorithm  asn1.ObjectIdentifier
	Parameters asn1.RawValue `asn1:"optional"`
}

// kdfCost returns why the key derivation of an encrypted PKCS #8 key (its
// DER) would cost more than we pay, or "" when it would not or the key is
// not one this can read (the decoder then reports it).
func kdfCost(der []byte) string {
	var info struct {
		Algorithm algorithm
		Data      []byte
	}
	if _, err := asn1.Unmarshal(der, &info); err != nil || !info.Algorithm.Algorithm.Equal(oidPBES2) {
		return ""
	}
	var pbes2 struct {
		KDF    algorithm
		Cipher algorithm
	}
	if _, err := asn1.Unmarshal(info.Algorithm.Parameters.FullBytes, &pbes2); err != nil {
		return ""
	}
	switch params := pbes2.KDF.Parameters.FullBytes; {
	case pbes2.KDF.Algorithm.Equal(oidPBKDF2):
		var p struct {
			Salt       []byte
			Iterations int64
		}
		if _, err := asn1.Unmarshal(params, &p); err == nil && (p.Iterations > maxPBKDF2Iterations || p.Iterations < 1) {
			return fmt.Sprintf("its encryption asks for %d PBKDF2 iterations (at most %d are done)", p.Iterations, maxPBKDF2Iterations)
		}
	case pbes2.KDF.Algorithm.Equal(oidScrypt):
		var p struct {
			Salt                []byte
			N, BlockSize, Procs int64
		}
		if _, err := asn1.Unmarshal(params, &p); err != nil {
			return ""
		}
		if p.N < 1 || p.BlockSize < 1 || p.Procs < 1 || p.N > maxScryptMemory/128/p.BlockSize/p.Procs {
			return fmt.Sprintf("its scrypt encryption (N=%d, r=%d, p=%d) needs more than %d MiB", p.N, p.BlockSize, p.Procs, maxScryptMemory>>20)
		}
	}
	return ""
}
