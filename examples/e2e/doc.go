// Package e2e holds end-to-end tests of the examples, each rebuilding on
// 127.0.0.1 one way people secure Prometheus endpoints today:
//
//   - a TLS sidecar (webguard proxy) in front of an unsecured exporter, with
//     the scraper's server_name differing from the target address;
//   - native mutual TLS on the exporter, and a server whose UI takes a
//     client certificate if given but does not require one;
//   - basic auth over TLS with a self-signed certificate that is also the
//     scraper's ca_file, checked with curl;
//   - the server scraping itself over HTTPS with basic auth, its web.yml
//     accepted by both webguard check and promtool check web-config;
//   - the example programs themselves, built and driven with signals.
//
// The package has no code of its own; run it with go test ./examples/e2e.
package e2e
