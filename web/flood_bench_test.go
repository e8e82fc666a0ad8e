package web_test

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"io"
	"math"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Shape of BenchmarkPasswordFlood.
const (
	floodWorkers  = 8                    // goroutines sending wrong passwords
	floodRounds   = 2                    // rounds of each phase, alternating
	floodRequests = 400                  // legitimate requests per round
	floodEvery    = 4 * time.Millisecond // between legitimate requests
	floodRamp     = 250 * time.Millisecond
	floodMaxPhase = 20 * time.Second // a phase stops early past this
)

// BenchmarkPasswordFlood measures a legitimate scraper's requests to a
// webguard server (separate process, TLS and basic auth at bcrypt cost 10,
// default Verifier) while floodWorkers goroutines each send a new random
// password per request as fast as the server answers them, against the same
// scraper with no flood. Every flooding request comes from a new loopback
// address (127.1.0.0/16, in turn), as from a botnet: one address would be
// refused after ten failures (the per-address limit) and the flood would
// cost no bcrypt at all, while spread out it keeps the password checks
// saturated, which is what the scraper must not feel. The scraper uses one kept-alive connection and the
// right password (cached by the server after its first request) and sends a
// request every 4 ms. Phases alternate (no flood, flood, control, twice),
// 400 scraper requests each; latencies are pooled per phase.
//
// Reported: the scraper's success percentage and p50, p99 and max latency in
// each phase, the ratio of p99s, and what the flood got: wrong-password
// answers (401, each one a bcrypt comparison) per second and 429s (refused
// because too many comparisons were queued, or, rarely, because an address
// came round again within the failure window). A third phase, the control,
// floods with requests that carry no credentials (401 at once, no bcrypt):
// what the same number of flooding clients costs the scraper without any
// password work, on a machine the load generator shares. It runs once
// whatever b.N is.
func BenchmarkPasswordFlood(b *testing.B) {
	d := newBenchDir(b, modeAuth)
	srv := startBenchServer(b, kindWebguard, d)
	scraper := newClients(1, d.clientTLS(), true)
	b.Cleanup(func() { closeClients(scraper) })
	if err := get(scraper[0], srv.url, true); err != nil {
		b.Fatal(err)
	}

	var quiet, flooded, control []time.Duration
	var quietOK, floodedOK, controlOK int
	var checks, busy, other, anonymous atomic.Int64
	var floodTime time.Duration
	var sources atomic.Uint32
	// underFlood scrapes while floodWorkers goroutines send requests with a
	// random password each, or with no credentials at all when !passwords.
	underFlood := func(passwords bool) ([]time.Duration, int) {
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for range floodWorkers {
			c := spreadClient(d.clientTLS(), &sources)
			wg.Go(func() {
				defer c.CloseIdleConnections()
				if passwords {
					flood(c, srv.url, stop, &checks, &busy, &other)
				} else {
					flood(c, srv.url, stop, nil, &anonymous, &other)
				}
			})
		}
		start := time.Now()
		time.Sleep(floodRamp)
		lat, ok := scrape(scraper[0], srv.url)
		close(stop)
		wg.Wait()
		if passwords {
			floodTime += time.Since(start)
		}
		return lat, ok
	}
	b.ResetTimer()
	for range floodRounds {
		lat, ok := scrape(scraper[0], srv.url)
		quiet, quietOK = append(quiet, lat...), quietOK+ok
		lat, ok = underFlood(true)
		flooded, floodedOK = append(flooded, lat...), floodedOK+ok
		lat, ok = underFlood(false)
		control, controlOK = append(control, lat...), controlOK+ok
	}
	b.StopTimer()

	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	total := float64(floodRounds * floodRequests)
	b.ReportMetric(100*float64(quietOK)/total, "noflood-success-%")
	b.ReportMetric(ms(percentile(quiet, 0.50)), "noflood-p50-ms")
	b.ReportMetric(ms(percentile(quiet, 0.99)), "noflood-p99-ms")
	b.ReportMetric(ms(percentile(quiet, 1)), "noflood-max-ms")
	b.ReportMetric(100*float64(floodedOK)/total, "flood-success-%")
	b.ReportMetric(ms(percentile(flooded, 0.50)), "flood-p50-ms")
	b.ReportMetric(ms(percentile(flooded, 0.99)), "flood-p99-ms")
	b.ReportMetric(ms(percentile(flooded, 1)), "flood-max-ms")
	b.ReportMetric(float64(percentile(flooded, 0.99))/float64(percentile(quiet, 0.99)), "ratio-p99")
	b.ReportMetric(100*float64(controlOK)/total, "control-success-%")
	b.ReportMetric(ms(percentile(control, 0.99)), "control-p99-ms")
	b.ReportMetric(ms(percentile(control, 1)), "control-max-ms")
	b.ReportMetric(float64(anonymous.Load()), "control-401s")
	b.ReportMetric(float64(checks.Load())/floodTime.Seconds(), "flood-bcrypt/s")
	b.ReportMetric(float64(busy.Load()), "flood-429s")
	b.ReportMetric(float64(other.Load()), "flood-other")
	b.ReportMetric(float64(sources.Load()), "flood-connections")
}

