package web

import (
	"errors"
	"net/http"
	"time"

	"github.com/webguard/webguard/bcrypt"
)

// challenge is the WWW-Authenticate header of every 401.
const challenge = `Basic realm="webguard", charset="UTF-8"`

// busyPause is how long a request waits before its 429 when too many
// password checks are in progress (see guardHandler.ServeHTTP).
const busyPause = 100 * time.Millisecond

// verifier checks basic auth credentials; *bcrypt.Verifier in production.
type verifier interface {
	Verify(u *bcrypt.Users, user, password string) error
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
	// Headers first: they belong on every response, 401 and 429 included.
	hdr := w.Header()
	for _, x := range s.headers {
		hdr[x.name] = x.value
	}
	if g.refuseStale(w, r, s) {
		return
	}
	certified := r.TLS != nil && len(r.TLS.VerifiedChains) > 0
	if s.users == nil || s.open.has(r) {
		if g.allow(s, certified, w) {
			h.next.ServeHTTP(w, r)
		}
		return
	}

	reason, user := g.authenticate(s, r)
	if reason == "" {
		if g.allow(s, true, w) {
			h.next.ServeHTTP(w, r)
		}
		return
	}
	g.metrics.auth.WithLabelValues(reason).Inc()
	g.refusals.logAuth(r.RemoteAddr, reason, user)

	if reason == authBusy {
		// Answering at once would let a flooding client loop as fast as the
		// CPU allows, taking it from the requests that are in the cache; a
		// short pause makes each of its connections cost nothing for a while.
		pause := time.NewTimer(busyPause)
		select {
		case <-pause.C:
		case <-r.Context().Done():
			pause.Stop()
		}
		hdr.Set("Retry-After", "1")
		http.Error(w, "Too many password checks in progress, retry later", http.StatusTooManyRequests)
		return
	}
	// A refused request is anonymous: it spends the anonymous bucket.
	if !g.allow(s, false, w) {
		return
	}
	if reason == authMalformed && len(r.Header["Authorization"]) > 1 {
		http.Error(w, "Bad Request: more than one Authorization header", http.StatusBadRequest)
		return
	}
	hdr.Set("WWW-Authenticate", challenge)
	http.Error(w, "Unauthorized", http.StatusUnauthorized)
}

// authenticate checks the request's basic auth credentials against the
// snapshot's users. It returns "" on success, else an auth failure reason;
// user is the name the request gave, when it gave one.
func (g *Guard) authenticate(s *snapshot, r *http.Request) (reason, user string) {
	switch len(r.Header["Authorization"]) {
	case 0:
		return authNoCredentials, ""
	case 1:
	default:
		// Proxies and servers disagree on which of two headers counts.
		return authMalformed, ""
	}
	user, password, ok := r.BasicAuth()
	if !ok {
		return authMalformed, ""
	}
	switch err := g.verifier.Verify(s.users, user, password); {
	case err == nil:
		return "", user
	case errors.Is(err, bcrypt.ErrUnknownUser):
		return authUnknownUser, user
	case errors.Is(err, bcrypt.ErrBusy):
		return authBusy, user
	default:
		return authWrongPassword, user
	}
}

// allow applies the rate limit, answering 429 when the request's bucket is
// empty. authenticated selects the bucket (see limiter).
func (g *Guard) allow(s *snapshot, authenticated bool, w http.ResponseWriter) bool {
	if s.limiter == nil || s.limiter.allow(authenticated) {
		return true
	}
	g.metrics.limited.Inc()
	w.Header().Set("Retry-After", s.limiter.retryAfter)
	http.Error(w, "Too Many Requests", http.StatusTooManyRequests)
	return false
}
