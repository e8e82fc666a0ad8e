package scrape

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"syscall"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// maxBodySize bounds what one scrape reads, so a broken target cannot make
// the server hold gigabytes.
const maxBodySize = 64 << 20

// Health is a target's state after its last scrape.
type Health string

// The values of Health, as Prometheus' API spells them.
const (
	HealthUnknown Health = "unknown" // not scraped yet
	HealthUp      Health = "up"
	HealthDown    Health = "down"
)

// TargetStatus is what is known about one target: its identity and the
// outcome of its last scrape.
type TargetStatus struct {
	Job            string
	URL            string            // the URL scraped
	Labels         map[string]string // job, instance and the static labels
	ScrapeInterval time.Duration
	ScrapeTimeout  time.Duration

	Health       Health
	LastScrape   time.Time     // start of the last scrape; zero before the first
	LastDuration time.Duration // how long it took
	LastError    string        // why it failed; "" when up
	Samples      int           // samples in the last successful scrape
	TLSVersion   string        // e.g. "TLS 1.3"; "" over plain HTTP
}

// target scrapes one URL on its own schedule. Its status is read by the UI
// while the loop writes it, hence the mutex.
type target struct {
	client *http.Client
	mu     sync.Mutex
	status TargetStatus
}

// firstRetry is how soon a target that refused the first connection is
// scraped again.
const firstRetry = 250 * time.Millisecond

// run scrapes at once, then every interval, until ctx is done.
//
// Unlike Prometheus, a target that has never answered and refuses the
// connection (nothing listens yet) is scraped again sooner: after 250 ms,
// then twice as long each time, until it answers or the wait reaches the
// interval. A server started together with its targets then shows them up
// within a second of their start instead of one interval later; a target
// that answers, even with an error, keeps the regular schedule.
func (t *target) run(ctx context.Context) {
	interval := t.status.ScrapeInterval // fixed for the target's life
	answered := t.snapshot().Health == HealthUp
	for retry := firstRetry; ; retry *= 2 {
		err := t.scrape(ctx)
		if answered || !errors.Is(err, syscall.ECONNREFUSED) || retry >= interval {
			break
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(retry):
		}
	}
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		t.scrape(ctx)
	}
}

// scrape scrapes the target once and records the outcome, which it returns.
func (t *target) scrape(ctx context.Context) error {
	t.mu.Lock()
	scrapeURL, timeout := t.status.URL, t.status.ScrapeTimeout
	t.mu.Unlock()

	start := time.Now()
	samples, tlsVersion, err := fetch(ctx, t.client, scrapeURL, timeout)
	if ctx.Err() != nil {
		// Stopped mid-scrape by a reload or shutdown: not the target's fault.
		return ctx.Err()
	}

	t.mu.Lock()
	defer t.mu.Unlock()
	t.status.LastScrape = start
	t.status.LastDuration = time.Since(start)
	t.status.TLSVersion = tlsVersion
	if err != nil {
		t.status.Health = HealthDown
		t.status.LastError = err.Error()
		return err
	}
	t.status.Health = HealthUp
	t.status.LastError = ""
	t.status.Samples = samples
	return nil
}

func (t *target) snapshot() TargetStatus {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.status
}

// fetch scrapes url once and counts the samples in the answer.
func fetch(ctx context.Context, client *http.Client, url string, timeout time.Duration) (samples int, tlsVersion string, err error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, "", err
	}
	// Ask for the text format, the one this server parses.
	req.Header.Set("Accept", string(expfmt.NewFormat(expfmt.TypeTextPlain)))
	req.Header.Set("User-Agent", "webguard-example-server")
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	if resp.TLS != nil {
		tlsVersion = tls.VersionName(resp.TLS.Version)
	}
	if resp.StatusCode != http.StatusOK {
		// Prometheus' wording, which users search for.
		return 0, tlsVersion, fmt.Errorf("server returned HTTP status %s", resp.Status)
	}
	// Metric names may be UTF-8 since Prometheus 3; the parser must be told
	// which naming rules to apply.
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(io.LimitReader(resp.Body, maxBodySize))
	if err != nil {
		return 0, tlsVersion, fmt.Errorf("parse %s: %w", url, err)
	}
	return countSamples(families), tlsVersion, nil
}

// countSamples counts what Prometheus would store: one sample per counter,
// gauge or untyped series, and for summaries and histograms one per quantile
// or bucket plus _sum and _count.
func countSamples(families map[string]*dto.MetricFamily) int {
	n := 0
	for _, mf := range families {
		for _, m := range mf.GetMetric() {
			switch mf.GetType() {
			case dto.MetricType_SUMMARY:
				n += len(m.GetSummary().GetQuantile()) + 2
			case dto.MetricType_HISTOGRAM:
				n += len(m.GetHistogram().GetBucket()) + 2
			default:
				n++
			}
		}
	}
	return n
}

// targetURL builds the URL of one target of sc.
func targetURL(sc *ScrapeConfig, hostport string) string {
	u := url.URL{Scheme: sc.Scheme, Host: hostport, Path: sc.MetricsPath}
	return u.String()
}
