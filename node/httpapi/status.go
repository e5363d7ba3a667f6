package httpapi

import (
	"html/template"
	"net/http"
	"time"
)

// statusPage is the small dashboard served at /: the node's counters and the cluster view.
// It refreshes itself every five seconds.
var statusPage = template.Must(template.New("status").Funcs(template.FuncMap{
	"ms": func(d time.Duration) float64 { return durMs(d) },
}).Parse(`<!doctype html>
<html><head><meta charset="utf-8"><meta http-equiv="refresh" content="5">
<title>geocache {{.Region}}</title>
<style>body{font:14px sans-serif;margin:2em}table{border-collapse:collapse}td,th{padding:2px 10px;text-align:left;border-bottom:1px solid #ddd}</style>
</head><body>
<h1>geocache — {{.Region}}</h1>
<p>replica {{.ID}} · version {{.Version}} · up {{.Uptime}}</p>
<h2>Cache</h2>
<table>
<tr><th>keys</th><td>{{.Stats.Keys}}</td></tr>
<tr><th>bytes</th><td>{{.Stats.Bytes}} of {{.Stats.MaxMemory}}</td></tr>
<tr><th>hits / misses</th><td>{{.Stats.Hits}} / {{.Stats.Misses}}</td></tr>
<tr><th>writes / deletes</th><td>{{.Stats.Sets}} / {{.Stats.Deletes}}</td></tr>
<tr><th>evictions / expirations</th><td>{{.Stats.Evictions}} / {{.Stats.Expirations}}</td></tr>
<tr><th>tombstones (delete / local)</th><td>{{.Stats.DeleteTombstones}} / {{.Stats.LocalTombstones}}</td></tr>
</table>
<h2>Members</h2>
<table><tr><th>peer</th><th>region</th><th>state</th><th>RTT ms</th><th>lag ms</th><th>RESP</th><th>HTTP</th></tr>
{{range .Members}}<tr><td>{{if .Self}}self{{else}}{{.PeerID}}{{end}}</td><td>{{.Region}}</td><td>{{.State}}</td><td>{{printf "%.2f" (ms .RTT)}}</td><td>{{printf "%.2f" (ms .Lag)}}</td><td>{{.RESP}}</td><td>{{.HTTP}}</td></tr>
{{end}}</table>
<p><a href="/metrics">metrics</a> · <a href="/v1/members">members (JSON)</a> · <a href="/readyz">readiness</a></p>
</body></html>
`))

func (s *Server) status(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	statusPage.Execute(w, map[string]any{
		"Region":  s.b.Region(),
		"ID":      s.b.ReplicaID().String(),
		"Version": s.cfg.Version,
		"Uptime":  time.Since(s.started).Truncate(time.Second).String(),
		"Stats":   s.b.Stats(),
		"Members": s.members(),
	})
}