// spreadClient returns a client that dials each connection from the next
// address of 127.1.0.0/16 (all loopback on Linux), counting in next.
// Refusals close the connection, so every flooding request is a new
// connection from a new address.
func spreadClient(tc *tls.Config, next *atomic.Uint32) *http.Client {
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		n := next.Add(1)
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 1, byte(n>>8), byte(n))}}
		return d.DialContext(ctx, network, addr)
	}
	return &http.Client{
		Transport: &http.Transport{TLSClientConfig: tc.Clone(), DialContext: dial, MaxIdleConnsPerHost: 1},
		Timeout:   10 * time.Second,
	}
}

// scrape sends floodRequests requests, one every floodEvery, and returns the
// latency of each and how many succeeded. It gives up after floodMaxPhase;
// requests not sent count as failed.
func scrape(c *http.Client, url string) ([]time.Duration, int) {
	lat := make([]time.Duration, 0, floodRequests)
	ok := 0
	tick := time.NewTicker(floodEvery)
	defer tick.Stop()
	deadline := time.Now().Add(floodMaxPhase)
	for range floodRequests {
		<-tick.C
		if time.Now().After(deadline) {
			break
		}
		start := time.Now()
		err := get(c, url, true)
		lat = append(lat, time.Since(start))
		if err == nil {
			ok++
		}
	}
	return lat, ok
}

// flood sends the bench user with a new random password per request until
// stop closes, counting 401s (a bcrypt comparison each), 429s and anything
// else (other statuses and transport errors). With checks nil it sends no
// credentials (answered 401 without bcrypt), counted as busy.
func flood(c *http.Client, url string, stop <-chan struct{}, checks, busy, other *atomic.Int64) {
	for {
		select {
		case <-stop:
			return
		default:
		}
		req, err := http.NewRequest(http.MethodGet, url, nil)
		if err != nil {
			other.Add(1)
			return
		}
		if checks == nil {
			resp, err := c.Do(req)
			if err != nil {
				other.Add(1)
				time.Sleep(10 * time.Millisecond)
				continue
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusUnauthorized {
				busy.Add(1)
			} else {
				other.Add(1)
			}
			continue
		}
		req.SetBasicAuth(benchUser, rand.Text())
		resp, err := c.Do(req)
		if err != nil {
			other.Add(1)
			time.Sleep(10 * time.Millisecond)
			continue
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		switch resp.StatusCode {
		case http.StatusUnauthorized:
			checks.Add(1)
		case http.StatusTooManyRequests:
			busy.Add(1)
		default:
			other.Add(1)
		}
	}
}

// percentile returns the q-quantile (0 < q <= 1) of ds by the nearest-rank
// method.
func percentile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(math.Ceil(q*float64(len(s)))) - 1
	return s[max(0, min(i, len(s)-1))]
}
