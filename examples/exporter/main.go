// Command exporter is an example Prometheus exporter secured by webguard.
//
//	go run ./examples/exporter --web.listen-address=127.0.0.1:9100 --web.config.file=web.yml
//
// SIGHUP reloads web.yml (the guard also picks up changes to it and to the
// certificate files by itself); SIGINT or SIGTERM shut down gracefully.
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

	"github.com/webguard/webguard/examples/exporter/exporter"
	"github.com/webguard/webguard/web"
)

func main() {
	// The same flags as every exporter-toolkit exporter:
	// --web.listen-address (repeatable), --web.config.file, --web.systemd-socket.
	flags := web.AddFlags(flag.CommandLine, ":9100")
	flag.Parse()
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := run(flags, logger); err != nil {
		logger.Error("exporter stopped", "err", err)
		os.Exit(1)
	}
}

func run(flags *web.FlagConfig, logger *slog.Logger) error {
	exp, err := exporter.New(exporter.Options{WebConfigFile: *flags.WebConfigFile, Logger: logger})
	if err != nil {
		return err
	}

	// Ask for the signals before serving, so none is missed.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, os.Interrupt, syscall.SIGTERM)

	served := make(chan error, 1)
	go func() { served <- exp.ListenAndServe(flags) }()

	for {
		select {
		case <-hup:
			if err := exp.Reload(); err != nil {
				// The previous config keeps serving; the error says why the new one was refused.
				logger.Error("reload failed, keeping the previous config", "err", err)
			} else {
				logger.Info("config reloaded")
			}
		case sig := <-stop:
			logger.Info("shutting down", "reason", sig.String())
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := exp.Shutdown(ctx); err != nil {
				return fmt.Errorf("exporter: shutdown: %w", err)
			}
			<-served
			return nil
		case err := <-served:
			// Serving stopped without a shutdown: a listener failed.
			if errors.Is(err, http.ErrServerClosed) {
				err = nil
			}
			return errors.Join(err, exp.Shutdown(context.Background()))
		}
	}
}
