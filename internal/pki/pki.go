// Package pki makes small, throwaway public key infrastructures: a certificate
// authority and the server and client certificates it signs, as PEM.
//
// It is the one place in webguard that generates certificates. `webguard certs`,
// examples/demo and every test that needs a PKI use it, so that nothing
// committed to the repository can expire.
package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// DefaultValidity is how long a certificate is valid when Request.Validity is zero.
const DefaultValidity = 365 * 24 * time.Hour

// Request describes one certificate to make.
type Request struct {
	// CommonName is the subject's CN. For a CA it defaults to "webguard CA";
	// for a leaf it defaults to the first host, if any.
	CommonName string
	// Hosts become subject alternative names. Each is classified by form:
	// an IP address becomes an IP SAN, a value with "@" an e-mail SAN, a value
	// with "://" a URI SAN, anything else a DNS SAN.
	Hosts []string
	// NotBefore defaults to one hour ago (tolerating small clock skew).
	NotBefore time.Time
	// Validity is the lifetime from NotBefore; zero means DefaultValidity.
	// A negative value makes an already expired certificate (for tests).
	Validity time.Duration
	// RSABits selects an RSA key of that size; zero selects ECDSA P-256.
	RSABits int
}

// Cert is a certificate with its private key, parsed and as PEM.
type Cert struct {
	Cert    *x509.Certificate
	Key     crypto.Signer
	CertPEM []byte
	KeyPEM  []byte
}

// NewCA makes a self-signed certificate authority.
func NewCA(r Request) (*Cert, error) {
	if r.CommonName == "" {
		r.CommonName = "webguard CA"
	}
	tmpl, key, err := template(r)
	if err != nil {
		return nil, err
	}
	tmpl.IsCA = true
	tmpl.BasicConstraintsValid = true
	tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature
	return sign(tmpl, tmpl, key, key)
}

// SelfSigned makes a server certificate that is its own issuer, the kind a
// scraper trusts by naming the certificate file itself as its CA file.
func SelfSigned(r Request) (*Cert, error) {
	tmpl, key, err := template(r)
	if err != nil {
		return nil, err
	}
	tmpl.IsCA = true
	tmpl.BasicConstraintsValid = true
	tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment
	tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	return sign(tmpl, tmpl, key, key)
}

// Server issues a certificate for TLS servers, signed by ca.
func (ca *Cert) Server(r Request) (*Cert, error) {
	return ca.issue(r, x509.ExtKeyUsageServerAuth)
}

// Client issues a certificate for TLS clients, signed by ca.
func (ca *Cert) Client(r Request) (*Cert, error) {
	return ca.issue(r, x509.ExtKeyUsageClientAuth)
}

func (ca *Cert) issue(r Request, usage x509.ExtKeyUsage) (*Cert, error) {
	if !ca.Cert.IsCA {
		return nil, errors.New("pki: issuer is not a certificate authority")
	}
	if r.CommonName == "" && len(r.Hosts) > 0 {
		r.CommonName = r.Hosts[0]
	}
	tmpl, key, err := template(r)
	if err != nil {
		return nil, err
	}
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	if _, ok := key.(*rsa.PrivateKey); ok {
		tmpl.KeyUsage |= x509.KeyUsageKeyEncipherment
	}
	tmpl.ExtKeyUsage = []x509.ExtKeyUsage{usage}
	tmpl.AuthorityKeyId = ca.Cert.SubjectKeyId
	return sign(tmpl, ca.Cert, key, ca.Key)
}

// TLSCertificate returns c as a certificate a tls.Config can serve or present.
func (c *Cert) TLSCertificate() tls.Certificate {
	return tls.Certificate{Certificate: [][]byte{c.Cert.Raw}, PrivateKey: c.Key, Leaf: c.Cert}
}

// Pool returns a pool holding only c, for use as RootCAs or ClientCAs.
func (c *Cert) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(c.Cert)
	return p
}

// WriteFiles writes the certificate to certPath (mode 0644) and the key to
// keyPath (mode 0600). An empty path is skipped.
func (c *Cert) WriteFiles(certPath, keyPath string) error {
	if certPath != "" {
		if err := os.WriteFile(certPath, c.CertPEM, 0o644); err != nil {
			return err
		}
	}
	if keyPath != "" {
		if err := os.WriteFile(keyPath, c.KeyPEM, 0o600); err != nil {
			return err
		}
	}
	return nil
}

// WriteServerFiles makes a CA and a server certificate for hosts signed by
// it, and writes them to dir as ca.crt, server.crt and server.key: the
// files of a web.yml with TLS. It returns the CA.
func WriteServerFiles(dir string, hosts ...string) (*Cert, error) {
	ca, err := NewCA(Request{})
	if err != nil {
		return nil, err
	}
	srv, err := ca.Server(Request{Hosts: hosts})
	if err != nil {
		return nil, err
	}
	if err := ca.WriteFiles(filepath.Join(dir, "ca.crt"), ""); err != nil {
		return nil, err
	}
	if err := srv.WriteFiles(filepath.Join(dir, "server.crt"), filepath.Join(dir, "server.key")); err != nil {
		return nil, err
	}
	return ca, nil
}

