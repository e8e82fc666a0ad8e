// Command service is an example internal service that keeps its web settings
// (TLS, client certificates, users) in its own config file, under "web",
// and speaks a line protocol over the same TLS next to its HTTP API.
//
//	go run ./examples/service -config service.yml -http 127.0.0.1:8080 -lines 127.0.0.1:8081
//
// The certificate, key and CA files named under "web" are watched and
// reloaded by the guard. service.yml itself is checked every 2 seconds: a
// change applies, except one that lowers security, which waits for SIGHUP.
// SIGHUP re-reads it now and applies everything. SIGINT or SIGTERM shut down.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/common/version"

	"github.com/webguard/webguard/examples/service/service"
)

func main() {
	path := flag.String("config", "service.yml", "the service's config file")
	httpAddr := flag.String("http", "127.0.0.1:8080", "address of the HTTP API")
	linesAddr := flag.String("lines", "127.0.0.1:8081", "address of the line protocol")
	showVersion := flag.Bool("version", false, "print the version and exit")
	flag.Parse()
	if *showVersion {
		fmt.Println(version.Print("example_service"))
		return
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := run(*path, *httpAddr, *linesAddr, logger); err != nil {
		logger.Error("service stopped", "err", err)
		os.Exit(1)
	}
}

func run(path, httpAddr, linesAddr string, logger *slog.Logger) error {
	svc, err := service.New(path, logger)
	if err != nil {
		return err
	}
	api, err := net.Listen("tcp", httpAddr)
	if err != nil {
		return err
	}
	lines, err := net.Listen("tcp", linesAddr)
	if err != nil {
		api.Close()
		return err
	}
	logger.Info("serving", "http", api.Addr().String(), "lines", lines.Addr().String())

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, os.Interrupt, syscall.SIGTERM)
	served := make(chan error, 1)
	go func() { served <- svc.Serve(api, lines) }()

	poll := time.NewTicker(2 * time.Second)
	defer poll.Stop()
	last := stamp(path)
	for {
		select {
		case <-poll.C:
			if now := stamp(path); now != last {
				last = now
				if err := svc.Refresh(); err != nil {
					logger.Warn("service.yml changed; not all of it applies yet", "err", err)
				}
			}
		case <-hup:
			last = stamp(path)
			if err := svc.Reload(); err != nil {
				logger.Error("reload failed, keeping the previous web config", "err", err)
			}
		case sig := <-stop:
			logger.Info("shutting down", "reason", sig.String())
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			err := svc.Shutdown(ctx)
			<-served
			return err
		case err := <-served:
			if errors.Is(err, http.ErrServerClosed) {
				err = nil
			}
			return errors.Join(err, svc.Shutdown(context.Background()))
		}
	}
}

// stamp is what says service.yml changed: its size and modification time.
func stamp(path string) [2]int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return [2]int64{}
	}
	return [2]int64{fi.Size(), fi.ModTime().UnixNano()}
}
