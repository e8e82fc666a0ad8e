package web

import (
	"bytes"
	"fmt"
	"html/template"
	"net/http"
	"strings"
)

// LandingConfig describes the page an exporter shows at its root: a header
// with its name, a description, links (typically to /metrics) and an
// optional form.
type LandingConfig struct {
	// RoutePrefix is the path the page is served at, "/" by default. Link
	// and form addresses are relative to it.
	RoutePrefix string
	// HeaderColor is the CSS color of the header bar; #e6522c by default.
	HeaderColor string
	// CSS replaces the built-in style sheet; ExtraCSS is added after it.
	// Both are trusted: they come from the program, not from requests.
	CSS string
	// Name is the exporter's name, the page title.
	Name string
	// Description is a paragraph under the title.
	Description string
	// Form, when it has inputs, is a GET form to Form.Action.
	Form LandingForm
	// Links are listed in order.
	Links []LandingLinks
	// ExtraHTML is trusted HTML added at the end of the page.
	ExtraHTML string
	// ExtraCSS is added after the style sheet.
	ExtraCSS string
	// Version is shown under the links, e.g. "(version=1.2.3, branch=...)".
	Version string
	// Profiling decides whether the page links to the Go runtime's heap
	// and 60-second CPU profiles under debug/pprof: it does when Profiling
	// is "" or "true", as in exporter-toolkit, and not for any other value
	// ("false"). The program still has to serve net/http/pprof there.
	Profiling string
}

// LandingForm is a form on the landing page, submitted with GET.
type LandingForm struct {
	// Action is the form's target, relative to RoutePrefix.
	Action string
	// Inputs are the form's fields, in order.
	Inputs []LandingFormInput
	// Width is set by NewLandingPage, as exporter-toolkit does: the width
	// in em of the input labels in the built-in style sheet, half an em
	// per character of the longest label plus half an em. A value given
	// here is replaced.
	Width float64
}

// LandingFormInput is one labelled input of a LandingForm.
type LandingFormInput struct {
	Label       string
	Type        string
	Name        string
	Placeholder string
	Value       string
}

// LandingLinks is one link on the landing page.
type LandingLinks struct {
	// Address is relative to RoutePrefix ("metrics"), or absolute.
	Address     string
	Text        string
	Description string
}

// LandingPageHandler serves a landing page rendered once by NewLandingPage,
// in one variant per way a request can be secured (see requestSecurity).
type LandingPageHandler struct {
	pages  [landingVariants][]byte
	prefix string
}

// NewLandingPage renders the page c describes. Every value is escaped for
// where it appears (html/template), except CSS, ExtraCSS and ExtraHTML,
// which the program supplies as trusted markup. The page has no JavaScript.
func NewLandingPage(c LandingConfig) (*LandingPageHandler, error) {
	prefix := c.RoutePrefix
	if prefix == "" {
		prefix = "/"
	}
	if !strings.HasPrefix(prefix, "/") {
		prefix = "/" + prefix
	}
	if !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	if c.HeaderColor == "" {
		c.HeaderColor = "#e6522c"
	}
	longest := 0
	for _, in := range c.Form.Inputs {
		longest = max(longest, len(in.Label))
	}
	c.Form.Width = float64(longest+1) / 2
	labelWidth := ""
	if c.CSS == "" {
		c.CSS = defaultLandingCSS
		labelWidth = fmt.Sprintf("%gem", c.Form.Width)
	}
	var links []landingLink
	for _, l := range c.Links {
		links = append(links, landingLink{Href: resolve(prefix, l.Address), Text: l.Text, Description: l.Description})
	}
	data := landingData{
		LandingConfig: c,
		Prefix:        prefix,
		Links:         links,
		FormAction:    resolve(prefix, c.Form.Action),
		Style:         template.CSS(c.CSS + "\n" + c.ExtraCSS),
		Extra:         template.HTML(c.ExtraHTML),
		Pprof:         prefix + "debug/pprof/",
		Profiling:     c.Profiling == "" || c.Profiling == "true",
		LabelWidth:    labelWidth,
	}
	h := &LandingPageHandler{prefix: prefix}
	for i := range h.pages {
		data.Status = landingSecurity(i).status()
		var b bytes.Buffer
		if err := landingTemplate.Execute(&b, data); err != nil {
			return nil, fmt.Errorf("web: landing page: %w", err)
		}
		h.pages[i] = b.Bytes()
	}
	return h, nil
}

// ServeHTTP answers GET and HEAD at the route prefix (with or without its
// trailing slash) with the page, and 404 for any other path. The page says
// whether the request is secured: served over TLS, or past a password the
// serving Guard checked.
func (h *LandingPageHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != h.prefix && r.URL.Path != strings.TrimSuffix(h.prefix, "/") {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "Method Not Allowed", http.StatusMethodNotAllowed)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Write(h.pages[requestSecurity(r)])
}

// resolve makes a link address relative to the route prefix, leaving
// absolute URLs and paths alone.
func resolve(prefix, addr string) string {
	if strings.Contains(addr, "://") || strings.HasPrefix(addr, "/") {
		return addr
	}
	return prefix + addr
}

type landingLink struct{ Href, Text, Description string }

type landingData struct {
	LandingConfig
	Prefix     string
	Links      []landingLink
	FormAction string
	LabelWidth string
	Profiling  bool // shadows LandingConfig.Profiling
	Style      template.CSS
	Extra      template.HTML
	Pprof      string
	Status     string // how the request is secured (landingSecurity.status)
}

const defaultLandingCSS = `body { font-family: system-ui, sans-serif; margin: 0; color: #222; }
header { padding: 0.5em 1em; color: #fff; }
header h1 { margin: 0; font-size: 1.5em; }
main { padding: 0 1em; }
ul { padding-left: 1.2em; }
li { margin: 0.3em 0; }
form label { display: inline-block; min-width: 8em; }
form div { margin: 0.3em 0; }
footer { padding: 1em; color: #666; font-size: 0.9em; }`

var landingTemplate = template.Must(template.New("landing").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Name}}</title>
<style>
{{.Style}}
header { background: {{.HeaderColor}}; }
{{- if .LabelWidth}}
form label { width: {{.LabelWidth}}; }
{{- end}}
</style>
</head>
<body>
<header><h1>{{.Name}}</h1></header>
<main>
{{- if .Description}}
<p>{{.Description}}</p>
{{- end}}
{{- if .Form.Inputs}}
<form action="{{.FormAction}}" method="get">
{{- range .Form.Inputs}}
<div><label for="{{.Name}}">{{.Label}}</label> <input type="{{.Type}}" id="{{.Name}}" name="{{.Name}}" placeholder="{{.Placeholder}}" value="{{.Value}}"></div>
{{- end}}
<div><input type="submit" value="Submit"></div>
</form>
{{- end}}
{{- if or .Links .Profiling}}
<ul>
{{- range .Links}}
<li><a href="{{.Href}}">{{.Text}}</a>{{if .Description}} {{.Description}}{{end}}</li>
{{- end}}
{{- if .Profiling}}
<li><a href="{{.Pprof}}heap">Heap profile</a> (memory)</li>
<li><a href="{{.Pprof}}profile?seconds=60">CPU profile</a> (60 seconds)</li>
{{- end}}
</ul>
{{- end}}
{{.Extra}}
<p class="security">{{.Status}}</p>
</main>
{{- if .Version}}
<footer>{{.Version}}</footer>
{{- end}}
</body>
</html>
`))
