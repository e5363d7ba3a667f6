package httpapi

import (
	"html/template"
	"net/http"
	"strconv"
	"time"

	"github.com/geocache/geocache/node"
)

// The status page at / is for an operator with a browser: the node's cache counters, every
// member with its link and replication state, and the write and replication rates of the last
// minutes as inline SVG charts drawn on the server. A few lines of script refresh it in place
// every SampleInterval (at least a second) by fetching the page again; without script a
// <noscript> meta refresh does the same. Nothing is loaded from elsewhere.

// statusPage renders statusData.
var statusPage = template.Must(template.New("status").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<noscript><meta http-equiv="refresh" content="{{.Refresh}}"></noscript>
<title>geocache {{.Region}}</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em 2em;color:#222}
h1{font-size:1.4em;margin:0 0 .2em}h2{font-size:1.1em;margin:1.4em 0 .4em}
table{border-collapse:collapse}td,th{padding:3px 10px;text-align:left;border-bottom:1px solid #e3e3e3;white-space:nowrap}
th{font-weight:600;color:#555}td.num{text-align:right;font-variant-numeric:tabular-nums}
.state{font-weight:600}.serving{color:#17803d}.joining,.leaving{color:#b26b00}.left{color:#777}.unreachable{color:#c0262d}
.charts{display:flex;flex-wrap:wrap;gap:1.5em}.chart text{font-size:10px;fill:#666}
.legend span{margin-right:1em}.legend i{display:inline-block;width:10px;height:3px;margin-right:4px;vertical-align:middle}
#stale{color:#c0262d}.muted{color:#777}
</style>
</head><body data-refresh="{{.Refresh}}" data-updates="0">
<div id="main">
<h1>geocache — {{.Region}}</h1>
<p class="muted">replica {{.ID}} · version {{.Version}} · up {{.Uptime}} · {{.Now}} <span id="stale" hidden>· not refreshing: the node does not answer</span></p>
<h2>Cache</h2>
<table id="cache">
<tr><th>keys</th><td class="num">{{.Stats.Keys}}</td></tr>
<tr><th>memory</th><td class="num" id="memory">{{.Memory}}</td></tr>
<tr><th>hits / misses</th><td class="num">{{.Stats.Hits}} / {{.Stats.Misses}}{{with .HitRatio}} ({{.}} hits){{end}}</td></tr>
<tr><th>writes / deletes</th><td class="num">{{.Stats.Sets}} / {{.Stats.Deletes}}</td></tr>
<tr><th>evictions / expirations</th><td class="num">{{.Stats.Evictions}} / {{.Stats.Expirations}}</td></tr>
<tr><th>tombstones (delete / local)</th><td class="num">{{.Stats.DeleteTombstones}} / {{.Stats.LocalTombstones}}</td></tr>
{{with .LogBytes}}<tr><th>replication log</th><td class="num">{{.}}</td></tr>{{end}}
</table>
<h2>Members</h2>
<table id="members">
<tr><th>member</th><th>region</th><th>state</th><th>link</th><th>last heard</th><th>RTT</th><th>lag</th><th>behind</th><th>RESP</th><th>HTTP</th></tr>
{{range .Members}}<tr class="member" data-state="{{.State}}"{{if .Self}} data-self="true"{{end}}>
<td title="{{.Title}}">{{.Name}}</td><td>{{.Region}}</td><td class="state {{.State}}">{{.State}}</td><td class="link">{{.Link}}</td>
<td class="num">{{.LastHeard}}</td><td class="num">{{.RTT}}</td><td class="num">{{.Lag}}</td><td class="num behind">{{.Behind}}</td><td>{{.RESP}}</td><td>{{.HTTP}}</td></tr>
{{end}}</table>
<h2>Rates over the last {{.Window}}</h2>
<div class="charts">
{{range .Charts}}<figure class="chart" id="{{.ID}}">
<figcaption>{{.Title}}</figcaption>
<svg width="{{.W}}" height="{{.H}}" viewBox="0 0 {{.W}} {{.H}}" role="img" aria-label="{{.Title}}">
<line x1="{{.X0}}" y1="{{.Y1}}" x2="{{.X1}}" y2="{{.Y1}}" stroke="#bbb"/><line x1="{{.X0}}" y1="{{.Y0}}" x2="{{.X0}}" y2="{{.Y1}}" stroke="#bbb"/>
<text class="ymax" x="{{.LabelX}}" y="{{.Y0}}" text-anchor="end" dominant-baseline="hanging">{{.Max}}</text>
<text x="{{.LabelX}}" y="{{.Y1}}" text-anchor="end">0</text>
<text x="{{.X0}}" y="{{.H}}" text-anchor="start">−{{$.Window}}</text>
<text x="{{.X1}}" y="{{.H}}" text-anchor="end">now</text>
{{if .Empty}}<text class="empty" x="{{.MidX}}" y="{{.MidY}}" text-anchor="middle">collecting samples…</text>{{end}}
{{range .Series}}<polyline class="series" data-series="{{.Name}}" fill="none" stroke="{{.Color}}" stroke-width="1.5" points="{{.Points}}"/>
{{end}}</svg>
<div class="legend">{{range .Series}}<span><i style="background:{{.Color}}"></i>{{.Name}} {{.Last}}/s</span>{{end}}</div>
</figure>
{{end}}</div>
<p><a href="/metrics">metrics</a> · <a href="/v1/members">members (JSON)</a> · <a href="/readyz">readiness</a></p>
</div>
<script>
// Refresh the page in place: fetch it again and swap #main, keeping the scroll position.
(function () {
  var every = Math.max(1, +document.body.dataset.refresh) * 1000;
  function tick() {
    fetch(location.href, {cache: "no-store"}).then(function (r) {
      if (!r.ok) { throw new Error("HTTP " + r.status); }
      return r.text();
    }).then(function (html) {
      var next = new DOMParser().parseFromString(html, "text/html").getElementById("main");
      if (!next) { throw new Error("no #main"); }
      document.getElementById("main").replaceWith(next);
      document.body.dataset.updates = String(+document.body.dataset.updates + 1);
    }).catch(function () {
      document.getElementById("stale").hidden = false;
    }).finally(function () { setTimeout(tick, every); });
  }
  setTimeout(tick, every);
})();
</script>
</body></html>
`))

// statusData is what the status page shows.
type statusData struct {
	Region, ID, Version, Uptime, Now string
	Refresh                          int // seconds between refreshes
	Stats                            node.Stats
	Memory, HitRatio, LogBytes       string
	Members                          []memberRow
	Window                           string
	Charts                           []chart
}

// memberRow is one member as the page shows it.
type memberRow struct {
	Name, Title, Region, State, Link string
	LastHeard, RTT, Lag, Behind      string
	RESP, HTTP                       string
	Self                             bool
}

func (s *Server) status(w http.ResponseWriter, _ *http.Request) {
	now := time.Now()
	st := s.b.Stats()
	d := statusData{
		Region:  s.b.Region(),
		ID:      s.b.ReplicaID().String(),
		Version: s.cfg.Version,
		Uptime:  now.Sub(s.started).Truncate(time.Second).String(),
		Now:     now.UTC().Format("2006-01-02 15:04:05 UTC"),
		Refresh: int(max(s.cfg.SampleInterval, time.Second).Round(time.Second) / time.Second),
		Stats:   st,
		Memory:  humanBytes(st.Bytes),
		Window:  shortDuration(s.cfg.SampleWindow),
	}
	if st.MaxMemory > 0 {
		d.Memory += " of " + humanBytes(st.MaxMemory) + " (" + strconv.FormatFloat(100*float64(st.Bytes)/float64(st.MaxMemory), 'f', 1, 64) + " %)"
	}
	if total := st.Hits + st.Misses; total > 0 {
		d.HitRatio = strconv.FormatFloat(100*float64(st.Hits)/float64(total), 'f', 1, 64) + " %"
	}
	if s.cluster != nil {
		d.LogBytes = humanBytes(int64(s.cluster.ReplicationStats().LogBytes))
	}
	for _, m := range s.members() {
		d.Members = append(d.Members, memberRowOf(m, now))
	}
	d.Charts = s.charts(now)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if err := statusPage.Execute(w, d); err != nil {
		s.cfg.Logger.Warn("httpapi: rendering the status page", "err", err)
	}
}

// displayState is the member's state as an operator reads it: its announced state (joining,
// serving, leaving, left), or unreachable when heartbeats stopped and it did not say it left.
func displayState(m node.Member) string {
	state := m.State
	if state == "" {
		state = "unknown"
	}
	if !m.Self && !m.Reachable && state != "left" {
		return "unreachable"
	}
	return state
}

func memberRowOf(m node.Member, now time.Time) memberRow {
	r := memberRow{Region: m.Region, State: displayState(m), RESP: m.RESP, HTTP: m.HTTP, Self: m.Self,
		Title: m.PeerID, Name: m.PeerID, Behind: strconv.FormatUint(m.Behind, 10)}
	if len(r.Name) > 16 { // libp2p ids share their first characters: show the distinctive tail
		r.Name = "…" + r.Name[len(r.Name)-12:]
	}
	switch {
	case m.Self:
		r.Name, r.Link, r.LastHeard, r.RTT, r.Lag, r.Behind = "self", "—", "—", "—", "—", "—"
		if m.PeerID == "" {
			r.Title = "this node"
		}
		return r
	case m.Connected && m.Reachable:
		r.Link = "connected"
	case m.Connected:
		r.Link = "connected, heartbeats late"
	default:
		r.Link = "disconnected"
	}
	r.LastHeard = "never"
	if !m.LastSeen.IsZero() {
		r.LastHeard = shortDuration(max(now.Sub(m.LastSeen), 0)) + " ago"
	}
	r.RTT, r.Lag = "—", "—"
	if m.RTT > 0 {
		r.RTT = milliseconds(m.RTT)
	}
	if m.Lag > 0 {
		r.Lag = milliseconds(m.Lag)
	}
	return r
}

// humanBytes formats n in binary units: "512 B", "1.5 KiB", "3.2 GiB".
func humanBytes(n int64) string {
	if n < 1024 && n > -1024 {
		return strconv.FormatInt(n, 10) + " B"
	}
	f := float64(n)
	for _, unit := range []string{"KiB", "MiB", "GiB", "TiB"} {
		f /= 1024
		if f < 1024 && f > -1024 || unit == "TiB" {
			return strconv.FormatFloat(f, 'f', 1, 64) + " " + unit
		}
	}
	return "" // unreachable: the loop returns at TiB
}

// shortDuration formats d for a person: "850ms", "12.4s", "3m20s", "2h5m".
func shortDuration(d time.Duration) string {
	switch {
	case d < time.Second:
		return strconv.FormatInt(d.Milliseconds(), 10) + "ms"
	case d < time.Minute:
		return strconv.FormatFloat(d.Seconds(), 'f', 1, 64) + "s"
	case d < time.Hour:
		return unitPair(int64(d/time.Minute), "m", int64(d%time.Minute/time.Second), "s")
	default:
		return unitPair(int64(d/time.Hour), "h", int64(d%time.Hour/time.Minute), "m")
	}
}

// unitPair formats "3m20s", or "10m" when the smaller part is 0.
func unitPair(big int64, bu string, small int64, su string) string {
	out := strconv.FormatInt(big, 10) + bu
	if small != 0 {
		out += strconv.FormatInt(small, 10) + su
	}
	return out
}

// milliseconds formats d as "12.34 ms".
func milliseconds(d time.Duration) string {
	return strconv.FormatFloat(durMs(d), 'f', 2, 64) + " ms"
}
