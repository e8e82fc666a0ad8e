package exporter_test

import (
	"context"
	"log"
	"net"
	"time"

	"github.com/webguard/webguard/examples/exporter/exporter"
)

// An exporter serving under web.yml on a listener of its own, then shutting
// down gracefully.
func ExampleNew() {
	exp, err := exporter.New(exporter.Options{WebConfigFile: "web.yml"})
	if err != nil {
		log.Fatal(err) // an invalid web.yml stops the program here
	}
	l, err := net.Listen("tcp", "127.0.0.1:9100")
	if err != nil {
		log.Fatal(err)
	}
	go exp.Serve(l)

	// ... on SIGHUP: exp.Reload(); on SIGTERM:
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := exp.Shutdown(ctx); err != nil {
		log.Print(err)
	}
}
