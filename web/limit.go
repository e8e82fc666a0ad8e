package web

import (
	"math"
	"strconv"

	"golang.org/x/time/rate"

	"github.com/webguard/webguard/config"
)

// limiter is rate_limit: two token buckets of the configured size, one for
// requests from authenticated clients and one for the rest.
//
// The reference implementation has one bucket for everything, taken before
// authentication, so a flood of requests without (or with wrong) credentials
// empties it and the real scraper gets 429 too. Here a request is charged to
// the authenticated bucket when its client proved who it is: a verified
// client certificate, or basic auth credentials that were just accepted. Any
// other request, including every refused one, is charged to the anonymous
// bucket. Without users or verified client certificates every request is
// anonymous, which is the reference's behaviour.
//
// A limiter survives reloads that keep its settings, so a reload neither
// refills nor empties the buckets.
type limiter struct {
	settings   config.RateLimitConfig
	authed     *rate.Limiter
	anonymous  *rate.Limiter
	retryAfter string // whole seconds until a token comes back, at least 1
}

func newLimiter(c config.RateLimitConfig) *limiter {
	every := rate.Every(c.Interval)
	return &limiter{
		settings:   c,
		authed:     rate.NewLimiter(every, c.Burst),
		anonymous:  rate.NewLimiter(every, c.Burst),
		retryAfter: strconv.Itoa(max(1, int(math.Ceil(c.Interval.Seconds())))),
	}
}

// allow takes a token from the bucket of the request's class.
func (l *limiter) allow(authenticated bool) bool {
	if authenticated {
		return l.authed.Allow()
	}
	return l.anonymous.Allow()
}
