package testnet

import (
	"fmt"
	"html"
	"io"
	"math"
	"sort"
	"strings"
)

// A tiny SVG line-chart writer: enough for CDFs and timelines, with no dependencies.

type point struct{ x, y float64 }

type series struct {
	name   string
	color  string
	dashed bool
	pts    []point
	step   bool // draw as a step function (CDFs)
}

type band struct {
	x0, x1 float64
	label  string
	color  string
}

type vline struct {
	x     float64
	color string
	label string
}

type chart struct {
	title          string
	note           string // a smaller line under the title
	xLabel, yLabel string
	xMin, xMax     float64
	xLog           bool // logarithmic x axis (xMin must then be > 0)
	yMin, yMax     float64
	series         []series
	bands          []band
	vlines         []vline
	w, h           int
}

var palette = []string{"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2",
	"#7f7f7f", "#bcbd22", "#17becf", "#393b79", "#637939"}

func (c *chart) write(w io.Writer) error {
	if c.w == 0 {
		c.w, c.h = 900, 420
	}
	const left, right, top, bottom = 70, 300, 52, 50
	pw, ph := float64(c.w-left-right), float64(c.h-top-bottom)
	if c.xMax <= c.xMin {
		c.xMax = c.xMin + 1
	}
	if c.yMax <= c.yMin {
		c.yMax = c.yMin + 1
	}
	X := func(x float64) float64 { return left + (x-c.xMin)/(c.xMax-c.xMin)*pw }
	xTicks := ticks(c.xMin, c.xMax, 8)
	if c.xLog && c.xMin > 0 {
		lo, hi := math.Log10(c.xMin), math.Log10(c.xMax)
		X = func(x float64) float64 { return left + (math.Log10(math.Max(x, c.xMin))-lo)/(hi-lo)*pw }
		xTicks = logTicks(c.xMin, c.xMax)
	}
	Y := func(y float64) float64 { return top + ph - (y-c.yMin)/(c.yMax-c.yMin)*ph }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">`+"\n", c.w, c.h)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(&b, `<text x="%d" y="22" font-size="15" font-weight="bold">%s</text>`+"\n", left, html.EscapeString(c.title))
	if c.note != "" {
		fmt.Fprintf(&b, `<text x="%d" y="40" font-size="11" fill="#444">%s</text>`+"\n", left, html.EscapeString(c.note))
	}
	// Band and line labels go in rows at the top of the plot, each in the first row where it
	// overlaps no other label (see placeLabels).
	var labels []plotLabel
	for _, bd := range c.bands {
		x0, x1 := X(math.Max(bd.x0, c.xMin)), X(math.Min(bd.x1, c.xMax))
		color := bd.color
		if color == "" {
			color = "#f4a582"
		}
		fmt.Fprintf(&b, `<rect x="%.1f" y="%d" width="%.1f" height="%.1f" fill="%s" fill-opacity="0.25"/>`+"\n",
			x0, top, math.Max(x1-x0, 1), ph, color)
		if bd.label != "" {
			labels = append(labels, plotLabel{x: x0 + 2, text: bd.label, color: "#444"})
		}
	}
	// Axes and ticks.
	fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%.1f" y2="%.1f" stroke="black"/>`+"\n", left, top+ph, left+pw, top+ph)
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%.1f" stroke="black"/>`+"\n", left, top, left, top+ph)
	for _, t := range xTicks {
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#ddd"/>`+"\n", X(t), float64(top), X(t), top+ph)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle">%s</text>`+"\n", X(t), top+ph+16, fmtTick(t))
	}
	for _, t := range ticks(c.yMin, c.yMax, 6) {
		fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#ddd"/>`+"\n", left, Y(t), left+pw, Y(t))
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end">%s</text>`+"\n", left-6, Y(t)+4, fmtTick(t))
	}
	fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`+"\n", left+pw/2, c.h-10, html.EscapeString(c.xLabel))
	fmt.Fprintf(&b, `<text transform="translate(16,%.1f) rotate(-90)" text-anchor="middle">%s</text>`+"\n", top+ph/2, html.EscapeString(c.yLabel))
	for _, v := range c.vlines {
		if v.x < c.xMin || v.x > c.xMax {
			continue
		}
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%.1f" stroke="%s" stroke-dasharray="3,3"/>`+"\n", X(v.x), top, X(v.x), top+ph, v.color)
		if v.label != "" {
			labels = append(labels, plotLabel{x: X(v.x) + 3, text: v.label, color: v.color})
		}
	}
	for _, l := range placeLabels(labels, left, left+pw, top+12) {
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" font-size="%d" fill="%s">%s</text>`+"\n", l.x, l.y, labelFont, l.color, html.EscapeString(l.text))
	}
	for i, s := range c.series {
		if len(s.pts) == 0 {
			continue
		}
		var d strings.Builder
		gap := true
		for _, p := range s.pts {
			if math.IsNaN(p.y) { // no data here: break the line
				gap = true
				continue
			}
			x, y := X(math.Min(math.Max(p.x, c.xMin), c.xMax)), Y(math.Min(math.Max(p.y, c.yMin), c.yMax))
			switch {
			case gap:
				gap = false
				fmt.Fprintf(&d, "M%.1f,%.1f", x, y)
			case s.step:
				fmt.Fprintf(&d, " H%.1f V%.1f", x, y)
			default:
				fmt.Fprintf(&d, " L%.1f,%.1f", x, y)
			}
		}
		dash := ""
		if s.dashed {
			dash = ` stroke-dasharray="6,3"`
		}
		fmt.Fprintf(&b, `<path d="%s" fill="none" stroke="%s" stroke-width="1.6"%s/>`+"\n", d.String(), s.color, dash)
		ly := top + 14 + i*16
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="%s" stroke-width="2"%s/>`+"\n",
			left+pw+12, ly-4, left+pw+32, ly-4, s.color, dash)
		fmt.Fprintf(&b, `<text x="%.1f" y="%d">%s</text>`+"\n", left+pw+36, ly, html.EscapeString(s.name))
	}
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// plotLabel is a label inside the plot area: its left edge x, and its row's baseline y once
// placed.
type plotLabel struct {
	x     float64
	y     int
	text  string
	color string
}

// labelFont is the labels' font size; labelWidth estimates a label's width in it (sans-serif
// averages about 0.6 em per character; digits and capitals are wider, so round up).
const labelFont = 10

func labelWidth(s string) float64 { return float64(len([]rune(s)))*labelFont*0.62 + 4 }

// placeLabels assigns each label, left to right, to the first row (rows 12 units apart from
// y0) where it does not overlap a label already there, so that labels of neighbouring bands
// and lines never overlap. A label that would run past maxX is moved left to end there.
func placeLabels(ls []plotLabel, minX, maxX float64, y0 int) []plotLabel {
	out := append([]plotLabel(nil), ls...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].x < out[j].x })
	var rowEnd []float64 // right edge of the last label in each row
	for i := range out {
		w := labelWidth(out[i].text)
		out[i].x = math.Max(minX, math.Min(out[i].x, maxX-w))
		row := 0
		for row < len(rowEnd) && out[i].x < rowEnd[row] {
			row++
		}
		if row == len(rowEnd) {
			rowEnd = append(rowEnd, 0)
		}
		rowEnd[row] = out[i].x + w
		out[i].y = y0 + row*12
	}
	return out
}

// ticks returns about n round tick values covering [lo, hi].
func ticks(lo, hi float64, n int) []float64 {
	span := hi - lo
	if span <= 0 || n <= 0 {
		return nil
	}
	raw := span / float64(n)
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := mag
	for _, m := range []float64{1, 2, 5, 10} {
		if m*mag >= raw {
			step = m * mag
			break
		}
	}
	var out []float64
	for t := math.Ceil(lo/step) * step; t <= hi+step*1e-9; t += step {
		out = append(out, t)
	}
	return out
}

// logTicks returns 1, 2 and 5 times the powers of ten within [lo, hi] (lo > 0).
func logTicks(lo, hi float64) []float64 {
	var out []float64
	for p := math.Pow(10, math.Floor(math.Log10(lo))); p <= hi; p *= 10 {
		for _, m := range []float64{1, 2, 5} {
			if t := m * p; t >= lo*(1-1e-9) && t <= hi*(1+1e-9) {
				out = append(out, t)
			}
		}
	}
	return out
}

func fmtTick(v float64) string {
	if math.Abs(v-math.Round(v)) < 1e-9 {
		return fmt.Sprintf("%.0f", v)
	}
	return strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.2f", v), "0"), ".")
}
