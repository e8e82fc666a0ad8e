package web

import (
	"bufio"
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptrace"
	"path/filepath"
	"testing"
	"time"

	"github.com/webguard/webguard/internal/pki"
)

// keptConn is one client connection that several requests go over, as a
// scraper's keep-alive connection does.
type keptConn struct {
	t    *testing.T
	conn net.Conn
	br   *bufio.Reader
}

// dialKept opens a connection to e, TLS with cert (none when nil) when
// tlsOn, plain otherwise.
func dialKept(t *testing.T, e *reloadEnv, tlsOn bool, cert *pki.Cert) *keptConn {
	t.Helper()
	var conn net.Conn
	var err error
	if tlsOn {
		tc := &tls.Config{RootCAs: e.ca.Pool(), NextProtos: []string{"http/1.1"}}
		if cert != nil {
			tc.Certificates = []tls.Certificate{cert.TLSCertificate()}
		}
		conn, err = tls.Dial("tcp", e.addr, tc)
	} else {
		conn, err = net.Dial("tcp", e.addr)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &keptConn{t: t, conn: conn, br: bufio.NewReader(conn)}
}

// get sends one request on the connection and returns the response, its body
// read; a nil response means the connection is gone.
func (k *keptConn) get(user, pass string) *http.Response {
	k.t.Helper()
	req, err := http.NewRequest(http.MethodGet, "http://"+k.conn.RemoteAddr().String()+"/", nil)
	if err != nil {
		k.t.Fatal(err)
	}
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	k.conn.SetDeadline(time.Now().Add(watchWait))
	if err := req.Write(k.conn); err != nil {
		return nil
	}
	resp, err := http.ReadResponse(k.br, req)
	if err != nil {
		return nil
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

// closed reports whether the server closed the connection.
func (k *keptConn) closed() bool {
	k.conn.SetReadDeadline(time.Now().Add(watchWait))
	_, err := k.br.ReadByte()
	return err != nil
}

// TestRecheckOnNextRequest tightens the config under connections opened
// before: on their next request, a client that no longer qualifies gets 421
// and its connection closed, one that still does is served on the same
// connection, and a removed user's credentials are refused.
func TestRecheckOnNextRequest(t *testing.T) {
	ca2, err := pki.NewCA(pki.Request{CommonName: "second CA"})
	if err != nil {
		t.Fatal(err)
	}
	mtlsWith := func(caFile, sans string) string {
		s := reloadTLS + "  client_ca_file: " + caFile + "\n  client_auth_type: RequireAndVerifyClientCert\n"
		if sans != "" {
			s += "  client_allowed_sans: [" + sans + "]\n"
		}
		return s
	}
	tests := []struct {
		name          string
		before, after string
		tlsOn         bool
		// stale is refused after the change, kept is still served.
		stale, kept func(e *reloadEnv) *pki.Cert
	}{
		{
			name:   "SAN no longer allowed",
			before: mtlsWith("ca.crt", "scraper.example, other.example"), after: mtlsWith("ca.crt", "scraper.example"),
			tlsOn: true,
			stale: func(e *reloadEnv) *pki.Cert { return e.newClientCert(e.ca, "other.example") },
			kept:  func(e *reloadEnv) *pki.Cert { return e.newClientCert(e.ca, "scraper.example") },
		},
		{
			name:   "client CA removed",
			before: mtlsWith("both.crt", ""), after: mtlsWith("ca.crt", ""),
			tlsOn: true,
			stale: func(e *reloadEnv) *pki.Cert { return e.newClientCert(ca2, "scraper.example") },
			kept:  func(e *reloadEnv) *pki.Cert { return e.newClientCert(e.ca, "scraper.example") },
		},
		{
			name:   "TLS switched on",
			before: "", after: reloadTLS,
			stale: func(*reloadEnv) *pki.Cert { return nil },
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newReloadEnv(t, tc.before)
			watchWrite(t, filepath.Join(e.dir, "both.crt"), string(e.ca.CertPEM)+string(ca2.CertPEM))
			e.serve(reloadWatch)
			stale := dialKept(t, e, tc.tlsOn, tc.stale(e))
			if resp := stale.get("", ""); resp == nil || resp.StatusCode != http.StatusOK {
				t.Fatalf("first request: %v, want 200", resp)
			}
			var kept *keptConn
			if tc.kept != nil {
				kept = dialKept(t, e, tc.tlsOn, tc.kept(e))
				if resp := kept.get("", ""); resp == nil || resp.StatusCode != http.StatusOK {
					t.Fatalf("first request of the client that stays: %v, want 200", resp)
				}
			}

			success := e.reloads(reloadSuccess)
			e.writeConfig(tc.after)
			e.waitReload(reloadSuccess, success)

			resp := stale.get("", "")
			if resp == nil || resp.StatusCode != http.StatusMisdirectedRequest {
				t.Fatalf("request on the connection opened before: %v, want 421", resp)
			}
			if !resp.Close {
				t.Error("421 without Connection: close")
			}
			if !stale.closed() {
				t.Error("the connection stays open after the 421")
			}
			refused := 0
			for _, rec := range e.logs.find(refusalMsg) {
				if rec.attrs["reason"] == refusedStale && rec.attrs["err"] != "" && rec.level == slog.LevelInfo {
					refused++
				}
			}
			if refused != 1 {
				t.Errorf("%d refusal lines with reason=%s, want 1", refused, refusedStale)
			}
			if kept != nil {
				for i := range 2 {
					if resp := kept.get("", ""); resp == nil || resp.StatusCode != http.StatusOK {
						t.Errorf("request %d of the client that still qualifies: %v, want 200 on the same connection", i+1, resp)
					}
				}
			}
		})
	}
}

// TestRecheckUserRemoved removes one user of two under a kept-alive
// connection: the other user is still served on it, and the removed user's
// next request is refused.
func TestRecheckUserRemoved(t *testing.T) {
	alice, bob := reloadHash(t, "alice-pw"), reloadHash(t, "bob-pw")
	e := newReloadEnv(t, reloadTLS+"basic_auth_users:\n  alice: "+alice+"\n  bob: "+bob+"\n")
	e.serve(reloadWatch)
	k := dialKept(t, e, true, nil)
	for _, u := range []string{"alice", "bob"} {
		if resp := k.get(u, u+"-pw"); resp == nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("%s before: %v, want 200", u, resp)
		}
	}
	success := e.reloads(reloadSuccess)
	e.writeConfig(reloadTLS + "basic_auth_users:\n  bob: " + bob + "\n")
	e.waitReload(reloadSuccess, success)
	// Bob first: a refusal closes an HTTP/1.1 connection.
	if resp := k.get("bob", "bob-pw"); resp == nil || resp.StatusCode != http.StatusOK {
		t.Errorf("bob on the same connection: %v, want 200", resp)
	}
	if resp := k.get("alice", "alice-pw"); resp == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("alice after her removal: %v, want 401", resp)
	}
}

