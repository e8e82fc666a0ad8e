package config

import (
	"bytes"
	"crypto"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
)

// minRSABits is the smallest RSA key crypto/tls will sign with.
const minRSABits = 1024

// loadMaterial reads the certificate, key and client CAs together and checks
// that they can serve: the key matches the certificate, every client CA file
// holds at least one certificate.
func (d *decoder) loadMaterial(t *TLSConfig) (*TLSMaterial, []error) {
	var errs []error
	certPEM, err := d.pemSource("tls_server_config", "cert_file", t.CertFile, "cert", t.Cert)
	if err != nil {
		errs = append(errs, err)
	}
	keyPEM, err := d.pemSource("tls_server_config", "key_file", t.KeyFile, "key", string(t.Key))
	if err != nil {
		errs = append(errs, err)
	}
	m := &TLSMaterial{}
	if certPEM != nil && keyPEM != nil {
		certField := firstSet(d, "tls_server_config.cert_file", "tls_server_config.cert")
		switch {
		case !hasPEMBlock(certPEM, "CERTIFICATE"):
			errs = append(errs, d.errorf(certField, "%s holds no PEM certificate", d.source(t.CertFile, "cert")))
		case parseErr(certPEM) != nil:
			err := parseErr(certPEM)
			errs = append(errs, &Error{File: d.file, Line: d.fields[certField], Field: certField, Msg: fmt.Sprintf("%s: %v", d.source(t.CertFile, "cert"), err), Err: err})
		case !hasPEMKey(keyPEM):
			errs = append(errs, d.errorf(firstSet(d, "tls_server_config.key_file", "tls_server_config.key"), "%s holds no PEM private key", d.source(t.KeyFile, "key")))
		default:
			plainKey, err := d.decryptKey(keyPEM, t)
			if err != nil {
				errs = append(errs, err)
				break
			}
			if b := keyBlock(keyPEM); b != nil && isEncrypted(b) {
				m.keyEncrypted = true
			}
			pair, err := tls.X509KeyPair(certPEM, plainKey)
			if err != nil {
				// crypto/tls errors never include key material.
				errs = append(errs, &Error{File: d.file, Line: d.fields[certField], Field: certField,
					Msg: fmt.Sprintf("%s and %s do not make a key pair: %v", d.source(t.CertFile, "cert"), d.source(t.KeyFile, "key"), err), Err: err})
				break
			}
			if msg := weakKey(pair.PrivateKey); msg != "" {
				errs = append(errs, d.errorf(firstSet(d, "tls_server_config.key_file", "tls_server_config.key"), "%s: %s", d.source(t.KeyFile, "key"), msg))
				break
			}
			m.Certificate = pair
		}
	}

	caPEM, err := d.pemSource("tls_server_config", "client_ca_file", t.ClientCAFile, "client_ca", t.ClientCA)
	if err != nil {
		errs = append(errs, err)
	}
	if caPEM != nil {
		field := firstSet(d, "tls_server_config.client_ca_file", "tls_server_config.client_ca")
		certs, err := parseCertificates(caPEM)
		switch {
		case err != nil:
			errs = append(errs, &Error{File: d.file, Line: d.fields[field], Field: field, Msg: fmt.Sprintf("%s: %v", d.source(t.ClientCAFile, "client_ca"), err), Err: err})
		case len(certs) == 0:
			errs = append(errs, d.errorf(field, "%s holds no PEM certificate", d.source(t.ClientCAFile, "client_ca")))
		default:
			m.ClientCAs = x509.NewCertPool()
			for _, c := range certs {
				m.ClientCAs.AddCert(c)
			}
			m.ClientCACerts = certs
		}
	}
	if t.ClientCRLFile != "" && m.ClientCACerts != nil {
		crls, err := d.loadCRLs(t.ClientCRLFile, m.ClientCACerts)
		if err != nil {
			errs = append(errs, err)
		}
		m.ClientCRLs = crls
	}
	return m, errs
}

