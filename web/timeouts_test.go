package web

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// h2Preface is what an HTTP/2 client sends first: the connection preface
// and an empty SETTINGS frame.
const h2Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + "\x00\x00\x00\x04\x00\x00\x00\x00\x00"

// holdOpen is one attacking connection: it dials addr with TLS offering
// proto by ALPN, writes what, and reads until the server closes the
// connection or wait passes. It returns whether the server closed it.
// Dialling holds a place in dialing, so that hundreds of attackers do not
// all shake hands at once (their handshakes are bounded by the server's
// short ReadHeaderTimeout, and the attack is on what follows).
func (p *testPKI) holdOpen(dialing chan struct{}, addr, proto, what string, wait time.Duration) (closed bool, err error) {
	dialing <- struct{}{}
	d := &net.Dialer{Timeout: wait}
	c, err := tls.DialWithDialer(d, "tcp", addr, &tls.Config{RootCAs: p.ca.Pool(), NextProtos: []string{proto}})
	if err != nil {
		<-dialing
		if errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.EOF) {
			// The server's handshake bound (ReadHeaderTimeout) ran out
			// before a loaded machine finished the handshake: closed too.
			return true, nil
		}
		return false, err
	}
	defer c.Close()
	if got := c.ConnectionState().NegotiatedProtocol; got != proto {
		<-dialing
		return false, fmt.Errorf("negotiated %q, want %q", got, proto)
	}
	_, err = io.WriteString(c, what)
	<-dialing
	if errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNRESET) {
		return true, nil // closed already: a slow machine took the whole bound to get here
	}
	if err != nil {
		return false, err
	}
	c.SetReadDeadline(time.Now().Add(wait))
	_, err = io.Copy(io.Discard, c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return false, nil
	}
	return true, nil // EOF, or a reset: the server closed it
}

