package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/webguard/webguard/examples/server/scrape"
)

// result is one line of the report.
type result struct {
	name   string
	ok     bool
	detail string
}

// checks waits for the server's first scrape of the exporter, then tries the
// exporter the ways an outsider would.
func (d *demo) checks(ctx context.Context) []result {
	return []result{
		d.checkScrape(ctx),
		d.checkNoClientCert(ctx),
		d.checkWrongPassword(ctx),
		d.checkPlainHTTP(ctx),
	}
}

// checkScrape reports the server's first scrape of the exporter, and which
// client certificate the exporter saw.
func (d *demo) checkScrape(ctx context.Context) result {
	r := result{name: "secured scrape"}
	t, err := d.firstScrape(ctx, 15*time.Second)
	if err != nil {
		r.detail = err.Error()
		return r
	}
	if t.Health != scrape.HealthUp {
		r.detail = "target is down: " + t.LastError
		return r
	}
	clients := d.exporterClients()
	r.ok = t.Samples > 0 && t.TLSVersion != "" && clients[clientCN] > 0
	r.detail = fmt.Sprintf("%d samples over %s in %s; the exporter verified the client certificate CN=%s",
		t.Samples, t.TLSVersion, t.LastDuration.Round(time.Millisecond), clientCN)
	if clients[clientCN] == 0 {
		r.detail = fmt.Sprintf("%d samples over %q, but the exporter saw no scrape with client certificate CN=%s", t.Samples, t.TLSVersion, clientCN)
	}
	return r
}

// firstScrape polls the server until its exporter target has been scraped
// once, for at most limit.
func (d *demo) firstScrape(ctx context.Context, limit time.Duration) (scrape.TargetStatus, error) {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		for _, t := range d.server.Targets() {
			if t.Health != scrape.HealthUnknown {
				return t, nil
			}
		}
		select {
		case <-ctx.Done():
			return scrape.TargetStatus{}, fmt.Errorf("no scrape within %s", limit)
		case <-tick.C:
		}
	}
}

// exporterClients reads the exporter's own exporter_scrapes_total: scrapes
// served, by the common name of the verified client certificate.
func (d *demo) exporterClients() map[string]float64 {
	return d.exporterCounter("exporter_scrapes_total", "client")
}

// exporterCounter returns the values of the exporter's counter name by the
// value of its label.
func (d *demo) exporterCounter(name, label string) map[string]float64 {
	out := map[string]float64{}
	families, err := d.exporter.Registry().Gather()
	if err != nil {
		return out
	}
	for _, mf := range families {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == label {
					out[l.GetValue()] = m.GetCounter().GetValue()
				}
			}
		}
	}
	return out
}

