package scrape_test

import (
	"fmt"
	"log"

	"github.com/webguard/webguard/examples/server/scrape"
)

// A job scraping over mutual TLS with a password, as Prometheus writes it.
// Relative file names are resolved against the config file's directory.
func ExampleParseConfig() {
	cfg, err := scrape.ParseConfig([]byte(`
global:
  scrape_interval: 15s
scrape_configs:
  - job_name: node
    scheme: https
    tls_config:
      ca_file: ca.crt
      cert_file: client.crt
      key_file: client.key
      server_name: node.example.internal
    basic_auth:
      username: prometheus
      password_file: password
    static_configs:
      - targets: ['127.0.0.1:9100']
`), "/etc/prometheus")
	if err != nil {
		log.Fatal(err)
	}
	job := cfg.ScrapeConfigs[0]
	tls := job.HTTPClientConfig.TLSConfig
	fmt.Println(job.JobName, job.Scheme, job.MetricsPath, job.ScrapeInterval, job.ScrapeTimeout)
	fmt.Println(tls.CAFile, tls.ServerName)
	fmt.Println(job.HTTPClientConfig.BasicAuth.PasswordFile)
	// Output:
	// node https /metrics 15s 10s
	// /etc/prometheus/ca.crt node.example.internal
	// /etc/prometheus/password
}
