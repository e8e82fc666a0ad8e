package bootstrap_test

import (
	"fmt"
	"net/http"
	"os"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/webguard/webguard/bootstrap"
)

// An exporter with its own registry, a probe route bounded like the
// metrics endpoint, and a health check that is not. Run it with
// --web.config.file=web.yml to serve it over TLS with passwords.
func Example() {
	reg := prometheus.NewRegistry()
	runner := bootstrap.New(bootstrap.Config{
		Name:           "example_exporter",
		Description:    "Metrics about examples",
		DefaultAddress: ":9100",
		Registerer:     reg, // the webguard_* metrics go here
		MetricsHandlerFactory: func(b *bootstrap.Bootstrap) (http.Handler, error) {
			if !b.DisableExporterMetrics {
				reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
			}
			b.Handle("/probe", b.MaxRequestsHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				fmt.Fprintf(w, "probed %s\n", r.URL.Query().Get("target"))
			})))
			b.HandleFunc("/-/healthy", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "Healthy") })
			return promhttp.HandlerFor(reg, promhttp.HandlerOpts{}), nil
		},
	})
	if err := runner.Run(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