// checkNoClientCert: a client that trusts the CA and knows the password, but
// has no client certificate, must not get past the TLS handshake.
func (d *demo) checkNoClientCert(ctx context.Context) result {
	r := result{name: "no client certificate"}
	password, err := d.scrapePassword()
	if err != nil {
		r.detail = err.Error()
		return r
	}
	const failures, reason = "webguard_tls_handshake_failures_total", "no_client_cert"
	before := d.exporterCounter(failures, "reason")[reason]
	status, _, err := d.get(ctx, false, "https://"+d.exporterAddr+"/metrics", scrapeUser, password)
	if err == nil {
		r.detail = fmt.Sprintf("got HTTP %d, want the handshake refused", status)
		return r
	}
	// With TLS 1.3 the client learns of the refusal only after sending its
	// request, so what it sees varies: the server's alert ("certificate
	// required"), or a connection already closed. The exporter's own count of
	// failed handshakes says why for certain; it is updated just after the
	// refusal, so give it a moment.
	counted := false
	for range 100 {
		if counted = d.exporterCounter(failures, "reason")[reason] > before; counted {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	r.ok = counted || strings.Contains(err.Error(), "tls:")
	r.detail = fmt.Sprintf("handshake refused (client saw: %v)", err)
	if counted {
		r.detail = fmt.Sprintf("handshake refused (exporter: %s; client saw: %v)", reason, err)
	}
	return r
}

// checkWrongPassword: the right client certificate is not enough.
func (d *demo) checkWrongPassword(ctx context.Context) result {
	r := result{name: "client certificate, wrong password"}
	status, _, err := d.get(ctx, true, "https://"+d.exporterAddr+"/metrics", scrapeUser, "not-the-password")
	if err != nil {
		r.detail = err.Error()
		return r
	}
	r.ok = status == http.StatusUnauthorized
	r.detail = fmt.Sprintf("%d %s", status, http.StatusText(status))
	return r
}

// checkPlainHTTP: plain HTTP to the TLS port gets no metrics. Go's server
// answers such a request with a 400 before closing the connection.
func (d *demo) checkPlainHTTP(ctx context.Context) result {
	r := result{name: "plain HTTP to the TLS port"}
	status, body, err := d.get(ctx, false, "http://"+d.exporterAddr+"/metrics", "", "")
	if err != nil {
		// A connection closed without an answer is also a refusal.
		r.ok = true
		r.detail = "refused (" + err.Error() + ")"
		return r
	}
	r.ok = status == http.StatusBadRequest && !strings.Contains(body, "# HELP")
	r.detail = fmt.Sprintf("%d %s (%q), no metrics", status, http.StatusText(status), strings.TrimSpace(body))
	if !r.ok {
		r.detail = fmt.Sprintf("%d %s, want 400 and no metrics", status, http.StatusText(status))
	}
	return r
}

// get fetches url as an outsider would: trusting the demo CA, with or
// without the scraper's client certificate, with basic auth when user is set.
// It returns the status and up to 4 KiB of the body; err is the transport
// error, without the URL.
func (d *demo) get(ctx context.Context, withCert bool, rawURL, user, password string) (int, string, error) {
	cfg := &tls.Config{RootCAs: d.ca.Pool()}
	if withCert {
		cfg.Certificates = []tls.Certificate{d.client.TLSCertificate()}
	}
	tr := &http.Transport{TLSClientConfig: cfg}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}

	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return 0, "", err
	}
	if user != "" {
		req.SetBasicAuth(user, password)
	}
	resp, err := client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return 0, "", err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	return resp.StatusCode, string(body), nil
}

func (d *demo) scrapePassword() (string, error) {
	b, err := os.ReadFile(d.file("scrape-password"))
	return string(b), err
}

// printCurl prints commands that reach the running exporter and server. The
// passwords stay in their files; the commands read them.
func (d *demo) printCurl(w io.Writer) {
	fmt.Fprintf(w, "\nBoth keep running until Ctrl-C. Files are in %s. Try:\n\n", d.dir)
	fmt.Fprintf(w, "  # the exporter, as the scraper: client certificate and password\n")
	fmt.Fprintf(w, "  curl --cacert %s --cert %s --key %s -u \"%s:$(cat %s)\" https://%s/metrics\n\n",
		d.file("ca.crt"), d.file("client.crt"), d.file("client.key"), scrapeUser, d.file("scrape-password"), d.exporterAddr)
	fmt.Fprintf(w, "  # the exporter without a client certificate: the handshake fails\n")
	fmt.Fprintf(w, "  curl --cacert %s -u \"%s:$(cat %s)\" https://%s/metrics\n\n",
		d.file("ca.crt"), scrapeUser, d.file("scrape-password"), d.exporterAddr)
	fmt.Fprintf(w, "  # the server's targets, with the admin password (no client certificate needed)\n")
	fmt.Fprintf(w, "  curl --cacert %s -u \"%s:$(cat %s)\" https://%s/api/v1/targets\n\n",
		d.file("ca.crt"), adminUser, d.file("admin-password"), d.serverAddr)
	fmt.Fprintf(w, "  # or open https://%s/targets in a browser (trust %s, or accept the warning; user %s)\n",
		d.serverAddr, d.file("ca.crt"), adminUser)
}
