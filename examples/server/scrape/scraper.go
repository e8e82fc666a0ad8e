package scrape

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"sort"
	"sync"
	"time"

	commoncfg "github.com/prometheus/common/config"
)

// Scraper runs one goroutine per target and keeps each target's last
// outcome. Apply replaces the set of targets; Stop ends every loop and waits
// for it. The zero value is not usable; call NewScraper.
type Scraper struct {
	logger *slog.Logger

	mu      sync.Mutex
	targets []*target          // in config order
	clients []*http.Client     // one per job, to close their idle connections
	cancel  context.CancelFunc // stops the loops of targets
	wg      sync.WaitGroup     // counts the running loops
	stopped bool
}

// NewScraper returns a Scraper with no targets. A nil logger discards.
func NewScraper(logger *slog.Logger) *Scraper {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Scraper{logger: logger}
}

// Apply starts scraping the targets of cfg in place of the current ones.
// Everything is built before anything is stopped: if a job's client cannot be
// built (a missing certificate file, say), Apply returns the error and the
// current targets keep running. A target present before and after keeps its
// last status.
func (s *Scraper) Apply(cfg *Config) error {
	var next []*target
	var clients []*http.Client
	for _, sc := range cfg.ScrapeConfigs {
		// One client per job, shared by its targets, as in Prometheus. It
		// re-reads ca_file when it changes and password_file on every request.
		client, err := commoncfg.NewClientFromConfig(sc.HTTPClientConfig, sc.JobName)
		if err != nil {
			return fmt.Errorf("scrape: job %q: %w", sc.JobName, err)
		}
		clients = append(clients, client)
		for _, st := range sc.StaticConfigs {
			for _, hostport := range st.Targets {
				labels := maps.Clone(st.Labels)
				if labels == nil {
					labels = map[string]string{}
				}
				labels["job"] = sc.JobName
				labels["instance"] = hostport
				next = append(next, &target{client: client, status: TargetStatus{
					Job:            sc.JobName,
					URL:            targetURL(sc, hostport),
					Labels:         labels,
					ScrapeInterval: time.Duration(sc.ScrapeInterval),
					ScrapeTimeout:  time.Duration(sc.ScrapeTimeout),
					Health:         HealthUnknown,
				}})
			}
		}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return errors.New("scrape: scraper is stopped")
	}
	s.stopLocked()
	previous := map[string]TargetStatus{}
	for _, t := range s.targets {
		st := t.snapshot()
		previous[st.Job+"\x00"+st.URL] = st
	}

	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	s.targets = next
	s.clients = clients
	for _, t := range next {
		if old, ok := previous[t.status.Job+"\x00"+t.status.URL]; ok {
			t.status.Health, t.status.LastScrape, t.status.LastDuration = old.Health, old.LastScrape, old.LastDuration
			t.status.LastError, t.status.Samples, t.status.TLSVersion = old.LastError, old.Samples, old.TLSVersion
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			t.run(ctx)
		}()
	}
	s.logger.Info("scrape config applied", "targets", len(next))
	return nil
}

// stopLocked cancels the running loops and waits for them; s.mu is held, so
// no Apply can start new ones meanwhile.
func (s *Scraper) stopLocked() {
	if s.cancel != nil {
		s.cancel()
		s.cancel = nil
	}
	s.wg.Wait()
	for _, c := range s.clients {
		c.CloseIdleConnections()
	}
}

// Stop ends every scrape loop and waits until they have returned. Scrapes in
// flight are cancelled. Apply fails after Stop. Stop is idempotent.
func (s *Scraper) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopLocked()
	s.stopped = true
}

// Targets returns the status of every target, ordered by job then URL.
func (s *Scraper) Targets() []TargetStatus {
	s.mu.Lock()
	targets := s.targets
	s.mu.Unlock()
	out := make([]TargetStatus, 0, len(targets))
	for _, t := range targets {
		out = append(out, t.snapshot())
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Job != out[j].Job {
			return out[i].Job < out[j].Job
		}
		return out[i].URL < out[j].URL
	})
	return out
}
