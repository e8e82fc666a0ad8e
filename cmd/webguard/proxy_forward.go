package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/textproto"
	"strconv"
	"strings"
	"sync"
	"time"
)

// forwarder sends requests that passed the Guard to an upstream and copies
// the answer back. It does the round trip on the goroutine that serves the
// client's request: the request is written to an idle upstream connection
// (or a new one), the response read with http.ReadResponse and its body
// copied through a pooled buffer; the connection then goes back to the
// upstream's idle list. Unlike httputil.ReverseProxy over http.Transport,
// nothing is handed to other goroutines and back, which on a small machine
// costs more than the forwarding itself.
//
// What the upstream sees: the method, the path (after the route's prefix)
// and query, and the client's headers except Authorization (the
// credentials are for the proxy), the hop-by-hop headers, and the
// X-Forwarded-*, Forwarded and X-Real-Ip headers, which the proxy sets
// itself from the connection instead of trusting the client's. Upgrade
// (WebSocket, h2c) passes only when allowUpgrade is set.
type forwarder struct {
	up           *upstream
	allowUpgrade bool
	logger       *slog.Logger
	bufs         *sync.Pool // of *[]byte, shared by every forwarder
}

// copyBufSize is the size of the pooled buffers bodies are copied with.
const copyBufSize = 32 << 10

func newBufPool() *sync.Pool {
	return &sync.Pool{New: func() any { b := make([]byte, copyBufSize); return &b }}
}

// forward serves r from the upstream; path is the escaped path to request
// there (the route's prefix removed).
func (f *forwarder) forward(w http.ResponseWriter, r *http.Request, path string) {
	upgrade := f.allowUpgrade && isUpgrade(r)
	for attempt := 0; ; attempt++ {
		uc, err := f.up.get(r.Context())
		if err != nil {
			f.fail(w, r, err)
			return
		}
		retry, err := f.roundTrip(w, r, uc, path, upgrade)
		if err == nil {
			return
		}
		// A connection that waited in the idle list may have been closed by
		// the upstream meanwhile; a request without a body is safe to send
		// again, once, on a new connection.
		if retry && attempt == 0 && r.Context().Err() == nil {
			f.logger.Debug("reused upstream connection was closed; retrying on a new one", "upstream", f.up.display, "err", err)
			continue
		}
		f.fail(w, r, err)
		return
	}
}

// fail answers a request that could not be forwarded, when it can still be
// answered.
func (f *forwarder) fail(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case r.Context().Err() != nil:
		// The client went away; nobody is left to answer.
		f.logger.Debug("client gone before the upstream answered", "remote", r.RemoteAddr, "upstream", f.up.display, "err", err)
	case errors.Is(err, errAnswered):
		// The header went out already; the client sees a cut response.
		f.logger.Warn("response from the upstream cut off", "remote", r.RemoteAddr, "upstream", f.up.display, "err", err)
	default:
		f.logger.Warn("upstream unreachable", "remote", r.RemoteAddr, "upstream", f.up.display, "err", err)
		http.Error(w, "502 bad gateway: the upstream did not answer", http.StatusBadGateway)
	}
}

// errAnswered wraps errors that happen after the response's header was
// sent to the client: it is too late for a 502.
var errAnswered = errors.New("response already started")

// roundTrip sends r on uc and copies the answer to w. It returns the
// connection to the idle list, or closes it. retry reports that the
// request can be sent again on a new connection: it failed on a reused
// connection before anything came back, and had no body.
func (f *forwarder) roundTrip(w http.ResponseWriter, r *http.Request, uc *upstreamConn, path string, upgrade bool) (retry bool, err error) {
	// The client leaving (or the server shutting down) cancels r's context:
	// unblock whatever the upstream connection is doing.
	stop := context.AfterFunc(r.Context(), func() { uc.SetDeadline(time.Unix(1, 0)) })
	keep := false
	defer func() {
		if !stop() || !keep {
			uc.Close()
			return
		}
		f.up.put(uc)
	}()

	bodyless := r.Body == nil || r.Body == http.NoBody
	if err := f.writeRequest(uc.bw, r, path, upgrade); err != nil {
		return uc.reused && bodyless, err
	}
	if uc.reused && bodyless {
		// Nothing read yet: a closed idle connection shows here.
		if _, err := uc.br.Peek(1); err != nil {
			return true, err
		}
	}
	resp, err := readResponse(uc.br, r)
	if err != nil {
		return false, err
	}
	if resp.StatusCode == http.StatusSwitchingProtocols {
		if !upgrade {
			resp.Body.Close()
			return false, errors.New("the upstream switched protocols without being asked")
		}
		return false, f.switchProtocols(w, resp, uc)
	}
	bp := f.bufs.Get().(*[]byte)
	defer f.bufs.Put(bp)
	buf := *bp
	// Read a buffer's worth before answering: an upstream that fails this
	// early still gets the client a 502, and a chunked body that ends
	// within the buffer (what Go exporters send for a page over 2 KiB)
	// goes out with a Content-Length, in one Write, without the chunk
	// framing and the separate write of its last chunk.
	n, rerr := fill(resp.Body, buf)
	if rerr != nil && rerr != io.EOF {
		resp.Body.Close()
		return false, rerr
	}
	// Content-Length passes as the upstream sent it (http.ReadResponse
	// removes it from a chunked answer).
	hdr := w.Header()
	copyResponseHeader(hdr, resp.Header)
	if rerr == io.EOF && resp.ContentLength < 0 && r.Method != http.MethodHead && bodyAllowed(resp.StatusCode) {
		hdr["Content-Length"] = []string{strconv.Itoa(n)}
	}
	// The head and the first buffer go to the client in one write.
	held := holdWrites(r)
	w.WriteHeader(resp.StatusCode)
	if n > 0 {
		_, err = w.Write(buf[:n])
	}
	if held != nil {
		if err == nil {
			err = http.NewResponseController(w).Flush()
		}
		if rerr := held.release(); err == nil {
			err = rerr
		}
	}
	if err == nil && rerr == nil {
		err = copyBody(w, resp.Body, buf)
	}
	resp.Body.Close()
	if err != nil {
		return false, fmt.Errorf("%w: %w", errAnswered, err)
	}
	// The client closing its connection says nothing about the upstream one.
	keep = !resp.Close
	return false, nil
}

