// Package serverproc is the part the benchmark server programs share: the
// body they serve and the stats protocol on stdin and stdout. It imports
// only the standard library, so that the baseline program links nothing
// webguard needs.
package serverproc

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
)

// Environment of a benchmark server process (web/bench_test.go sets it).
const (
	EnvDir  = "WEBGUARD_BENCH_DIR"  // the directory holding the PKI and web.yml
	EnvMode = "WEBGUARD_BENCH_MODE" // tls, mtls or auth
	// EnvProfile names a directory: each server process writes a CPU
	// profile there, KIND-PID.cpu.pprof, for `go tool pprof`.
	EnvProfile = "WEBGUARD_BENCH_PROFILE_DIR"
)

// BodySize is the size of the response body, a typical /metrics page.
const BodySize = 20 << 10

// Body returns what every benchmark server answers: 20 KB shaped like a
// metrics page.
func Body() []byte {
	var b bytes.Buffer
	for i := 0; b.Len() < BodySize; i++ {
		fmt.Fprintf(&b, "bench_metric_total{instance=\"127.0.0.1\",series=\"%06d\"} %d\n", i, i*7)
	}
	return b.Bytes()[:BodySize]
}

// Handler answers every request with Body.
func Handler() http.Handler {
	body := Body()
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		w.Write(body)
	})
}

// Run starts serve (which serves on l until server is closed), prints
// "addr ADDR", and answers each "stats" line on stdin with
// "stats CPU_NS MALLOCS VMHWM_KB VMRSS_KB" until stdin closes; then it
// closes server. kind names the CPU profile file.
func Run(kind string, l net.Listener, server *http.Server, serve func() error) error {
	if dir := os.Getenv(EnvProfile); dir != "" {
		f, err := os.Create(filepath.Join(dir, fmt.Sprintf("%s-%d.cpu.pprof", kind, os.Getpid())))
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	errc := make(chan error, 1)
	go func() { errc <- serve() }()
	fmt.Printf("addr %s\n", l.Addr())
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		if in.Text() != "stats" {
			continue
		}
		var ru syscall.Rusage
		if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
			return err
		}
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		fmt.Printf("stats %d %d %d %d\n", ru.Utime.Nano()+ru.Stime.Nano(), ms.Mallocs, procStatusKB("VmHWM"), procStatusKB("VmRSS"))
	}
	server.Close()
	if err := <-errc; err != http.ErrServerClosed {
		return err
	}
	return nil
}

// procStatusKB reads a "Name: N kB" line of /proc/self/status.
func procStatusKB(name string) int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for line := range strings.Lines(string(data)) {
		if rest, ok := strings.CutPrefix(line, name+":"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return n
		}
	}
	return -1
}
