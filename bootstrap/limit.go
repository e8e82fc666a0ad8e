package bootstrap

import (
	"fmt"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// refusedLogInterval is the least time between two log lines about refused
// requests: an endpoint under siege must not fill the disk with them.
const refusedLogInterval = time.Minute

// maxRequests bounds the requests a handler serves at once. It refuses
// rather than queues: a scrape that waits behind others times out anyway,
// and 503 tells Prometheus at once.
type maxRequests struct {
	next    http.Handler
	limit   int
	slots   chan struct{}
	logger  *slog.Logger
	logs    *rate.Limiter
	refused atomic.Int64 // since the last log line
}

func newMaxRequests(next http.Handler, limit int, logger *slog.Logger) http.Handler {
	if limit <= 0 {
		return next
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &maxRequests{
		next:   next,
		limit:  limit,
		slots:  make(chan struct{}, limit),
		logger: logger,
		logs:   rate.NewLimiter(rate.Every(refusedLogInterval), 1),
	}
}

func (m *maxRequests) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	select {
	case m.slots <- struct{}{}:
		defer func() { <-m.slots }()
		m.next.ServeHTTP(w, r)
		return
	default:
	}
	m.refused.Add(1)
	if m.logs.Allow() {
		m.logger.Warn("requests refused with 503: too many in progress (--web.max-requests)",
			"limit", m.limit, "refused", m.refused.Swap(0), "remote", r.RemoteAddr)
	}
	http.Error(w, fmt.Sprintf("Too many requests in progress (limit %d, --web.max-requests); try again later.", m.limit), http.StatusServiceUnavailable)
}
