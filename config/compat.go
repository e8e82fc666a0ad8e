package config

import (
	"crypto/tls"
	"fmt"
	"slices"
	"strings"
)

// toolkitFields are the fields exporter-toolkit v0.20.0 knows, by their
// dotted YAML path. A field outside this list is one of ours, whatever it
// is and whoever added it: exporter-toolkit, and Prometheus (which embeds
// it), refuse a file that has it, as they refuse any unknown key.
var toolkitFields = map[string]bool{
	"tls_server_config": true, "http_server_config": true, "basic_auth_users": true, "rate_limit": true,

	"tls_server_config.cert_file": true, "tls_server_config.key_file": true,
	"tls_server_config.cert": true, "tls_server_config.key": true,
	"tls_server_config.client_auth_type": true, "tls_server_config.client_ca_file": true,
	"tls_server_config.client_ca": true, "tls_server_config.client_allowed_sans": true,
	"tls_server_config.min_version": true, "tls_server_config.max_version": true,
	"tls_server_config.cipher_suites": true, "tls_server_config.curve_preferences": true,
	"tls_server_config.prefer_server_cipher_suites": true,

	"http_server_config.http2": true, "http_server_config.headers": true,

	"rate_limit.interval": true, "rate_limit.burst": true,
}

// compatWarnings lists what makes the file fail to load in exporter-toolkit
// v0.20.0 and in Prometheus: our extension keys, and the X25519MLKEM768
// curve, which they do not know.
func (c *Config) compatWarnings() []Warning {
	var ws []Warning
	for _, field := range sortedKeys(c.lines) {
		if strings.ContainsAny(field, "[") || toolkitFields[field] {
			continue // a user, header or list item; or a field they know
		}
		if i := strings.LastIndex(field, "."); i >= 0 && !toolkitFields[field[:i]] {
			continue // inside an extension section: its key is reported
		}
		key := field[strings.LastIndex(field, ".")+1:]
		ws = append(ws, Warning{File: c.path, Line: c.lines[field], Field: c.inSection(field),
			Msg: fmt.Sprintf("%s is a webguard extension: exporter-toolkit v0.20.0 and Prometheus refuse the file", key)})
	}
	if i := slices.IndexFunc(c.TLS.CurvePreferences, func(cv Curve) bool { return tls.CurveID(cv) == tls.X25519MLKEM768 }); i >= 0 {
		field := fmt.Sprintf("tls_server_config.curve_preferences[%d]", i)
		line, ok := c.lines[field]
		if !ok {
			field, line = "tls_server_config.curve_preferences", c.lines["tls_server_config.curve_preferences"]
		}
		ws = append(ws, Warning{File: c.path, Line: line, Field: c.inSection(field),
			Msg: "X25519MLKEM768 is unknown to exporter-toolkit v0.20.0 and Prometheus, which refuse the file (\"unknown curve\"); Go uses it by default when curve_preferences is not set"})
	}
	return ws
}
