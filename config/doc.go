// Package config is the web-config file format shared by Prometheus
// exporters: its types, defaults, strict YAML decoding, validation, and the
// tables between web.yml names and crypto/tls constants.
//
// Every file that exporter-toolkit's web package accepts with a meaning that
// can hold is accepted here with the same meaning. Files it accepts although
// they cannot work, or would silently weaken security (a TLS option without a
// certificate, a file and its inline form both set, a hash that can never
// match), are rejected with an error naming the file, line and field.
//
// The package does no network I/O, starts no goroutines and does not log.
package config
