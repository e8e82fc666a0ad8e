// Package scrape is a small Prometheus-like server, the one examples/server
// runs and examples/demo starts in-process: it reads the scrape part of a
// prometheus.yml (jobs, static targets, and the client side — tls_config,
// basic_auth — exactly as Prometheus reads it, through
// prometheus/common/config), scrapes each target on its interval, and shows
// the outcome on pages protected by webguard.
//
// What to copy from it: Server protects its own UI and API with a web.Guard
// built from web.yml, and Scraper builds each job's HTTP client with
// config.NewClientFromConfig, so the same files and options work here and in
// Prometheus.
package scrape
