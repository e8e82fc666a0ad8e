// Package web serves an HTTP endpoint secured by a web-config file (web.yml):
// TLS and mutual TLS with client SAN allow-lists, basic authentication with
// bcrypt hashes, security headers and a rate limit. The file format is the one
// Prometheus exporters share through exporter-toolkit, and so is the API an
// exporter calls: switching is an import change.
//
//	flags := web.AddFlags(flag.CommandLine, ":9100")
//	flag.Parse()
//	server := &http.Server{Handler: mux}
//	if err := web.ListenAndServe(server, flags, logger); !errors.Is(err, http.ErrServerClosed) {
//		log.Fatal(err)
//	}
//
// Programs that want more (an explicit Reload on SIGHUP, metrics, one config
// for several servers) create a Guard with New and serve through it.
//
// # exporter-toolkit's types
//
// Config, TLSConfig, HTTPConfig, RateLimiterConfig, Cipher, Curve,
// TLSVersion, ConfigToTLSConfig, ErrMissingFlag and ErrNoListeners have
// exporter-toolkit's names, fields and signatures, for programs (such as
// Alertmanager and grafana/dskit) that build or decode them. They carry
// values only: package config is what parses and checks a config, and
// ConfigToTLSConfig goes through it.
//
// # How a change is applied
//
// The Guard compiles the config once per change into an immutable snapshot:
// the tls.Config, the user table, the header set and the rate limiter. The
// TLS handshake and every request only load the current snapshot; nothing on
// those paths reads a file or parses YAML. While serving, the Guard watches
// the config file and the certificate, key and CA files it names (every
// directory and symlink on the way), and reloads when they change. A change
// that does not load or compile is logged and counted, and the last good
// config keeps being served; one that lowers security is held until an
// explicit Reload (docs/reload.md lists the axes). TLS is decided per
// accepted connection, so TLS or HTTP/2 switched on by a reload applies to
// the next connection, and connections opened under a looser config are
// checked again on their next request.
//
// A program that keeps its web settings inside its own config file passes
// them in memory (Options.Config, from config.ParseSection) and hands over
// a changed section with Guard.Update.
//
// # Requests
//
// Every response carries the configured security headers. With
// basic_auth_users, a request without valid credentials gets 401 with a
// Basic challenge and one with two Authorization headers gets 400. A
// password that is not in the cache of accepted ones is checked only after
// the request has taken a rate limit token; checks are shared fairly between
// client addresses, and an address with too many failed logins (10 a minute
// by default, see Options.Verifier) gets 429 with Retry-After and no bcrypt
// work until its window ends, as does a request that arrives while too many
// checks are queued (both after a 100 ms pause). The rate limit (rate_limit)
// answers 429 with Retry-After: every request takes a token before
// authentication, as in exporter-toolkit, but from one of two buckets, so
// that a flood cannot spend the budget of a scraper whose password is already
// known (see Guard.Handler). Refused HTTP/1.x requests (400, 401, 429) close
// their connection.
//
// With client_allowed_sans, a client must present a certificate with one of
// the listed names as a DNS, IP, e-mail or URI subject alternative name; a
// client without a certificate is refused at the handshake, also under the
// client auth types that otherwise admit it.
//
// # Listeners
//
// --web.listen-address may be repeated; "vsock://:PORT" and
// "vsock://CID:PORT" listen on VM sockets. --web.systemd-socket serves the
// sockets systemd passes by socket activation.
//
// # Slow and idle clients
//
// Serve gives an http.Server the timeouts it left at zero, so that a client
// cannot hold a connection without making progress: ReadHeaderTimeout 10 s
// (which also bounds TLS handshakes), ReadTimeout 1 min (a request body that
// never finishes; net/http lifts it once the body is read, so long responses
// are not cut), and IdleTimeout 2 min unless ReadTimeout was set (net/http
// then uses ReadTimeout). A connection that has not sent a request within
// twice ReadHeaderTimeout is closed: the handshake and an HTTP/1.1 client's
// first request are bounded each, but nothing bounds an HTTP/2 client that
// sends only the connection preface. WriteTimeout is left alone: a slow
// scrape must be able to finish. Set any of these on the server to override
// them; a negative ReadHeaderTimeout turns the first-request bound off.
package web
