package config

import (
	"crypto/tls"
	"fmt"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// ClientAuthType is a client certificate policy, written in web.yml by the name
// of the crypto/tls constant it stands for. The zero value is NoClientCert.
type ClientAuthType tls.ClientAuthType

// clientAuthNames lists the accepted spellings in documentation order.
// RequireClientCert is the legacy spelling of RequireAnyClientCert.
var clientAuthNames = []struct {
	name string
	val  tls.ClientAuthType
}{
	{"NoClientCert", tls.NoClientCert},
	{"RequestClientCert", tls.RequestClientCert},
	{"RequireAnyClientCert", tls.RequireAnyClientCert},
	{"VerifyClientCertIfGiven", tls.VerifyClientCertIfGiven},
	{"RequireAndVerifyClientCert", tls.RequireAndVerifyClientCert},
	{"RequireClientCert", tls.RequireAnyClientCert},
}

// TLS returns the crypto/tls value.
func (c ClientAuthType) TLS() tls.ClientAuthType { return tls.ClientAuthType(c) }

// String returns the canonical name, e.g. "RequireAndVerifyClientCert".
func (c ClientAuthType) String() string {
	for _, n := range clientAuthNames {
		if n.val == tls.ClientAuthType(c) {
			return n.name
		}
	}
	return fmt.Sprintf("ClientAuthType(%d)", int(c))
}

// Verifies reports whether the policy verifies client certificates that are
// presented against the client CAs.
func (c ClientAuthType) Verifies() bool {
	return c.TLS() == tls.VerifyClientCertIfGiven || c.TLS() == tls.RequireAndVerifyClientCert
}

// Requires reports whether the policy refuses clients without a certificate.
func (c ClientAuthType) Requires() bool {
	return c.TLS() == tls.RequireAnyClientCert || c.TLS() == tls.RequireAndVerifyClientCert
}

// UnmarshalYAML accepts the exact, case-sensitive names. An empty string is
// NoClientCert, as in exporter-toolkit.
func (c *ClientAuthType) UnmarshalYAML(n *yaml.Node) error {
	var s string
	if err := n.Decode(&s); err != nil {
		return err
	}
	if s == "" {
		*c = ClientAuthType(tls.NoClientCert)
		return nil
	}
	for _, e := range clientAuthNames {
		if e.name == s {
			*c = ClientAuthType(e.val)
			return nil
		}
	}
	names := make([]string, len(clientAuthNames))
	for i, e := range clientAuthNames {
		names[i] = e.name
	}
	return unknownValue(n, s, names)
}

// MarshalYAML writes the canonical name.
func (c ClientAuthType) MarshalYAML() (any, error) { return c.String(), nil }

// TLSVersion is a TLS protocol version, written TLS10, TLS11, TLS12 or TLS13.
type TLSVersion uint16

var versionNames = []struct {
	name string
	val  uint16
}{
	{"TLS10", tls.VersionTLS10},
	{"TLS11", tls.VersionTLS11},
	{"TLS12", tls.VersionTLS12},
	{"TLS13", tls.VersionTLS13},
}

// String returns the web.yml spelling, e.g. "TLS12".
func (v TLSVersion) String() string {
	for _, e := range versionNames {
		if e.val == uint16(v) {
			return e.name
		}
	}
	return fmt.Sprintf("TLSVersion(%#04x)", uint16(v))
}

// UnmarshalYAML accepts the exact names TLS10..TLS13.
func (v *TLSVersion) UnmarshalYAML(n *yaml.Node) error {
	var s string
	if err := n.Decode(&s); err != nil {
		return err
	}
	for _, e := range versionNames {
		if e.name == s {
			*v = TLSVersion(e.val)
			return nil
		}
	}
	names := make([]string, len(versionNames))
	for i, e := range versionNames {
		names[i] = e.name
	}
	return unknownValue(n, s, names)
}

// MarshalYAML writes the web.yml spelling.
func (v TLSVersion) MarshalYAML() (any, error) { return v.String(), nil }

// Cipher is a cipher suite, written by its Go name, e.g.
// TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256: one of those tls.CipherSuites
// returns. Suites Go lists as insecure (tls.InsecureCipherSuites) are
// refused. The TLS 1.3 names are accepted, as exporter-toolkit accepts them,
// but have no effect: TLS 1.3 suites are not configurable.
type Cipher uint16

// String returns the Go name of the suite.
func (c Cipher) String() string { return tls.CipherSuiteName(uint16(c)) }

// UnmarshalYAML accepts the names of the suites tls.CipherSuites returns.
func (c *Cipher) UnmarshalYAML(n *yaml.Node) error {
	var s string
	if err := n.Decode(&s); err != nil {
		return err
	}
	var names []string
	for _, cs := range tls.CipherSuites() {
		if cs.Name == s {
			*c = Cipher(cs.ID)
			return nil
		}
		names = append(names, cs.Name)
	}
	for _, cs := range tls.InsecureCipherSuites() {
		if cs.Name == s {
			return &Error{Line: n.Line, col: n.Column, Msg: fmt.Sprintf("cipher suite %q is insecure and not allowed (want one of %s)", s, strings.Join(names, ", "))}
		}
	}
	return unknownValue(n, s, names)
}

// MarshalYAML writes the Go name.
func (c Cipher) MarshalYAML() (any, error) { return c.String(), nil }

// Curve is a key exchange group, written by its Go name: CurveP256,
// CurveP384, CurveP521, X25519 or X25519MLKEM768.
type Curve tls.CurveID

var curveNames = []struct {
	name string
	val  tls.CurveID
}{
	{"CurveP256", tls.CurveP256},
	{"CurveP384", tls.CurveP384},
	{"CurveP521", tls.CurveP521},
	{"X25519", tls.X25519},
	{"X25519MLKEM768", tls.X25519MLKEM768},
}

// String returns the web.yml spelling.
func (c Curve) String() string {
	for _, e := range curveNames {
		if e.val == tls.CurveID(c) {
			return e.name
		}
	}
	return tls.CurveID(c).String()
}

// UnmarshalYAML accepts the exact names listed on Curve.
func (c *Curve) UnmarshalYAML(n *yaml.Node) error {
	var s string
	if err := n.Decode(&s); err != nil {
		return err
	}
	for _, e := range curveNames {
		if e.name == s {
			*c = Curve(e.val)
			return nil
		}
	}
	names := make([]string, len(curveNames))
	for i, e := range curveNames {
		names[i] = e.name
	}
	return unknownValue(n, s, names)
}

// MarshalYAML writes the web.yml spelling.
func (c Curve) MarshalYAML() (any, error) { return c.String(), nil }

// unknownValue reports a name that is not in want, pointing out a
// difference in case: names are case-sensitive.
func unknownValue(n *yaml.Node, got string, want []string) error {
	msg := fmt.Sprintf("unknown value %s (want one of %s)", shown(got), strings.Join(slices.Clip(want), ", "))
	for _, w := range want {
		if strings.EqualFold(w, got) {
			msg = fmt.Sprintf("unknown value %s: names are case-sensitive, did you mean %s? (want one of %s)", shown(got), w, strings.Join(want, ", "))
			break
		}
	}
	return &Error{Line: n.Line, col: n.Column, Msg: msg}
}
