package pki

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"io"
	"net"
	"testing"
	"time"
)

func TestChainVerifiesOverTLS(t *testing.T) {
	for _, bits := range []int{0, 2048} {
		ca, err := NewCA(Request{RSABits: bits})
		if err != nil {
			t.Fatal(err)
		}
		srv, err := ca.Server(Request{Hosts: []string{"localhost", "127.0.0.1"}, RSABits: bits})
		if err != nil {
			t.Fatal(err)
		}
		cli, err := ca.Client(Request{CommonName: "prometheus", Hosts: []string{"prometheus.example.org", "spiffe://example.org/prom", "ops@example.org"}})
		if err != nil {
			t.Fatal(err)
		}
		if got := cli.Cert.URIs[0].String(); got != "spiffe://example.org/prom" {
			t.Errorf("URI SAN = %q", got)
		}
		if got := cli.Cert.EmailAddresses; len(got) != 1 || got[0] != "ops@example.org" {
			t.Errorf("e-mail SANs = %v", got)
		}
		ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{
			Certificates: []tls.Certificate{srv.TLSCertificate()},
			ClientCAs:    ca.Pool(),
			ClientAuth:   tls.RequireAndVerifyClientCert,
		})
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
			_, _ = c.Write([]byte("ok"))
		}()
		c, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{
			RootCAs:      ca.Pool(),
			ServerName:   "localhost",
			Certificates: []tls.Certificate{cli.TLSCertificate()},
		})
		if err != nil {
			t.Fatalf("rsa=%d: dial: %v", bits, err)
		}
		b, _ := io.ReadAll(c)
		c.Close()
		if string(b) != "ok" {
			t.Fatalf("read %q", b)
		}
	}
}

func TestParseRoundTrip(t *testing.T) {
	ca, err := NewCA(Request{CommonName: "round trip"})
	if err != nil {
		t.Fatal(err)
	}
	again, err := Parse(ca.CertPEM, ca.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := again.Server(Request{Hosts: []string{"::1"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := leaf.Cert.Verify(x509.VerifyOptions{Roots: ca.Pool()}); err != nil {
		t.Fatal(err)
	}
	if !leaf.Cert.IPAddresses[0].Equal(net.ParseIP("::1")) {
		t.Fatalf("IP SAN = %v", leaf.Cert.IPAddresses)
	}
	if _, err := leaf.Server(Request{}); err == nil {
		t.Fatal("a leaf issued a certificate")
	}
}

func TestExpiredAndSelfSigned(t *testing.T) {
	ca, _ := NewCA(Request{})
	old, err := ca.Client(Request{CommonName: "old", Validity: -time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if !old.Cert.NotAfter.Before(time.Now()) {
		t.Fatalf("NotAfter %v is not in the past", old.Cert.NotAfter)
	}
	ss, err := SelfSigned(Request{Hosts: []string{"localhost"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ss.Cert.Verify(x509.VerifyOptions{Roots: ss.Pool(), DNSName: "localhost"}); err != nil {
		t.Fatal(err)
	}
	if _, err := NewCA(Request{RSABits: 1024}); err == nil {
		t.Fatal("1024-bit RSA accepted")
	}
}

func TestCRL(t *testing.T) {
	ca, err := NewCA(Request{})
	if err != nil {
		t.Fatal(err)
	}
	revoked, err := ca.Client(Request{Hosts: []string{"revoked.example"}})
	if err != nil {
		t.Fatal(err)
	}
	next := time.Now().Add(time.Hour).Truncate(time.Second)
	crl, err := ca.CRL(CRLRequest{Revoked: []*x509.Certificate{revoked.Cert}, NextUpdate: next, Number: 7})
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{"DER": crl.DER, "PEM body": func() []byte { b, _ := pem.Decode(crl.PEM); return b.Bytes }()} {
		l, err := x509.ParseRevocationList(data)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := l.CheckSignatureFrom(ca.Cert); err != nil {
			t.Errorf("%s: signature: %v", name, err)
		}
		if len(l.RevokedCertificateEntries) != 1 || l.RevokedCertificateEntries[0].SerialNumber.Cmp(revoked.Cert.SerialNumber) != 0 {
			t.Errorf("%s: entries %v", name, l.RevokedCertificateEntries)
		}
		if !l.NextUpdate.Equal(next) || l.Number.Int64() != 7 {
			t.Errorf("%s: next update %v, number %v", name, l.NextUpdate, l.Number)
		}
	}
	leaf, _ := ca.Client(Request{})
	if _, err := leaf.CRL(CRLRequest{}); err == nil {
		t.Error("a leaf signed a CRL")
	}
}
