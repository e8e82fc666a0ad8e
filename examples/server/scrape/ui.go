package scrape

import (
	"encoding/json"
	"html/template"
	"net/http"
	"time"

	"github.com/prometheus/common/model"
)

// targetsPage lists the targets as Prometheus' /targets page does: one row
// per target with its health and, when down, the reason in full (an x509
// error names the host it expected, which is usually the fix).
var targetsPage = template.Must(template.New("targets").Funcs(template.FuncMap{
	"ago": func(t time.Time) string {
		if t.IsZero() {
			return "never"
		}
		return time.Since(t).Round(time.Millisecond).String() + " ago"
	},
	"ms": func(d time.Duration) string { return d.Round(time.Microsecond).String() },
}).Parse(`<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>Targets</title>
<style>
body { font-family: sans-serif; margin: 2em; }
table { border-collapse: collapse; }
td, th { border: 1px solid #ccc; padding: .3em .6em; text-align: left; vertical-align: top; }
.up { color: #1a7f37; } .down { color: #cf222e; } .unknown { color: #888; }
</style></head>
<body>
<h1>Targets</h1>
<table>
<tr><th>Endpoint</th><th>State</th><th>Labels</th><th>Last scrape</th><th>Duration</th><th>Samples</th><th>TLS</th><th>Error</th></tr>
{{range .}}<tr>
<td>{{.URL}}</td>
<td class="{{.Health}}">{{.Health}}</td>
<td>{{range $k, $v := .Labels}}{{$k}}="{{$v}}" {{end}}</td>
<td>{{ago .LastScrape}}</td>
<td>{{if not .LastScrape.IsZero}}{{ms .LastDuration}}{{end}}</td>
<td>{{if eq .Health "up"}}{{.Samples}}{{end}}</td>
<td>{{.TLSVersion}}</td>
<td>{{.LastError}}</td>
</tr>
{{else}}<tr><td colspan="8">No targets configured.</td></tr>
{{end}}</table>
</body>
</html>
`))

// targetsHTML serves /targets.
func targetsHTML(s *Scraper) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		// An error here is a client gone away mid-page; nothing to tell it.
		_ = targetsPage.Execute(w, s.Targets())
	})
}

// apiTarget is one entry of data.activeTargets in /api/v1/targets, with the
// field names and formats of Prometheus' own API, so existing tooling reads it.
type apiTarget struct {
	DiscoveredLabels   map[string]string `json:"discoveredLabels"`
	Labels             map[string]string `json:"labels"`
	ScrapePool         string            `json:"scrapePool"`
	ScrapeURL          string            `json:"scrapeUrl"`
	GlobalURL          string            `json:"globalUrl"`
	LastError          string            `json:"lastError"`
	LastScrape         time.Time         `json:"lastScrape"`
	LastScrapeDuration float64           `json:"lastScrapeDuration"` // seconds
	Health             Health            `json:"health"`
	ScrapeInterval     string            `json:"scrapeInterval"`
	ScrapeTimeout      string            `json:"scrapeTimeout"`
}

type apiTargets struct {
	Status string `json:"status"`
	Data   struct {
		ActiveTargets  []apiTarget `json:"activeTargets"`
		DroppedTargets []struct{}  `json:"droppedTargets"`
	} `json:"data"`
}

// targetsJSON serves /api/v1/targets.
func targetsJSON(s *Scraper) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var out apiTargets
		out.Status = "success"
		out.Data.ActiveTargets = []apiTarget{}
		out.Data.DroppedTargets = []struct{}{}
		for _, t := range s.Targets() {
			out.Data.ActiveTargets = append(out.Data.ActiveTargets, apiTarget{
				DiscoveredLabels:   map[string]string{"__address__": t.Labels["instance"], "job": t.Job},
				Labels:             t.Labels,
				ScrapePool:         t.Job,
				ScrapeURL:          t.URL,
				GlobalURL:          t.URL,
				LastError:          t.LastError,
				LastScrape:         t.LastScrape,
				LastScrapeDuration: t.LastDuration.Seconds(),
				Health:             t.Health,
				ScrapeInterval:     model.Duration(t.ScrapeInterval).String(),
				ScrapeTimeout:      model.Duration(t.ScrapeTimeout).String(),
			})
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(out)
	})
}
