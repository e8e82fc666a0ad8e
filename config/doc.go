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
// Load (or Parse) does all the work once: it decodes strictly (unknown,
// duplicate and mistyped keys are errors), applies the defaults, resolves
// relative paths against the directory of the file, validates, and reads the
// certificate, key and client CA files. A Config it returns is complete and
// consistent; nothing needs to read those files again. Password hashes and
// private keys never appear in an error, and marshal as "<secret>".
//
// A hostile or mistaken file cannot stall the loader: only regular files of
// at most MaxFileSize are read (a named pipe is refused, not waited on), all
// aliases and merge keys together may bring in a bounded number of values,
// and mappings are built in time linear in their size. Every error, the YAML
// library's included, is redacted of anything that looks like a hash or a
// key.
//
// docs/web-configuration.md is the user's manual of the format.
//
// The package does no network I/O, starts no goroutines and does not log.
package config
