// Command demo shows webguard at work in a few seconds, with nothing to set
// up:
//
//	go run ./examples/demo
//
// It makes a throwaway certificate authority with server and client
// certificates and random passwords in a temporary directory, starts the
// example exporter behind mutual TLS and basic auth and the example server
// scraping it (both in this process, on 127.0.0.1), then reports whether the
// secured scrape worked and whether an outsider is kept out. Each line is
// PASS or FAIL; the exit status is 0 when all pass.
//
// With --keep-running both stay up, and the demo prints curl commands that
// reach them, until Ctrl-C. The temporary directory is removed on exit.
package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/prometheus/common/version"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run is the whole demo; it returns the exit status. Cancelling ctx ends
// --keep-running.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	keepRunning := fs.Bool("keep-running", false, "leave the exporter and server running, and print curl commands to reach them, until interrupted")
	verbose := fs.Bool("v", false, "show the log lines of the exporter and the server")
	showVersion := fs.Bool("version", false, "print the version and exit")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *showVersion {
		fmt.Fprintln(stdout, version.Print("demo"))
		return 0
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "demo: unexpected argument %q\n", fs.Arg(0))
		return 2
	}

	dir, err := os.MkdirTemp("", "webguard-demo-")
	if err != nil {
		fmt.Fprintln(stderr, "demo:", err)
		return 1
	}
	defer os.RemoveAll(dir)

	d, err := start(dir, *verbose, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "demo:", err)
		return 1
	}
	defer d.stop()

	fmt.Fprintf(stdout, "webguard demo: a throwaway CA, an exporter behind mutual TLS and a password, and a server scraping it.\n\n")
	fmt.Fprintf(stdout, "  exporter  https://%s/metrics   client certificate required (RequireAndVerifyClientCert) + basic auth\n", d.exporterAddr)
	fmt.Fprintf(stdout, "  server    https://%s/targets   client certificate optional (VerifyClientCertIfGiven) + basic auth\n\n", d.serverAddr)

	results := d.checks(ctx)
	passed := 0
	for _, r := range results {
		verdict := "FAIL"
		if r.ok {
			verdict = "PASS"
			passed++
		}
		fmt.Fprintf(stdout, "%s  %s: %s\n", verdict, r.name, r.detail)
	}
	fmt.Fprintf(stdout, "\n%d of %d checks passed.\n", passed, len(results))

	if *keepRunning {
		d.printCurl(stdout)
		<-ctx.Done()
		fmt.Fprintln(stdout, "\nstopping; removing", dir)
	}
	if passed != len(results) {
		return 1
	}
	return 0
}

// randomPassword returns 128 random bits, printable.
func randomPassword() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}
