package main

import (
	"fmt"
	"strings"

	"github.com/prometheus/common/promslog"

	"github.com/webguard/webguard/web"
)

// upstreamList is the repeatable --upstream flag.
type upstreamList []string

func (l *upstreamList) String() string { return strings.Join(*l, " ") }

func (l *upstreamList) Set(v string) error {
	*l = append(*l, v)
	return nil
}

// proxyOptions are the proxy's flags once parsed.
type proxyOptions struct {
	web                                *web.FlagConfig
	upstreams                          upstreamList
	caFile, certFile, keyFile, tlsName string
	allowUpgrade, insecure             bool
	telemetryPath                      string
	logLevel                           *promslog.Level
	logFormat                          *promslog.Format
}

// newProxyCommand defines the proxy's flags.
func newProxyCommand() (*command, *proxyOptions) {
	cmd := newCommand("proxy", "--web.config.file FILE --upstream [NAME=]URL... [--web.listen-address ADDR]... [FLAGS]", proxyAbout)
	o := &proxyOptions{logLevel: promslog.NewLevel(), logFormat: promslog.NewFormat()}
	_ = o.logFormat.Set("logfmt")
	o.web = web.AddFlags(cmd.flags, ":9100")
	cmd.flags.Lookup("web.config.file").Usage = "Web-config `FILE` (web.yml) enabling TLS, mutual TLS, basic auth, headers and rate limiting; it must turn on TLS or basic auth (required)."
	cmd.flags.Var(&o.upstreams, "upstream", "`URL` to forward to: http://HOST:PORT, https://HOST:PORT or unix:///PATH; repeat as NAME=URL for several upstreams, each served under /NAME/ (required)")
	cmd.flags.StringVar(&o.caFile, "upstream.ca-file", "", "CA certificates (PEM `FILE`) to verify https upstreams with; default: the system roots")
	cmd.flags.StringVar(&o.certFile, "upstream.cert-file", "", "client certificate (PEM `FILE`) to present to https upstreams; needs --upstream.key-file")
	cmd.flags.StringVar(&o.keyFile, "upstream.key-file", "", "private key (PEM `FILE`) of --upstream.cert-file")
	cmd.flags.StringVar(&o.tlsName, "upstream.server-name", "", "`NAME` the https upstreams' certificates must carry; default: each URL's host")
	cmd.flags.BoolVar(&o.allowUpgrade, "upstream.allow-upgrade", false, "forward Upgrade requests (WebSocket, h2c); after the switch, bytes pass unchecked for the rest of the connection")
	cmd.flags.BoolVar(&o.insecure, "insecure-no-protection", false, "start (and reload) even when the web-config file turns on neither TLS nor basic auth, forwarding plain HTTP to anyone (warned at every start)")
	cmd.flags.StringVar(&o.telemetryPath, "web.telemetry-path", "", "serve webguard's own metrics (reloads, certificate expiry, failed logins) at this `PATH`, behind the same authentication, instead of forwarding it; empty: off")
	cmd.flags.Var(o.logLevel, "log.level", "log `LEVEL`: debug, info, warn or error")
	cmd.flags.Var(o.logFormat, "log.format", "log `FORMAT`: logfmt or json")
	return cmd, o
}

// check validates the flags that need more than their type, returning the
// parsed upstreams or a usage problem.
func (o *proxyOptions) check() ([]*upstream, string) {
	if *o.web.WebConfigFile == "" && !o.insecure {
		return nil, "--web.config.file is required: without one the proxy adds no protection (--insecure-no-protection serves plain HTTP to anyone)"
	}
	if len(o.upstreams) == 0 {
		return nil, "--upstream: required, e.g. http://127.0.0.1:9101"
	}
	var ups []*upstream
	names := map[string]bool{}
	anyTLS := false
	for _, s := range o.upstreams {
		up, err := parseUpstream(s)
		if err != nil {
			return nil, "--upstream: " + err.Error()
		}
		if len(o.upstreams) > 1 && up.name == "" {
			return nil, fmt.Sprintf("--upstream %s: with several upstreams, give each a name, as NAME=%s (served under /NAME/)", s, s)
		}
		if names[up.name] {
			return nil, fmt.Sprintf("--upstream: the name %q is given twice", up.name)
		}
		names[up.name] = true
		anyTLS = anyTLS || up.isTLS()
		ups = append(ups, up)
	}
	if o.telemetryPath != "" && !strings.HasPrefix(o.telemetryPath, "/") {
		return nil, fmt.Sprintf("--web.telemetry-path must start with /, got %q", o.telemetryPath)
	}
	if (o.certFile == "") != (o.keyFile == "") {
		return nil, "--upstream.cert-file and --upstream.key-file go together"
	}
	if !anyTLS && (o.caFile != "" || o.certFile != "" || o.tlsName != "") {
		return nil, "--upstream.ca-file, --upstream.cert-file, --upstream.key-file and --upstream.server-name apply to https:// upstreams, and none is given"
	}
	return ups, ""
}

// renameMetricsPath turns the deprecated --metrics-path into
// --web.telemetry-path, reporting whether it was used.
func renameMetricsPath(args []string) ([]string, bool) {
	used := false
	out := make([]string, 0, len(args))
	for i, a := range args {
		if a == "--" {
			return append(out, args[i:]...), used
		}
		for _, old := range []string{"--metrics-path", "-metrics-path"} {
			if a == old || strings.HasPrefix(a, old+"=") {
				a = "--web.telemetry-path" + strings.TrimPrefix(a, old)
				used = true
			}
		}
		out = append(out, a)
	}
	return out, used
}
