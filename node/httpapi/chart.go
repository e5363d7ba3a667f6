package httpapi

import (
	"strconv"
	"strings"
	"time"
)

// chart is one small line chart of the status page, laid out in SVG user units. The time axis
// spans the configured window ending now, so the charts do not rescale as samples arrive; the
// value axis runs from 0 to the largest rate shown, labelled at its ends only, and the time
// axis is labelled at its two ends: labels cannot overlap.
type chart struct {
	ID, Title string
	Series    []series
	Max       string // label of the top of the value axis
	Empty     bool   // fewer than two samples: nothing to draw yet

	W, H           int // the whole SVG
	X0, X1, Y0, Y1 int // the plot area
	LabelX         int // right edge of the value labels
	MidX, MidY     int
}

// series is one line of a chart.
type series struct {
	Name, Color string
	Points      string // SVG polyline points
	Last        string // the latest rate, formatted
}

// chart layout, in SVG user units.
const (
	chartW, chartH = 420, 120
	chartLeft      = 48 // room for the value labels
	chartTop       = 6
	chartBottom    = 16 // room for the time labels
	chartRight     = 8
)

// charts draws the rate charts from the sample ring: this node's writes beside the remote
// writes that reached it, and the replication traffic both ways.
func (s *Server) charts(now time.Time) []chart {
	pts := rates(s.rates.samples())
	from := now.Add(-s.cfg.SampleWindow)
	kept := pts[:0:0]
	for _, p := range pts {
		if !p.at.Before(from) {
			kept = append(kept, p)
		}
	}
	get := func(f func(ratePoint) float64) []float64 {
		out := make([]float64, len(kept))
		for i, p := range kept {
			out[i] = f(p)
		}
		return out
	}
	times := make([]time.Time, len(kept))
	for i, p := range kept {
		times[i] = p.at
	}
	type line struct {
		name, color string
		vals        []float64
	}
	build := func(id, title string, lines ...line) chart {
		c := chart{ID: id, Title: title, W: chartW, H: chartH, X0: chartLeft, X1: chartW - chartRight,
			Y0: chartTop, Y1: chartH - chartBottom, LabelX: chartLeft - 4, Empty: len(kept) == 0}
		c.MidX, c.MidY = (c.X0+c.X1)/2, (c.Y0+c.Y1)/2
		top := 0.0
		for _, l := range lines {
			for _, v := range l.vals {
				top = max(top, v)
			}
		}
		top = niceCeil(top)
		c.Max = formatRate(top)
		for _, l := range lines {
			sr := series{Name: l.name, Color: l.color, Last: "0"}
			if n := len(l.vals); n > 0 {
				sr.Last = formatRate(l.vals[n-1])
			}
			var b strings.Builder
			for i, v := range l.vals {
				frac := float64(times[i].Sub(from)) / float64(s.cfg.SampleWindow)
				x := float64(c.X0) + frac*float64(c.X1-c.X0)
				y := float64(c.Y1) - v/top*float64(c.Y1-c.Y0)
				if i > 0 {
					b.WriteByte(' ')
				}
				b.WriteString(strconv.FormatFloat(x, 'f', 1, 64) + "," + strconv.FormatFloat(y, 'f', 1, 64))
			}
			sr.Points = b.String()
			c.Series = append(c.Series, sr)
		}
		return c
	}
	return []chart{
		build("writes", "Writes per second seen by this node",
			line{"local", "#1f6fd1", get(func(p ratePoint) float64 { return p.writes })},
			line{"from peers", "#d1731f", get(func(p ratePoint) float64 { return p.applied })}),
		build("replication", "Replication deltas per second",
			line{"sent", "#2a9d4a", get(func(p ratePoint) float64 { return p.sent })},
			line{"received", "#8a3fc1", get(func(p ratePoint) float64 { return p.received })}),
	}
}

// niceCeil rounds v up to 1, 2 or 5 times a power of ten (at least 1), so the axis reads well.
func niceCeil(v float64) float64 {
	step := 1.0
	for {
		for _, m := range []float64{1, 2, 5} {
			if v <= m*step {
				return m * step
			}
		}
		step *= 10
	}
}

// formatRate formats a per-second rate compactly: "0", "0.4", "12", "3.5k", "1.2M".
func formatRate(v float64) string {
	switch {
	case v >= 1e6:
		return strconv.FormatFloat(v/1e6, 'f', 1, 64) + "M"
	case v >= 1e3:
		return strconv.FormatFloat(v/1e3, 'f', 1, 64) + "k"
	case v >= 10 || v == 0:
		return strconv.FormatFloat(v, 'f', 0, 64)
	default:
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
}
