// Command webguard is the benchmarks' webguard server: the same handler as
// the baseline's, served by a web.Guard from the benchmark directory's
// web.yml.
package main

import (
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"

	"github.com/webguard/webguard/web"
	"github.com/webguard/webguard/web/testdata/benchserver/serverproc"
)

func main() {
	if err := run(os.Getenv(serverproc.EnvDir)); err != nil {
		fmt.Fprintln(os.Stderr, "webguard bench server:", err)
		os.Exit(1)
	}
}

func run(dir string) error {
	g, err := web.New(web.Options{ConfigFile: filepath.Join(dir, "web.yml")})
	if err != nil {
		return err
	}
	defer g.Close()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	server := &http.Server{Handler: serverproc.Handler(), ErrorLog: log.New(io.Discard, "", 0)}
	return serverproc.Run("webguard", l, server, func() error { return g.Serve(l, server) })
}
