package web

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLandingPage(t *testing.T) {
	h, err := NewLandingPage(LandingConfig{
		RoutePrefix: "/exporter",
		Name:        "Node <Exporter>",
		Description: `Hardware & OS metrics <script>alert(1)</script>`,
		HeaderColor: "red; background: url(javascript:alert(1))",
		Version:     "(version=1.2.3)",
		Profiling:   "true",
		Links: []LandingLinks{
			{Address: "/metrics", Text: "Metrics", Description: "what Prometheus scrapes"},
			{Address: "probe", Text: "Probe"},
			{Address: `x" onclick="alert(1)`, Text: "quoted"},
		},
		Form: LandingForm{Action: "probe", Width: 20, Inputs: []LandingFormInput{
			{Label: "Target", Type: "text", Name: "target", Placeholder: "host:port", Value: `"><b>`},
		}},
		ExtraHTML: `<p class="extra">trusted</p>`,
		ExtraCSS:  `.extra { color: blue; }`,
	})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/exporter/", h)
	mux.Handle("/exporter", h)
	// Served through a Guard, as an exporter would.
	base, _ := serveHandler(t, newGuard(t, t.TempDir(), headersYAML, nil), mux)

	resp := mustGet(t, http.DefaultClient, base+"/exporter/", http.StatusOK)
	checkHeaders(t, resp)
	if ct := resp.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	_, page, err := fetch(t, http.DefaultClient, base+"/exporter/")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"<title>Node &lt;Exporter&gt;</title>",
		"Hardware &amp; OS metrics &lt;script&gt;alert(1)&lt;/script&gt;",
		`<a href="/metrics">Metrics</a> what Prometheus scrapes`,
		`<a href="/exporter/probe">Probe</a>`,
		`href="/exporter/x%22%20onclick=%22alert%281%29"`,
		`action="/exporter/probe"`,
		`value="&#34;&gt;&lt;b&gt;"`,
		`form label { width: 3.5em; }`, // (len("Target")+1)/2, the caller's 20 replaced
		`<a href="/exporter/debug/pprof/heap">Heap profile</a>`,
		`<a href="/exporter/debug/pprof/profile?seconds=60">CPU profile</a>`,
		`<p class="extra">trusted</p>`,
		`.extra { color: blue; }`,
		"(version=1.2.3)",
		"ZgotmplZ", // the unsafe header colour was neutralised
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q:\n%s", want, page)
		}
	}
	if strings.Contains(page, "<script") || strings.Contains(page, "javascript:") {
		t.Errorf("page has script:\n%s", page)
	}
	mustGet(t, http.DefaultClient, base+"/exporter", http.StatusOK)
	mustGet(t, http.DefaultClient, base+"/exporter/other", http.StatusNotFound)
	req, _ := http.NewRequest(http.MethodPost, base+"/exporter/", nil)
	if resp, err := http.DefaultClient.Do(req); err != nil {
		t.Error(err)
	} else if resp.Body.Close(); resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d", resp.StatusCode)
	}
}

func TestLandingPageDefaults(t *testing.T) {
	h, err := NewLandingPage(LandingConfig{Name: "Exporter", Links: []LandingLinks{{Address: "metrics", Text: "Metrics"}}})
	if err != nil {
		t.Fatal(err)
	}
	base, _ := serveHandler(t, newGuard(t, t.TempDir(), "", nil), h)
	_, page, err := fetch(t, http.DefaultClient, base+"/")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`<a href="/metrics">Metrics</a>`, "background: #e6522c", "font-family"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q:\n%s", want, page)
		}
	}
	mustGet(t, http.DefaultClient, base+"/metrics", http.StatusNotFound)
}

// Profiling links show as in exporter-toolkit: for "" and "true" only.
func TestLandingPageProfiling(t *testing.T) {
	for _, tc := range []struct {
		profiling string
		links     bool
	}{
		{"", true},
		{"true", true},
		{"false", false},
		{"no", false},
	} {
		h, err := NewLandingPage(LandingConfig{Name: "Exporter", Profiling: tc.profiling})
		if err != nil {
			t.Fatal(err)
		}
		base, _ := serveHandler(t, newGuard(t, t.TempDir(), "", nil), h)
		_, page, err := fetch(t, http.DefaultClient, base+"/")
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Contains(page, `href="/debug/pprof/heap"`); got != tc.links {
			t.Errorf("Profiling %q: heap profile link shown %v, want %v", tc.profiling, got, tc.links)
		}
	}
}

// TestLandingPageSecurity serves the page through a Guard under each kind of
// config: it calls itself secured only over TLS or behind a password, and a
// client sending credentials to a server that checks none does not make it
// say so.
func TestLandingPageSecurity(t *testing.T) {
	p := newTestPKI(t)
	users := "basic_auth_users:\n  alice: " + testHash(t, "a") + "\n"
	for _, tt := range []struct {
		name, yml string
		auth      bool
		want      string
	}{
		{"plain HTTP", "", false, "Not secured: served over plain HTTP, without a password."},
		{"plain HTTP, credentials nobody checks", "", true, "Not secured: served over plain HTTP, without a password."},
		{"password over plain HTTP", users, true, "Secured by a password, but served over plain HTTP: the password crosses the network in clear text."},
		{"TLS", p.tlsSection(), false, "Secured: served over TLS."},
		{"TLS, credentials nobody checks", p.tlsSection(), true, "Secured: served over TLS."},
		{"TLS and a password", p.tlsSection() + users, true, "Secured: served over TLS, behind a password."},
		{"TLS, password on an unauthenticated path", p.tlsSection() + users + "http_server_config:\n  unauthenticated_paths: [/]\n", true, "Secured: served over TLS."},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h, err := NewLandingPage(LandingConfig{Name: "Exporter"})
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			for _, f := range []string{"server.crt", "server.key"} {
				b, err := os.ReadFile(filepath.Join(p.dir, f))
				if err != nil {
					t.Fatal(err)
				}
				putFile(t, dir, f, string(b))
			}
			url, _ := serveHandler(t, newGuard(t, dir, tt.yml, nil), h)
			var mod []func(*http.Request)
			if tt.auth {
				mod = append(mod, basicAuth("alice", "a"))
			}
			resp, page, err := fetch(t, p.httpClient(nil), url+"/", mod...)
			if err != nil || resp.StatusCode != http.StatusOK {
				t.Fatalf("GET: %v, %v", resp, err)
			}
			if !strings.Contains(page, `<p class="security">`+tt.want+"</p>") {
				t.Errorf("page lacks %q:\n%s", tt.want, page)
			}
			if strings.HasPrefix(tt.want, "Not") && strings.Contains(page, "Secured") {
				t.Errorf("an unsecured page says secured:\n%s", page)
			}
		})
	}
}
