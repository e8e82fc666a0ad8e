package scrape

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// exposition has every metric type; its sample lines are what Prometheus
// would store.
const exposition = `# HELP c A counter.
# TYPE c counter
c{a="1"} 1
c{a="2"} 2
# TYPE g gauge
g 3
# TYPE h histogram
h_bucket{le="0.1"} 1
h_bucket{le="1"} 2
h_bucket{le="+Inf"} 3
h_sum 1.5
h_count 3
# TYPE s summary
s{quantile="0.5"} 1
s{quantile="0.9"} 2
s_sum 3
s_count 2
untyped_metric 7
`

func sampleLines(text string) int {
	n := 0
	for _, l := range strings.Split(text, "\n") {
		if l != "" && !strings.HasPrefix(l, "#") {
			n++
		}
	}
	return n
}

// serveText starts a plain HTTP server on 127.0.0.1 answering every request
// with body and status, and returns its host:port.
func serveText(t *testing.T, status int, body string) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		w.WriteHeader(status)
		fmt.Fprint(w, body)
	})}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return l.Addr().String()
}

// waitScraped polls s until every target has been scraped once.
func waitScraped(t *testing.T, s *Scraper) []TargetStatus {
	t.Helper()
	for range 500 {
		ts := s.Targets()
		done := len(ts) > 0
		for _, st := range ts {
			done = done && st.Health != HealthUnknown
		}
		if done {
			return ts
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("targets not scraped within 10s")
	return nil
}

func TestScraper(t *testing.T) {
	good := serveText(t, http.StatusOK, exposition)
	bad := serveText(t, http.StatusUnauthorized, "Unauthorized\n")
	cfg, err := ParseConfig([]byte(fmt.Sprintf(`
scrape_configs:
  - job_name: good
    scrape_interval: 1h
    static_configs: [{targets: ['%s'], labels: {env: test}}]
  - job_name: bad
    scrape_interval: 1h
    static_configs: [{targets: ['%s']}]
`, good, bad)), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	s := NewScraper(nil)
	t.Cleanup(s.Stop)
	if err := s.Apply(cfg); err != nil {
		t.Fatal(err)
	}
	ts := waitScraped(t, s)
	if len(ts) != 2 || ts[0].Job != "bad" || ts[1].Job != "good" {
		t.Fatalf("targets = %+v, want bad then good", ts)
	}
	if st := ts[1]; st.Health != HealthUp || st.Samples != sampleLines(exposition) || st.LastError != "" {
		t.Errorf("good target: health %s, samples %d (want %d), error %q", st.Health, st.Samples, sampleLines(exposition), st.LastError)
	}
	if got := ts[1].Labels; got["job"] != "good" || got["instance"] != good || got["env"] != "test" {
		t.Errorf("good target labels = %v", got)
	}
	if st := ts[0]; st.Health != HealthDown || st.LastError != "server returned HTTP status 401 Unauthorized" {
		t.Errorf("bad target: health %s, error %q", st.Health, st.LastError)
	}

	// A reload keeps the status of a target still present.
	if err := s.Apply(cfg); err != nil {
		t.Fatal(err)
	}
	if st := s.Targets()[1]; st.Health != HealthUp {
		t.Errorf("after reload, good target health = %s, want its last status (up)", st.Health)
	}

	// A config whose client cannot be built is refused; the targets stay.
	broken, err := ParseConfig([]byte(`
scrape_configs:
  - job_name: broken
    scheme: https
    tls_config: {ca_file: missing.crt}
    static_configs: [{targets: ['127.0.0.1:1']}]
`), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Apply(broken); err == nil || !strings.Contains(err.Error(), "missing.crt") {
		t.Errorf("Apply with a missing ca_file: %v, want an error naming it", err)
	}
	if got := len(s.Targets()); got != 2 {
		t.Errorf("after a refused Apply, %d targets, want the previous 2", got)
	}

	// The API answers in Prometheus' shape.
	rec := httptest.NewRecorder()
	targetsJSON(s).ServeHTTP(rec, httptest.NewRequest("GET", "/api/v1/targets", nil))
	var api struct {
		Status string
		Data   struct {
			ActiveTargets []struct {
				Labels     map[string]string
				ScrapeURL  string
				Health     string
				LastError  string
				LastScrape time.Time
			}
		}
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &api); err != nil {
		t.Fatal(err)
	}
	if api.Status != "success" || len(api.Data.ActiveTargets) != 2 {
		t.Fatalf("api = %s", rec.Body)
	}
	if a := api.Data.ActiveTargets[1]; a.Health != "up" || a.ScrapeURL != "http://"+good+"/metrics" || a.LastScrape.IsZero() || a.Labels["job"] != "good" {
		t.Errorf("api good target = %+v", a)
	}
	if a := api.Data.ActiveTargets[0]; a.Health != "down" || !strings.Contains(a.LastError, "401") {
		t.Errorf("api bad target = %+v", a)
	}

	// The HTML page shows the error text.
	rec = httptest.NewRecorder()
	targetsHTML(s).ServeHTTP(rec, httptest.NewRequest("GET", "/targets", nil))
	if !strings.Contains(rec.Body.String(), "server returned HTTP status 401 Unauthorized") {
		t.Errorf("targets page lacks the error:\n%s", rec.Body)
	}
}

// TestScraperStop checks that Stop cancels a scrape in flight and returns.
func TestScraperStop(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	entered := make(chan struct{}, 1)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		<-r.Context().Done() // hang until the scraper gives up
	})}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })

	cfg, err := ParseConfig([]byte(fmt.Sprintf(`
scrape_configs:
  - job_name: slow
    scrape_interval: 1h
    scrape_timeout: 1h
    static_configs: [{targets: ['%s']}]
`, l.Addr())), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	s := NewScraper(nil)
	if err := s.Apply(cfg); err != nil {
		t.Fatal(err)
	}
	<-entered
	stopped := make(chan struct{})
	go func() { s.Stop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(10 * time.Second):
		t.Fatal("Stop did not return while a scrape was in flight")
	}
	if err := s.Apply(cfg); err == nil {
		t.Error("Apply after Stop succeeded")
	}
}