// TestRecheckHTTP2 narrows client_allowed_sans under an HTTP/2 connection:
// the next stream on it is answered 421.
func TestRecheckHTTP2(t *testing.T) {
	e := newReloadEnv(t, reloadMTLS+"  client_allowed_sans: [scraper.example, other.example]\n")
	e.serve(reloadWatch)
	cert := e.newClientCert(e.ca, "other.example").TLSCertificate()
	tr := &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: e.ca.Pool(), Certificates: []tls.Certificate{cert}},
		ForceAttemptHTTP2: true,
	}
	t.Cleanup(tr.CloseIdleConnections)
	c := &http.Client{Transport: tr, Timeout: watchWait}
	get := func() (status int, proto string, reused bool) {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, "https://"+e.addr+"/", nil)
		if err != nil {
			t.Fatal(err)
		}
		req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
			GotConn: func(i httptrace.GotConnInfo) { reused = i.Reused },
		}))
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode, resp.Proto, reused
	}
	if status, proto, _ := get(); status != http.StatusOK || proto != "HTTP/2.0" {
		t.Fatalf("before: %d over %s, want 200 over HTTP/2.0", status, proto)
	}
	success := e.reloads(reloadSuccess)
	e.writeConfig(reloadMTLS + "  client_allowed_sans: [scraper.example]\n")
	e.waitReload(reloadSuccess, success)
	status, proto, reused := get()
	if !reused || proto != "HTTP/2.0" {
		t.Fatalf("the second request went over a new connection (reused %v, %s)", reused, proto)
	}
	if status != http.StatusMisdirectedRequest {
		t.Errorf("stream on the connection opened before: status %d, want 421", status)
	}
}
