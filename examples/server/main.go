// Command server is an example Prometheus-like server: it scrapes the targets
// of a prometheus.yml-style file (over TLS, mutual TLS and basic auth, as
// Prometheus does) and protects its own pages with webguard.
//
//	go run ./examples/server --config.file=prometheus.yml \
//	    --web.listen-address=127.0.0.1:9090 --web.config.file=web.yml
//
// SIGHUP reloads both files; SIGINT or SIGTERM shut down gracefully.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/common/version"

	"github.com/webguard/webguard/examples/server/scrape"
	"github.com/webguard/webguard/web"
)

func main() {
	configFile := flag.String("config.file", "prometheus.yml", "Scrape configuration file.")
	flags := web.AddFlags(flag.CommandLine, ":9090")
	showVersion := flag.Bool("version", false, "Print the version and exit.")
	flag.Parse()
	if *showVersion {
		fmt.Println(version.Print("example_server"))
		return
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := run(*configFile, flags, logger); err != nil {
		logger.Error("server stopped", "err", err)
		os.Exit(1)
	}
}

func run(configFile string, flags *web.FlagConfig, logger *slog.Logger) error {
	srv, err := scrape.New(scrape.Options{
		ConfigFile:    configFile,
		WebConfigFile: *flags.WebConfigFile,
		Logger:        logger,
	})
	if err != nil {
		return err
	}

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, os.Interrupt, syscall.SIGTERM)

	served := make(chan error, 1)
	go func() { served <- srv.ListenAndServe(flags) }()

	shutdown := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return srv.Shutdown(ctx)
	}
	for {
		select {
		case <-hup:
			if err := srv.Reload(); err != nil {
				logger.Error("reload failed, keeping the previous config", "err", err)
			} else {
				logger.Info("config reloaded")
			}
		case sig := <-stop:
			logger.Info("shutting down", "reason", sig.String())
			if err := shutdown(); err != nil {
				return fmt.Errorf("server: shutdown: %w", err)
			}
			<-served
			return nil
		case err := <-served:
			// Serving stopped without a shutdown: a listener failed.
			if errors.Is(err, http.ErrServerClosed) {
				err = nil
			}
			return errors.Join(err, shutdown())
		}
	}
}