// TestScraperTargetStartsLater starts the scraper before its target listens,
// as a server and an exporter started together do: the target shows up
// long before the (hour-long) interval, while a target that answers with an
// error is not scraped again before its interval.
func TestScraperTargetStartsLater(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	late := l.Addr().String()
	l.Close() // nothing listens there until the target "starts" below

	var refusals atomic.Int64
	denying := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		refusals.Add(1)
		http.Error(w, "Unauthorized", http.StatusUnauthorized)
	}))
	t.Cleanup(denying.Close)

	cfg, err := ParseConfig([]byte(fmt.Sprintf(`
scrape_configs:
  - job_name: late
    scrape_interval: 1h
    static_configs: [{targets: ['%s']}]
  - job_name: denying
    scrape_interval: 1h
    static_configs: [{targets: ['%s']}]
`, late, strings.TrimPrefix(denying.URL, "http://"))), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	s := NewScraper(nil)
	t.Cleanup(s.Stop)
	if err := s.Apply(cfg); err != nil {
		t.Fatal(err)
	}
	status := func(job string) TargetStatus {
		for _, st := range s.Targets() {
			if st.Job == job {
				return st
			}
		}
		t.Fatalf("no target of job %s", job)
		return TargetStatus{}
	}
	waitScraped(t, s)
	if st := status("late"); st.Health != HealthDown || !strings.Contains(st.LastError, "connection refused") {
		t.Fatalf("before the target listens: %s, %q", st.Health, st.LastError)
	}

	l, err = net.Listen("tcp", late)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, exposition) })}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	deadline := time.Now().Add(20 * time.Second)
	for status("late").Health != HealthUp {
		if time.Now().After(deadline) {
			t.Fatalf("target not up 20s after it started listening: %+v", status("late"))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if n := refusals.Load(); n != 1 {
		t.Errorf("the target answering 401 was scraped %d times, want once (its interval is an hour)", n)
	}
}
