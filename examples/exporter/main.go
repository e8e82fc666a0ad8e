// Command exporter is an example Prometheus exporter secured by webguard,
// written on package bootstrap as exporter-toolkit exporters are:
//
//	go run ./examples/exporter --web.listen-address=127.0.0.1:9100 --web.config.file=web.yml
//
// The flags are the toolkit's: --web.listen-address (repeatable),
// --web.config.file, --web.systemd-socket, --web.telemetry-path,
// --web.disable-exporter-metrics, --web.max-requests, --log.level,
// --log.format, --version. SIGHUP reloads web.yml (the guard also picks up
// changes to it and to the certificate files by itself); SIGINT or SIGTERM
// shut down gracefully.
package main

import (
	"fmt"
	"net/http"
	"os"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/webguard/webguard/bootstrap"
	"github.com/webguard/webguard/examples/exporter/exporter"
)

func main() {
	// A registry of our own: /metrics serves it, and bootstrap registers the
	// guard's webguard_* metrics there.
	reg := prometheus.NewRegistry()
	runner := bootstrap.New(bootstrap.Config{
		Name:           "example_exporter",
		Description:    "A Prometheus exporter secured by webguard",
		DefaultAddress: ":9100",
		Registerer:     reg,
		MetricsHandlerFactory: func(b *bootstrap.Bootstrap) (http.Handler, error) {
			// A health check answers even while scrapes fill
			// --web.max-requests: it is not wrapped in b.MaxRequestsHandler.
			b.HandleFunc("/-/healthy", func(w http.ResponseWriter, _ *http.Request) {
				fmt.Fprintln(w, "Healthy")
			})
			return exporter.MetricsHandler(reg, !b.DisableExporterMetrics), nil
		},
	})
	if err := runner.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "example_exporter:", err)
		os.Exit(1)
	}
}