func template(r Request) (*x509.Certificate, crypto.Signer, error) {
	key, err := newKey(r.RSABits)
	if err != nil {
		return nil, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, nil, err
	}
	notBefore := r.NotBefore
	if notBefore.IsZero() {
		notBefore = time.Now().Add(-time.Hour)
	}
	validity := r.Validity
	if validity == 0 {
		validity = DefaultValidity
	}
	notAfter := notBefore.Add(validity)
	if validity < 0 {
		// An expired certificate: valid for one hour, ending -validity ago.
		notAfter = time.Now().Add(validity)
		notBefore = notAfter.Add(-time.Hour)
	}
	skid, err := subjectKeyID(key.Public())
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: r.CommonName, Organization: []string{"webguard"}},
		NotBefore:    notBefore,
		NotAfter:     notAfter,
		SubjectKeyId: skid,
	}
	for _, h := range r.Hosts {
		switch {
		case net.ParseIP(h) != nil:
			tmpl.IPAddresses = append(tmpl.IPAddresses, net.ParseIP(h))
		case strings.Contains(h, "://"):
			u, err := url.Parse(h)
			if err != nil {
				return nil, nil, fmt.Errorf("pki: host %q: %w", h, err)
			}
			tmpl.URIs = append(tmpl.URIs, u)
		case strings.Contains(h, "@"):
			tmpl.EmailAddresses = append(tmpl.EmailAddresses, h)
		default:
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	return tmpl, key, nil
}

func newKey(rsaBits int) (crypto.Signer, error) {
	if rsaBits == 0 {
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	}
	if rsaBits < 2048 {
		return nil, fmt.Errorf("pki: RSA keys need at least 2048 bits, got %d", rsaBits)
	}
	return rsa.GenerateKey(rand.Reader, rsaBits)
}

func subjectKeyID(pub crypto.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, err
	}
	// A truncated SHA-256 of the key is unique enough for an identifier and
	// lets issued certificates name their issuer's key.
	sum := sha256.Sum256(der)
	return sum[:20], nil
}

func sign(tmpl, parent *x509.Certificate, key, parentKey crypto.Signer) (*Cert, error) {
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), parentKey)
	if err != nil {
		return nil, fmt.Errorf("pki: sign %q: %w", tmpl.Subject.CommonName, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	return &Cert{
		Cert:    cert,
		Key:     key,
		CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		KeyPEM:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
	}, nil
}

// Parse reads a certificate and its private key from PEM, for example a CA
// written earlier by WriteFiles, so that it can issue more certificates.
func Parse(certPEM, keyPEM []byte) (*Cert, error) {
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("pki: %w", err)
	}
	signer, ok := pair.PrivateKey.(crypto.Signer)
	if !ok {
		return nil, errors.New("pki: private key cannot sign")
	}
	return &Cert{Cert: pair.Leaf, Key: signer, CertPEM: certPEM, KeyPEM: keyPEM}, nil
}

// CRLRequest describes a certificate revocation list to make.
type CRLRequest struct {
	// Revoked lists the certificates to revoke, by serial number; they
	// are not checked to be issued by the CA.
	Revoked []*x509.Certificate
	// ThisUpdate defaults to one hour ago.
	ThisUpdate time.Time
	// NextUpdate defaults to seven days after ThisUpdate. A time in the past
	// makes an overdue list (for tests).
	NextUpdate time.Time
	// Number is the CRL number; zero means 1.
	Number int64
}

// CRL is a signed certificate revocation list, parsed, as DER and as PEM.
type CRL struct {
	List *x509.RevocationList
	DER  []byte
	PEM  []byte
}

// CRL makes a certificate revocation list signed by ca.
func (ca *Cert) CRL(r CRLRequest) (*CRL, error) {
	if !ca.Cert.IsCA {
		return nil, errors.New("pki: issuer is not a certificate authority")
	}
	if r.ThisUpdate.IsZero() {
		r.ThisUpdate = time.Now().Add(-time.Hour)
	}
	if r.NextUpdate.IsZero() {
		r.NextUpdate = r.ThisUpdate.Add(7 * 24 * time.Hour)
	}
	if r.Number == 0 {
		r.Number = 1
	}
	tmpl := &x509.RevocationList{
		Number:     big.NewInt(r.Number),
		ThisUpdate: r.ThisUpdate,
		NextUpdate: r.NextUpdate,
	}
	for _, c := range r.Revoked {
		tmpl.RevokedCertificateEntries = append(tmpl.RevokedCertificateEntries,
			x509.RevocationListEntry{SerialNumber: c.SerialNumber, RevocationTime: r.ThisUpdate})
	}
	der, err := x509.CreateRevocationList(rand.Reader, tmpl, ca.Cert, ca.Key)
	if err != nil {
		return nil, fmt.Errorf("pki: sign revocation list of %q: %w", ca.Cert.Subject.CommonName, err)
	}
	list, err := x509.ParseRevocationList(der)
	if err != nil {
		return nil, err
	}
	return &CRL{List: list, DER: der, PEM: pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der})}, nil
}