// loadCRLs reads the revocation lists of client_crl_file: PEM "X509 CRL"
// blocks, or one DER list. Each must be signed by the client CA that
// issued it, so that a list from elsewhere cannot revoke, or fail to
// revoke, anything.
func (d *decoder) loadCRLs(file string, cas []*x509.Certificate) ([]*x509.RevocationList, error) {
	const field = "tls_server_config.client_crl_file"
	data, err := d.pemSource("tls_server_config", "client_crl_file", file, "", "")
	if err != nil {
		return nil, err
	}
	fail := func(format string, args ...any) error {
		return d.errorf(field, "%s: %s", file, fmt.Sprintf(format, args...))
	}
	var ders [][]byte
	rest := data
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type == "X509 CRL" {
			ders = append(ders, b.Bytes)
		}
	}
	if len(ders) == 0 {
		if bytes.Contains(data, []byte("-----BEGIN")) || len(bytes.TrimSpace(data)) == 0 {
			return nil, fail("holds no revocation list (want PEM \"X509 CRL\" blocks or one DER list)")
		}
		ders = [][]byte{data}
	}
	var crls []*x509.RevocationList
	for i, der := range ders {
		crl, err := x509.ParseRevocationList(der)
		if err != nil {
			return nil, fail("revocation list %d: %v", i+1, err)
		}
		if err := checkCRLIssuer(crl, cas); err != nil {
			return nil, fail("revocation list %d: %v", i+1, err)
		}
		crls = append(crls, crl)
	}
	return crls, nil
}

// checkCRLIssuer checks that crl is signed by one of cas with its issuer's
// name.
func checkCRLIssuer(crl *x509.RevocationList, cas []*x509.Certificate) error {
	named := false
	for _, ca := range cas {
		if !bytes.Equal(ca.RawSubject, crl.RawIssuer) {
			continue
		}
		named = true
		if crl.CheckSignatureFrom(ca) == nil {
			return nil
		}
	}
	if named {
		return fmt.Errorf("issued by %q but its signature does not verify with that client CA", crl.Issuer.String())
	}
	return fmt.Errorf("issued by %q, which is not a client CA (want a list signed by a certificate of client_ca_file)", crl.Issuer.String())
}

// pemSource returns the bytes of a file field or its inline twin, nil when
// neither is set.
func (d *decoder) pemSource(section, fileKey, file, inlineKey, inline string) ([]byte, error) {
	switch {
	case file != "":
		b, err := readFile(file)
		if err != nil {
			field := section + "." + fileKey
			return nil, &Error{File: d.file, Line: d.fields[field], Field: field, Msg: fmt.Sprintf("cannot read %s: %v", file, err), Err: err}
		}
		return b, nil
	case inline != "":
		return []byte(inline), nil
	}
	return nil, nil
}

// weakKey describes why crypto/tls would refuse to sign with key, or returns
// "".
func weakKey(key crypto.PrivateKey) string {
	if k, ok := key.(*rsa.PrivateKey); ok && k.N.BitLen() < minRSABits {
		return fmt.Sprintf("RSA key of %d bits is too small for TLS (want at least %d; 2048 or more recommended)", k.N.BitLen(), minRSABits)
	}
	return ""
}

func (d *decoder) source(file, inlineKey string) string {
	if file != "" {
		return file
	}
	return "inline " + inlineKey
}

func hasPEMBlock(data []byte, typ string) bool {
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return false
		}
		if b.Type == typ {
			return true
		}
	}
}

func hasPEMKey(data []byte) bool {
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return false
		}
		if b.Type == "PRIVATE KEY" || bytes.HasSuffix([]byte(b.Type), []byte(" PRIVATE KEY")) {
			return true
		}
	}
}

// parseErr reports the first certificate in data that does not parse.
func parseErr(data []byte) error {
	_, err := parseCertificates(data)
	return err
}

func parseCertificates(data []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return certs, nil
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certificate %d: %w", len(certs)+1, err)
		}
		certs = append(certs, c)
	}
}
