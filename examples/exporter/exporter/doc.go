// Package exporter is a small Prometheus exporter secured by webguard: the
// program in examples/exporter and the exporter examples/demo starts
// in-process are both this code.
//
// The pattern to copy is New: one registry with real collectors, the guard's
// own metrics registered next to them, a landing page, and an http.Server
// whose handler is served through the guard, so TLS, client certificates,
// passwords and rate limits all come from web.yml.
package exporter
