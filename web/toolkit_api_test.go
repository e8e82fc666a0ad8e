package web

import (
	"crypto/tls"
	"crypto/x509"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	commoncfg "github.com/prometheus/common/config"
)

// The API of exporter-toolkit v0.20.0's web package, each identifier
// assigned to a variable of the type it has there. If a name or a
// signature drifts, this file stops compiling: a program written against
// the toolkit would stop compiling too.
var (
	_ error = ErrMissingFlag
	_ error = ErrNoListeners

	_ func(*TLSConfig) (*tls.Config, error)                               = ConfigToTLSConfig
	_ func(*http.Server, *FlagConfig, *slog.Logger) error                 = Listen
	_ func(*http.Server, *FlagConfig, *slog.Logger) error                 = ListenAndServe
	_ func(net.Listener, *http.Server, *FlagConfig, *slog.Logger) error   = Serve
	_ func([]net.Listener, *http.Server, *FlagConfig, *slog.Logger) error = ServeMultiple
	_ func(string) error                                                  = Validate
	_ func(LandingConfig) (*LandingPageHandler, error)                    = NewLandingPage
	_ func(*LandingPageHandler, http.ResponseWriter, *http.Request)       = (*LandingPageHandler).ServeHTTP
	_ http.Handler                                                        = (*LandingPageHandler)(nil)
	_ func(Cipher) (any, error)                                           = Cipher.MarshalYAML
	_ func(*Cipher, func(any) error) error                                = (*Cipher).UnmarshalYAML
	_ func(*Curve) (any, error)                                           = (*Curve).MarshalYAML
	_ func(*Curve, func(any) error) error                                 = (*Curve).UnmarshalYAML
	_ func(*TLSVersion) (any, error)                                      = (*TLSVersion).MarshalYAML
	_ func(*TLSVersion, func(any) error) error                            = (*TLSVersion).UnmarshalYAML
	_ func(*TLSConfig) bool                                               = (*TLSConfig).IsEnabled
	_ func(*TLSConfig, string)                                            = (*TLSConfig).SetDirectory
	_ func(*TLSConfig, [][]byte, [][]*x509.Certificate) error             = (*TLSConfig).VerifyPeerCertificate
	_ func(rawCerts [][]byte, verifiedChains [][]*x509.Certificate) error = (&tls.Config{}).VerifyPeerCertificate
	_ func(rawCerts [][]byte, verifiedChains [][]*x509.Certificate) error = (&TLSConfig{}).VerifyPeerCertificate
	_ uint16                                                              = uint16(Cipher(0))
	_ tls.CurveID                                                         = tls.CurveID(Curve(0))
	_ uint16                                                              = uint16(TLSVersion(0))
	// FlagConfig has the toolkit's three fields with their types, plus
	// WebListenSocketMode (an extension): keyed literals and field reads
	// written for the toolkit compile.
	_           = FlagConfig{WebListenAddresses: new([]string), WebSystemdSocket: new(bool), WebConfigFile: new(string)}
	_ *[]string = FlagConfig{}.WebListenAddresses
	_ *bool     = FlagConfig{}.WebSystemdSocket
	_ *string   = FlagConfig{}.WebConfigFile
)

// The structs, field by field with the toolkit's types. Struct conversion
// checks names, types and order; the tags are checked by the YAML tests.
var (
	_ = Config(struct {
		TLSConfig         TLSConfig                   `yaml:"tls_server_config"`
		HTTPConfig        HTTPConfig                  `yaml:"http_server_config"`
		RateLimiterConfig RateLimiterConfig           `yaml:"rate_limit"`
		Users             map[string]commoncfg.Secret `yaml:"basic_auth_users"`
	}{})
	_ = TLSConfig(struct {
		TLSCert                  string
		TLSKey                   commoncfg.Secret
		ClientCAsText            string
		TLSCertPath              string
		TLSKeyPath               string
		ClientAuth               string
		ClientCAs                string
		CipherSuites             []Cipher
		CurvePreferences         []Curve
		MinVersion               TLSVersion
		MaxVersion               TLSVersion
		PreferServerCipherSuites bool
		ClientAllowedSans        []string
	}{})
	_ = HTTPConfig(struct {
		HTTP2  bool              `yaml:"http2"`
		Header map[string]string `yaml:"headers,omitempty"`
	}{})
	_ = RateLimiterConfig(struct {
		Burst    int           `yaml:"burst"`
		Interval time.Duration `yaml:"interval"`
	}{})
	_ = LandingForm(struct {
		Action string
		Inputs []LandingFormInput
		Width  float64
	}{})
	_ = LandingFormInput(struct{ Label, Type, Name, Placeholder, Value string }{})
	_ = LandingLinks(struct{ Address, Text, Description string }{})
	_ = LandingConfig(struct {
		RoutePrefix string
		HeaderColor string
		CSS         string
		Name        string
		Description string
		Form        LandingForm
		Links       []LandingLinks
		ExtraHTML   string
		ExtraCSS    string
		Version     string
		Profiling   string
	}{})
)

// TestToolkitTLSConfigFields builds a TLSConfig literal the way
// grafana/dskit does (every field by name), and checks the YAML tags
// against the toolkit's keys by decoding them.
func TestToolkitTLSConfigFields(t *testing.T) {
	c := TLSConfig{
		TLSCert:                  "cert",
		TLSKey:                   commoncfg.Secret("key"),
		ClientCAsText:            "ca",
		TLSCertPath:              "a.crt",
		TLSKeyPath:               "a.key",
		ClientAuth:               "RequireAndVerifyClientCert",
		ClientCAs:                "ca.crt",
		CipherSuites:             []Cipher{Cipher(tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256)},
		CurvePreferences:         []Curve{Curve(tls.X25519)},
		MinVersion:               TLSVersion(tls.VersionTLS12),
		MaxVersion:               TLSVersion(tls.VersionTLS13),
		PreferServerCipherSuites: true,
		ClientAllowedSans:        []string{"scraper.example"},
	}
	if !c.IsEnabled() {
		t.Error("IsEnabled false with every field set")
	}
}
