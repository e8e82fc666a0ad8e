package web

import (
	"math"
	"net/netip"
	"strconv"

	"golang.org/x/time/rate"

	"github.com/webguard/webguard/config"
)

// limiter is rate_limit: two token buckets of the configured size, one for
// requests that passed the configured authentication before any password
// is checked, and one for all others.
//
// As in exporter-toolkit, every request takes one token and takes it before
// authentication, so a password guess costs a token before it costs any
// bcrypt work, and with rate_limit {interval: 30s, burst: 2} a guesser gets
// two guesses and then one every 30 s. The toolkit has one bucket for
// everything, so a flood of requests without (or with wrong) credentials
// empties it and the real scraper gets 429 too. Here the bucket is chosen
// by what is known before any bcrypt work. With basic_auth_users, a request
// whose credentials were accepted before (a cached success, answered
// without bcrypt) takes its token from the authenticated bucket; every
// other request, including a correct password that is not cached yet and
// whatever client certificate it presents, takes it from the anonymous one.
// Without users (and on unauthenticated_paths), a verified client
// certificate is the authentication and selects the authenticated bucket. A flood therefore never empties a known
// scraper's bucket; a scraper that logs in for the first time competes with
// the flood for one token, once. Without users or verified client
// certificates every request is anonymous, which is the reference's
// behaviour.
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

// allow takes a token from the bucket of the request's class. A nil limiter
// allows everything.
func (l *limiter) allow(authenticated bool) bool {
	switch {
	case l == nil:
		return true
	case authenticated:
		return l.authed.Allow()
	default:
		return l.anonymous.Allow()
	}
}

// clientKey names the client of a request for counting its failed logins
// and sharing password checks fairly: its IP address, or for IPv6 the
// address's /64, which is what one subscriber or host usually holds. A
// RemoteAddr that is not an IP address and port is used as it is.
func clientKey(remoteAddr string) string {
	ap, err := netip.ParseAddrPort(remoteAddr)
	if err != nil {
		return remoteAddr
	}
	addr := ap.Addr().Unmap()
	if addr.Is4() {
		return addr.String()
	}
	p, _ := addr.WithZone("").Prefix(64)
	return p.String()
}
