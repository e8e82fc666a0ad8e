package web

import "net/http"

// openPaths is the set of http_server_config.unauthenticated_paths: request
// paths that skip basic auth (and only basic auth: TLS and client
// certificates were checked at the handshake, before any path was known).
// nil matches nothing.
type openPaths map[string]struct{}

// newOpenPaths returns the set of paths; config has checked that each is
// absolute and clean.
func newOpenPaths(paths []string) openPaths {
	if len(paths) == 0 {
		return nil
	}
	s := make(openPaths, len(paths))
	for _, p := range paths {
		s[p] = struct{}{}
	}
	return s
}

// has reports whether r may skip basic auth. Only a request whose path is
// written in the one plain form of a listed path does (the listed paths are
// clean, and compared exactly): a handler or an
// upstream behind a proxy may route "//-/healthy", "/x/../-/healthy" or
// "/-%2Fhealthy" elsewhere than the path they clean or decode to, so those
// forms authenticate like any other path. The query does not matter. A
// request in absolute form (GET http://host/-/healthy) is judged by its path.
func (s openPaths) has(r *http.Request) bool {
	if s == nil || r.URL == nil {
		return false
	}
	p := r.URL.Path
	if _, ok := s[p]; !ok {
		return false
	}
	// RawPath is set when the target was encoded other than the plain way,
	// e.g. with %2F or %2D: its decoded path is not what it says.
	return r.URL.RawPath == "" && r.URL.Opaque == ""
}

// widens reports whether next opens a path that running did not: a
// downgrade while both ask for passwords (see downgradeAxes). Removing a
// path tightens.
func (running openPaths) widens(next openPaths) bool {
	for p := range next {
		if _, ok := running[p]; !ok {
			return true
		}
	}
	return false
}