// copyBody copies body to w a full buffer at a time: a large page goes to
// the client in as few Writes, so TLS records and system calls, as the
// server's buffering allows, instead of one Write per piece the upstream's
// socket happened to hold.
func copyBody(w io.Writer, body io.Reader, buf []byte) error {
	for {
		n, rerr := fill(body, buf)
		if n > 0 {
			if _, err := w.Write(buf[:n]); err != nil {
				return err
			}
		}
		if rerr == io.EOF {
			return nil
		}
		if rerr != nil {
			return rerr
		}
	}
}

// fill reads from r until buf is full (then with a nil error), or the end
// (io.EOF) or an error comes.
func fill(r io.Reader, buf []byte) (n int, err error) {
	for n < len(buf) && err == nil {
		var m int
		m, err = r.Read(buf[n:])
		n += m
	}
	return n, err
}

// bodyAllowed reports whether a response with this status may have a body
// (RFC 9110 6.4.1), and so a Content-Length.
func bodyAllowed(status int) bool {
	return status >= 200 && status != http.StatusNoContent && status != http.StatusNotModified
}

// readResponse reads the upstream's answer to r, skipping interim (1xx)
// responses other than 101.
func readResponse(br *bufio.Reader, r *http.Request) (*http.Response, error) {
	for {
		resp, err := http.ReadResponse(br, r)
		if err != nil {
			return nil, err
		}
		if resp.StatusCode >= 200 || resp.StatusCode == http.StatusSwitchingProtocols {
			return resp, nil
		}
		resp.Body.Close()
	}
}

// writeRequest writes r, as it goes upstream, to bw and flushes it.
func (f *forwarder) writeRequest(bw *bufio.Writer, r *http.Request, path string, upgrade bool) error {
	bw.WriteString(r.Method)
	bw.WriteByte(' ')
	bw.WriteString(path)
	if r.URL.RawQuery != "" || r.URL.ForceQuery {
		bw.WriteByte('?')
		bw.WriteString(r.URL.RawQuery)
	}
	bw.WriteString(" HTTP/1.1\r\nHost: ")
	bw.WriteString(f.up.host)
	bw.WriteString("\r\n")

	listed := connectionTokens(r.Header)
	for k, vv := range r.Header {
		if dropRequestHeader(k) || (listed != nil && listed[k]) {
			continue
		}
		for _, v := range vv {
			writeHeaderLine(bw, k, v)
		}
	}
	if upgrade {
		writeHeaderLine(bw, "Connection", "Upgrade")
		for _, v := range r.Header["Upgrade"] {
			writeHeaderLine(bw, "Upgrade", v)
		}
	}
	if ip := clientIP(r.RemoteAddr); ip != "" {
		writeHeaderLine(bw, "X-Forwarded-For", ip)
		writeHeaderLine(bw, "X-Real-Ip", ip)
	}
	if r.Host != "" {
		writeHeaderLine(bw, "X-Forwarded-Host", r.Host)
	}
	if r.TLS != nil {
		writeHeaderLine(bw, "X-Forwarded-Proto", "https")
	} else {
		writeHeaderLine(bw, "X-Forwarded-Proto", "http")
	}

	switch {
	case r.Body == nil || r.Body == http.NoBody:
		if r.Method == http.MethodPost || r.Method == http.MethodPut || r.Method == http.MethodPatch {
			bw.WriteString("Content-Length: 0\r\n")
		}
		bw.WriteString("\r\n")
	case r.ContentLength > 0:
		bw.WriteString("Content-Length: ")
		bw.WriteString(strconv.FormatInt(r.ContentLength, 10))
		bw.WriteString("\r\n\r\n")
		if _, err := io.CopyN(bw, r.Body, r.ContentLength); err != nil {
			return fmt.Errorf("request body: %w", err)
		}
	default:
		bw.WriteString("Transfer-Encoding: chunked\r\n\r\n")
		cw := httputil.NewChunkedWriter(bw)
		if _, err := io.Copy(cw, r.Body); err != nil {
			return fmt.Errorf("request body: %w", err)
		}
		cw.Close()
		bw.WriteString("\r\n")
	}
	return bw.Flush()
}

