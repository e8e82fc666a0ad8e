package web

import (
	"errors"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/webguard/webguard/bcrypt"
)

// challenge is the WWW-Authenticate header of every 401.
const challenge = `Basic realm="webguard", charset="UTF-8"`

// refusePause is how long a request waits before its 429 when too many
// password checks are in progress or its client has failed too often (see
// guardHandler.refuse).
const refusePause = 100 * time.Millisecond

// rateLimited is the refusal of a request whose token bucket is empty. It
// is not a basic auth failure: it is counted in webguard_http_rate_limited_total.
const rateLimited = "rate_limited"

// verifier checks basic auth credentials; *bcrypt.Verifier in production.
type verifier interface {
	Cached(u *bcrypt.Users, user, password string) bool
	Blocked(client string) time.Duration
	VerifyFrom(client string, u *bcrypt.Users, user, password string) error
}

// guardHandler is what Guard.Handler returns: security headers, then basic
// auth and the rate limit, then the wrapped handler. It reads the current
// snapshot once per request.
type guardHandler struct {
	g    *Guard
	next http.Handler
}

func (h *guardHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g := h.g
	s := g.snap.Load()
	requestArrived(r)
	// Headers first: they belong on every response, 401 and 429 included.
	hdr := w.Header()
	for _, x := range s.headers {
		hdr[x.name] = x.value
	}
	if g.refuseStale(w, r, s) {
		return
	}
	if s.users == nil || s.open.has(r) {
		// No password asked for: the client certificate, if verified, is
		// the whole authentication.
		certified := r.TLS != nil && len(r.TLS.VerifiedChains) > 0
		if s.limiter.allow(certified) {
			h.next.ServeHTTP(w, r)
		} else {
			g.refuse(w, r, s, rateLimited)
		}
		return
	}

	reason, user := g.authenticate(s, r)
	if reason == "" {
		h.next.ServeHTTP(w, r)
		return
	}
	if reason != rateLimited {
		g.refusals.logAuth(r.RemoteAddr, reason, user)
		g.metrics.auth.WithLabelValues(reason).Inc()
	}
	g.refuse(w, r, s, reason)
}

// authenticate decides a request under basic auth, taking its rate limit
// token on the way. It returns "" when the request may go on, else why it
// is refused (an auth failure reason, or rateLimited); user is the name the
// request gave, when it gave one.
//
// The order is what keeps password guessing slow and cheap to refuse: a
// cached correct password is answered first, with a token from the
// authenticated bucket and no further check. Anything else costs a token
// from the anonymous bucket before any bcrypt work (see limiter), except
// that a password from a client blocked for too many failures is refused
// without taking one, so that it cannot drain the bucket others share. Password checks then go to the
// verifier, which shares bcrypt fairly between clients and counts their
// failures.
func (g *Guard) authenticate(s *snapshot, r *http.Request) (reason, user string) {
	user, password, reason := credentials(r)
	if reason == "" && g.verifier.Cached(s.users, user, password) {
		if !s.limiter.allow(true) {
			return rateLimited, user
		}
		return "", user
	}
	client := clientKey(r.RemoteAddr)
	if reason == "" && g.verifier.Blocked(client) > 0 {
		return authTooManyFailures, user
	}
	if !s.limiter.allow(false) {
		return rateLimited, user
	}
	if reason != "" {
		return reason, user
	}
	switch err := g.verifier.VerifyFrom(client, s.users, user, password); {
	case err == nil:
		return "", user
	case errors.Is(err, bcrypt.ErrUnknownUser):
		return authUnknownUser, user
	case errors.Is(err, bcrypt.ErrBusy):
		return authBusy, user
	case errors.Is(err, bcrypt.ErrTooManyFailures):
		return authTooManyFailures, user
	default:
		return authWrongPassword, user
	}
}

// credentials returns the request's basic auth user and password, or why
// there are none: authNoCredentials, or authMalformed for an Authorization
// header that is not basic auth or for more than one header (proxies and
// servers disagree on which of two would count).
func credentials(r *http.Request) (user, password, reason string) {
	switch len(r.Header["Authorization"]) {
	case 0:
		return "", "", authNoCredentials
	case 1:
	default:
		return "", "", authMalformed
	}
	user, password, ok := r.BasicAuth()
	if !ok {
		return "", "", authMalformed
	}
	return user, password, ""
}

// refuse answers a refused request: 429 with Retry-After for rateLimited,
// authBusy and authTooManyFailures, 400 for more than one Authorization
// header, else 401 with a Basic challenge. An HTTP/1.x connection is closed
// after the answer, so a refused client cannot keep it open for free.
func (g *Guard) refuse(w http.ResponseWriter, r *http.Request, s *snapshot, reason string) {
	hdr := w.Header()
	if r.ProtoMajor == 1 {
		hdr.Set("Connection", "close")
	}
	switch reason {
	case rateLimited:
		g.metrics.limited.Inc()
		hdr.Set("Retry-After", s.limiter.retryAfter)
		http.Error(w, "Too Many Requests", http.StatusTooManyRequests)
	case authBusy, authTooManyFailures:
		// Answering at once would let a flooding client loop as fast as the
		// CPU allows, taking it from the requests that are in the cache; a
		// short pause makes each of its connections cost nothing for a while.
		pause := time.NewTimer(refusePause)
		select {
		case <-pause.C:
		case <-r.Context().Done():
			pause.Stop()
		}
		retry := time.Second
		msg := "Too many password checks in progress, retry later"
		if reason == authTooManyFailures {
			retry = max(retry, g.verifier.Blocked(clientKey(r.RemoteAddr)))
			msg = "Too many failed logins, retry later"
		}
		hdr.Set("Retry-After", strconv.Itoa(int(math.Ceil(retry.Seconds()))))
		http.Error(w, msg, http.StatusTooManyRequests)
	case authMalformed:
		if len(r.Header["Authorization"]) > 1 {
			http.Error(w, "Bad Request: more than one Authorization header", http.StatusBadRequest)
			return
		}
		fallthrough
	default:
		hdr.Set("WWW-Authenticate", challenge)
		http.Error(w, "Unauthorized", http.StatusUnauthorized)
	}
}