// TestIdleAndSlowClients is the slow-client attack of issue 12, with the
// timeouts shortened by the caller as a program may: 300 HTTP/1.1
// connections kept after a 401, 300 HTTP/2 connections that send only the
// preface and 50 POSTs whose body never finishes must all be closed, while
// a legitimate client keeps scraping, including a scrape slower than every
// timeout and a POST whose response comes after the body deadline.
// IdleTimeout is set beyond the test's wait, so that each attack is ended
// by its own defence: the refusal closing the connection, the first-request
// bound, ReadTimeout.
func TestIdleAndSlowClients(t *testing.T) {
	p := newTestPKI(t)
	yml := p.tlsSection() + "basic_auth_users:\n  alice: " + testHash(t, "pw") + "\n"
	g := newGuard(t, p.dir, yml, nil)
	const slow = 3 * time.Second // longer than every timeout below
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.ReadAll(r.Body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if r.URL.Path == "/slow" {
			// A scrape that takes its time, writing as it goes.
			for range 6 {
				select {
				case <-time.After(slow / 6):
				case <-r.Context().Done():
					http.Error(w, "context canceled", http.StatusServiceUnavailable)
					return
				}
				io.WriteString(w, "# still gathering\n")
				http.NewResponseController(w).Flush()
			}
		}
		io.WriteString(w, "ok")
	})
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: time.Second, ReadTimeout: time.Second, IdleTimeout: time.Minute}
	addr := serveServer(t, g, srv)
	url := "https://" + addr
	auth := "Basic " + base64.StdEncoding.EncodeToString([]byte("alice:pw"))

	// The legitimate scraper, throughout.
	stop := make(chan struct{})
	var scrapes, failures atomic.Int64
	var scraping sync.WaitGroup
	scraper := p.httpClient(nil)
	scraper.Transport.(*http.Transport).DisableKeepAlives = false
	scraping.Go(func() {
		for n := 0; n < 2000; n++ {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			if resp, body, err := fetch(t, scraper, url, basicAuth("alice", "pw")); err != nil || resp.StatusCode != 200 || body != "ok" {
				t.Errorf("scrape during the attack: %v %v %q", resp != nil && resp.StatusCode == 200, err, body)
				failures.Add(1)
			}
			scrapes.Add(1)
		}
	})
	// Slow scrapes and a POST whose answer comes after ReadTimeout, over
	// both protocols: over HTTP/1.1 a read deadline left on the connection
	// would cancel the request's context.
	http1 := p.httpClient(nil)
	http1.Transport.(*http.Transport).TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
	for _, c := range []*http.Client{scraper, http1} {
		scraping.Go(func() {
			resp, body, err := fetch(t, c, url+"/slow", basicAuth("alice", "pw"))
			if err != nil || resp.StatusCode != 200 || !strings.HasSuffix(body, "ok") {
				t.Errorf("slow scrape: %v, %q", err, body)
			}
		})
		scraping.Go(func() {
			resp, body, err := fetch(t, c, url+"/slow", basicAuth("alice", "pw"), func(r *http.Request) {
				r.Method = http.MethodPost
				r.Body = io.NopCloser(strings.NewReader("a body that arrives at once"))
				r.ContentLength = 27
			})
			if err != nil || resp.StatusCode != 200 || !strings.HasSuffix(body, "ok") {
				t.Errorf("POST with a slow response: %v, %q", err, body)
			}
		})
	}

	attacks := []struct {
		name, proto, what string
		n                 int
	}{
		{"HTTP/1.1 after a 401", "http/1.1", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 300},
		{"HTTP/2 preface only", "h2", h2Preface, 300},
		{"POST body never finished", "http/1.1", "POST / HTTP/1.1\r\nHost: x\r\nAuthorization: " + auth + "\r\nContent-Length: 100\r\n\r\nten bytes.", 50},
	}
	open := make([]atomic.Int64, len(attacks))
	errs := make([]atomic.Int64, len(attacks))
	var wg sync.WaitGroup
	dialing := make(chan struct{}, 8)
	for i, a := range attacks {
		for range a.n {
			wg.Go(func() {
				closed, err := p.holdOpen(dialing, addr, a.proto, a.what, 10*time.Second)
				if err != nil {
					errs[i].Add(1)
					t.Logf("%s: %v", a.name, err)
				} else if !closed {
					open[i].Add(1)
				}
			})
		}
	}
	wg.Wait()
	close(stop)
	scraping.Wait()
	for i, a := range attacks {
		t.Logf("%s: %d connections, %d still open after 10 s, %d errors", a.name, a.n, open[i].Load(), errs[i].Load())
		if open[i].Load() != 0 || errs[i].Load() != 0 {
			t.Errorf("%s: %d of %d connections still open after 10 s, %d errors", a.name, open[i].Load(), a.n, errs[i].Load())
		}
	}
	if scrapes.Load() == 0 || failures.Load() != 0 {
		t.Errorf("legitimate scrapes: %d, %d failed", scrapes.Load(), failures.Load())
	}
}

