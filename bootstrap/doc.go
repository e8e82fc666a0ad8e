// Package bootstrap runs an exporter's whole command line and web serving
// from one Config, as exporter-toolkit's package of the same name does: the
// --web.* flags of package web, --web.telemetry-path,
// --web.disable-exporter-metrics, --web.max-requests, promslog's
// --log.level and --log.format, and --version; a landing page linking to
// the metrics; and serving through a web.Guard, so that TLS, basic auth,
// headers and the rate limit come from --web.config.file.
//
//	runner := bootstrap.New(bootstrap.Config{
//		Name:           "example_exporter",
//		Description:    "Example exporter",
//		DefaultAddress: ":9100",
//		MetricsHandler: promhttp.Handler(),
//	})
//	if err := runner.Run(); err != nil {
//		fmt.Fprintln(os.Stderr, err)
//		os.Exit(1)
//	}
//
// Beyond the toolkit: SIGHUP reloads web.yml at once (the Guard also reloads
// it when its files change, and an explicit reload applies changes that
// lower security, which the automatic one holds back); SIGINT and SIGTERM
// shut the server down gracefully and Run returns nil; and the Guard's
// webguard_* metrics are registered with Config.Registerer (the default
// registry) unless --web.disable-exporter-metrics is given.
package bootstrap