func writeHeaderLine(bw *bufio.Writer, k, v string) {
	bw.WriteString(k)
	bw.WriteString(": ")
	bw.WriteString(v)
	bw.WriteString("\r\n")
}

// dropRequestHeader reports whether a client's header (canonical name) stays
// behind: the credentials, headers about this hop only (RFC 9110 7.6.1 and
// those HTTP/1.1 practice adds), headers the proxy sets itself, and the
// framing, which writeRequest writes.
func dropRequestHeader(k string) bool {
	switch k {
	case "Authorization", "Proxy-Authorization",
		"Connection", "Proxy-Connection", "Keep-Alive", "Te", "Trailer", "Transfer-Encoding", "Upgrade",
		"Http2-Settings", "Expect", "Content-Length", "Host",
		"X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "X-Real-Ip", "Forwarded":
		return true
	}
	return false
}

// dropResponseHeader reports whether an upstream's header stays behind.
func dropResponseHeader(k string) bool {
	switch k {
	case "Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate", "Te", "Trailer", "Transfer-Encoding", "Upgrade":
		return true
	}
	return false
}

// connectionTokens returns the header names a Connection header lists, which
// are about this hop only; nil when there are none (the usual case).
func connectionTokens(h http.Header) map[string]bool {
	vv := h["Connection"]
	if len(vv) == 0 {
		return nil
	}
	var m map[string]bool
	for _, v := range vv {
		for tok := range strings.SplitSeq(v, ",") {
			if tok = strings.TrimSpace(tok); tok != "" {
				if m == nil {
					m = make(map[string]bool)
				}
				m[textproto.CanonicalMIMEHeaderKey(tok)] = true
			}
		}
	}
	return m
}

// copyResponseHeader copies the upstream's end-to-end headers to dst. A
// header already in dst is one of web.yml's security headers, which the
// Guard set: it wins over the upstream's.
func copyResponseHeader(dst, src http.Header) {
	listed := connectionTokens(src)
	preset := len(dst) > 0
	for k, vv := range src {
		if dropResponseHeader(k) || (listed != nil && listed[k]) {
			continue
		}
		if preset {
			if _, ok := dst[k]; ok {
				continue
			}
		}
		dst[k] = vv
	}
}

// isUpgrade reports whether r asks to switch protocols.
func isUpgrade(r *http.Request) bool {
	if len(r.Header["Upgrade"]) == 0 {
		return false
	}
	for _, v := range r.Header["Connection"] {
		for tok := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(tok), "upgrade") {
				return true
			}
		}
	}
	return false
}

// clientIP is the address part of a RemoteAddr; "" when it has none (a
// unix socket peer).
func clientIP(remote string) string {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		return ""
	}
	return host
}

// switchProtocols completes an upgrade the upstream accepted: the 101 goes
// to the client, then bytes are copied both ways until either side closes.
// From here on the proxy sees no requests, so nothing more is checked on
// this connection: that is why upgrades need --upstream.allow-upgrade.
func (f *forwarder) switchProtocols(w http.ResponseWriter, resp *http.Response, uc *upstreamConn) error {
	client, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return fmt.Errorf("cannot switch protocols on this client connection: %w", err)
	}
	defer client.Close()
	resp.Header.Del("Content-Length")
	resp.Body = nil
	if err := resp.Write(brw); err != nil {
		return fmt.Errorf("%w: %w", errAnswered, err)
	}
	if err := brw.Flush(); err != nil {
		return fmt.Errorf("%w: %w", errAnswered, err)
	}
	// Both copies end when either side closes: closing both connections
	// ends the other copy.
	done := make(chan struct{})
	go func() {
		defer close(done)
		io.Copy(uc.Conn, brw.Reader) // bytes the client sent after the request, then the rest
		uc.Close()
		client.Close()
	}()
	io.Copy(client, uc.br)
	client.Close()
	uc.Close()
	<-done
	return nil
}