// TestTimeoutDefaults checks the values Serve gives a server that set none,
// and that a caller's own values are kept.
func TestTimeoutDefaults(t *testing.T) {
	var s http.Server
	applyTimeouts(&s)
	if s.ReadHeaderTimeout != 10*time.Second || s.IdleTimeout != 2*time.Minute || s.ReadTimeout != time.Minute || s.WriteTimeout != 0 {
		t.Errorf("defaults: ReadHeaderTimeout %v, IdleTimeout %v, ReadTimeout %v, WriteTimeout %v; want 10s, 2m, 1m, 0",
			s.ReadHeaderTimeout, s.IdleTimeout, s.ReadTimeout, s.WriteTimeout)
	}
	if s.ConnContext == nil || s.ConnState == nil {
		t.Error("no first-request watch installed")
	}

	// What Serve does with a server that set nothing.
	g := newGuard(t, t.TempDir(), "", nil)
	url, srv := startServing(t, g)
	mustGet(t, http.DefaultClient, url, http.StatusOK) // Serve has begun
	g.mu.Lock()
	served := [...]time.Duration{srv.ReadHeaderTimeout, srv.ReadTimeout, srv.IdleTimeout, srv.WriteTimeout}
	g.mu.Unlock()
	if served != [...]time.Duration{10 * time.Second, time.Minute, 2 * time.Minute, 0} {
		t.Errorf("served with ReadHeaderTimeout, ReadTimeout, IdleTimeout, WriteTimeout = %v; want 10s, 1m, 2m, 0", served)
	}

	var hooked []http.ConnState
	own := http.Server{ReadHeaderTimeout: time.Second, ReadTimeout: time.Minute, ConnState: func(_ net.Conn, st http.ConnState) { hooked = append(hooked, st) }}
	applyTimeouts(&own)
	if own.ReadHeaderTimeout != time.Second || own.IdleTimeout != 0 || own.ReadTimeout != time.Minute {
		t.Errorf("caller's values: ReadHeaderTimeout %v, IdleTimeout %v (net/http uses ReadTimeout), ReadTimeout %v",
			own.ReadHeaderTimeout, own.IdleTimeout, own.ReadTimeout)
	}
	c1, c2 := net.Pipe()
	defer c1.Close()
	defer c2.Close()
	ctx := own.ConnContext(context.Background(), c1)
	own.ConnState(c1, http.StateNew)
	own.ConnState(c1, http.StateClosed)
	if len(hooked) != 2 || ctx.Value(pendingConnKey{}) == nil {
		t.Errorf("caller's ConnState saw %v; connection context %v", hooked, ctx)
	}

	off := http.Server{ReadHeaderTimeout: -1}
	applyTimeouts(&off)
	if off.ConnContext != nil {
		t.Error("first-request watch installed with ReadHeaderTimeout < 0")
	}
}

// TestRefusalClosesConnection checks that 401, 429 and 400 close an
// HTTP/1.1 connection and leave an HTTP/2 one alone.
func TestRefusalClosesConnection(t *testing.T) {
	p := newTestPKI(t)
	g := newGuard(t, p.dir, p.tlsSection()+"basic_auth_users:\n  alice: "+testHash(t, "pw")+"\n", nil)
	url, _ := startServing(t, g)
	host := strings.TrimPrefix(url, "https://")
	for _, tt := range []struct {
		name, request string
		status        int
	}{
		{"401", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 401},
		{"400", "GET / HTTP/1.1\r\nHost: x\r\nAuthorization: Basic YTpi\r\nAuthorization: Basic YTpi\r\n\r\n", 400},
	} {
		c, err := tls.Dial("tcp", host, &tls.Config{RootCAs: p.ca.Pool(), NextProtos: []string{"http/1.1"}})
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(c, tt.request)
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		io.Copy(io.Discard, resp.Body)
		if resp.StatusCode != tt.status || !resp.Close {
			t.Errorf("%s: status %d, Connection: close %v", tt.name, resp.StatusCode, resp.Close)
		}
		// Nothing more: the server hangs up.
		if _, err := c.Read(make([]byte, 1)); !errors.Is(err, io.EOF) && !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Logf("%s: read after the answer: %v", tt.name, err)
		} else if errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("%s: connection still open after the answer", tt.name)
		}
		c.Close()
	}
	// HTTP/2: the 401 does not end the connection that carries it.
	c := p.httpClient(nil)
	c.Transport.(*http.Transport).DisableKeepAlives = false
	resp := mustGet(t, c, url, http.StatusUnauthorized)
	if resp.ProtoMajor != 2 {
		t.Fatalf("protocol %s, want HTTP/2", resp.Proto)
	}
	var reused bool
	mustGet(t, c, url, http.StatusOK, basicAuth("alice", "pw"), func(r *http.Request) {
		*r = *r.WithContext(httptraceReused(r.Context(), &reused))
	})
	if !reused {
		t.Error("HTTP/2 connection not reused after a 401")
	}
}

// httptraceReused returns ctx with a trace that records in reused whether
// the request went on a connection used before.
func httptraceReused(ctx context.Context, reused *bool) context.Context {
	return httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) { *reused = i.Reused }})
}
