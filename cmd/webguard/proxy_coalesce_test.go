package main

import (
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/webguard/webguard/internal/pki"
	"github.com/webguard/webguard/web"
)

// countingConn counts the writes that reach the socket.
type countingConn struct {
	net.Conn
	writes *atomic.Int64
}

func (c countingConn) Write(p []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(p)
}

type countingListener struct {
	net.Listener
	writes atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return countingConn{c, &l.writes}, nil
}

// TestProxyCoalescesResponseWrites serves the proxy's handler behind a
// Guard with TLS, as `webguard proxy` does, and counts the writes each
// answer takes on the client's socket: a 20 KB scrape is three TLS records
// (more with net/http's 4 KB buffer), sent in one write. A longer page
// streams on after its first buffer, whole.
func TestProxyCoalescesResponseWrites(t *testing.T) {
	dir := t.TempDir()
	ca, err := pki.WriteServerFiles(dir, "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	yml := filepath.Join(dir, "web.yml")
	if err := os.WriteFile(yml, []byte("tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.DiscardHandler)
	g, err := web.New(web.Options{ConfigFile: yml, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })

	page := strings.Repeat("a_metric_total{series=\"000000\"} 1\n", 20<<10/36)
	long := strings.Repeat("x", 3*copyBufSize+5)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/long" {
			io.WriteString(w, long)
			return
		}
		io.WriteString(w, page)
	}))
	t.Cleanup(up.Close)
	u, err := parseUpstream(up.URL)
	if err != nil {
		t.Fatal(err)
	}
	rt, err := newRoutes([]*forwarder{{up: u, logger: logger, bufs: newBufPool()}}, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rt.closeIdle)

	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	counting := &countingListener{Listener: raw}
	server := &http.Server{Handler: rt, ConnContext: coalescingContext}
	var serving sync.WaitGroup
	serving.Go(func() { g.Serve(coalescingListener{counting}, server) })
	t.Cleanup(func() { server.Close(); serving.Wait() })

	client := &http.Client{Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: ca.Pool()},
		// HTTP/1.1, where the proxy holds writes back.
		TLSNextProto: map[string]func(string, *tls.Conn) http.RoundTripper{},
	}}
	t.Cleanup(client.CloseIdleConnections)
	get := func(path, want string) int64 {
		t.Helper()
		before := counting.writes.Load()
		resp, err := client.Get("https://" + raw.Addr().String() + path)
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || string(body) != want {
			t.Fatalf("%s: %d bytes, %v", path, len(body), err)
		}
		return counting.writes.Load() - before
	}
	get("/metrics", page) // the handshake's writes
	for range 3 {
		if n := get("/metrics", page); n != 1 {
			t.Errorf("a %d-byte page took %d writes, want 1", len(page), n)
		}
	}
	if n := get("/long", long); n < 2 {
		t.Errorf("a %d-byte page took %d writes: it did not stream", len(long), n)
	}
}

// TestCoalescingConnConcurrentWrite writes on a holding connection from
// two goroutines, as a Close (its close_notify alert) may while a response
// is held: no write is lost or torn.
func TestCoalescingConnConcurrentWrite(t *testing.T) {
	a, b := net.Pipe()
	defer b.Close()
	c := &coalescingConn{Conn: a}
	got := make(chan string)
	go func() {
		all, _ := io.ReadAll(b)
		got <- string(all)
	}()
	c.hold()
	var wg sync.WaitGroup
	for _, s := range []string{"aaaa", "bbbb"} {
		wg.Go(func() {
			for range 100 {
				c.Write([]byte(s))
			}
		})
	}
	wg.Wait()
	if err := c.release(); err != nil {
		t.Fatal(err)
	}
	c.Write([]byte("end"))
	a.Close()
	s := <-got
	if len(s) != 803 || strings.Count(s, "aaaa") != 100 || strings.Count(s, "bbbb") != 100 || !strings.HasSuffix(s, "end") {
		t.Fatalf("%d bytes: %.40q…", len(s), s)
	}
}
