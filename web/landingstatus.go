package web

import "net/http"

// landingSecurity is how one request reached the landing page: the bits
// below, an index into LandingPageHandler.pages.
type landingSecurity int

const (
	landingTLS      landingSecurity = 1 << iota // the request came over TLS
	landingPassword                             // a Guard checked its password
	landingVariants                             // the number of combinations
)

// status is the line the page shows for s. A page must not call itself
// secured when it is served in the clear to anyone, so the wording is chosen
// per request, not when the page is rendered.
func (s landingSecurity) status() string {
	switch s {
	case landingTLS | landingPassword:
		return "Secured: served over TLS, behind a password."
	case landingTLS:
		return "Secured: served over TLS."
	case landingPassword:
		return "Secured by a password, but served over plain HTTP: the password crosses the network in clear text."
	}
	return "Not secured: served over plain HTTP, without a password."
}

// requestSecurity says how r reached the page: over TLS (as net/http
// records it), and past a password check when the server runs a Guard with
// basic_auth_users, r is not on one of its unauthenticated_paths and r
// carries credentials (the Guard refuses requests whose credentials do not
// verify, so those never get here).
func requestSecurity(r *http.Request) landingSecurity {
	var s landingSecurity
	if r.TLS != nil {
		s |= landingTLS
	}
	if len(r.Header["Authorization"]) == 1 {
		srv, _ := r.Context().Value(http.ServerContextKey).(*http.Server)
		if srv != nil {
			if h, ok := srv.Handler.(*guardHandler); ok {
				// On an unauthenticated path the credentials went unchecked.
				if snap := h.g.snap.Load(); snap.users != nil && !snap.open.has(r) {
					s |= landingPassword
				}
			}
		}
	}
	return s
}
