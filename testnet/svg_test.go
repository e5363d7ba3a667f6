package testnet

import (
	"bytes"
	"encoding/xml"
	"io"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestChartIsWellFormedSVGAndBreaksLinesAtGaps(t *testing.T) {
	c := &chart{title: "t <&>", note: "n", xLabel: "x", yLabel: "y", xMax: 10, yMax: 1,
		series: []series{{name: "a", color: "#000", pts: []point{{0, 0}, {1, 0.5}, {2, math.NaN()}, {3, 1}, {4, 1}}},
			{name: "cdf", color: "#111", step: true, pts: []point{{1, 0.5}, {2, 1}}}},
		bands:  []band{{x0: 1, x1: 2, label: "cut"}},
		vlines: []vline{{x: 5, color: "#222"}}}
	var buf bytes.Buffer
	if err := c.write(&buf); err != nil {
		t.Fatal(err)
	}
	dec := xml.NewDecoder(bytes.NewReader(buf.Bytes()))
	var paths []string
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("not well-formed: %v\n%s", err, buf.String())
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "path" {
			for _, a := range se.Attr {
				if a.Name.Local == "d" {
					paths = append(paths, a.Value)
				}
			}
		}
	}
	if len(paths) != 2 || strings.Count(paths[0], "M") != 2 || !strings.Contains(paths[1], "H") {
		t.Fatalf("paths %q: want the first broken in two at the gap, the second drawn as steps", paths)
	}
}

func TestTicks(t *testing.T) {
	got := ticks(0, 100, 5)
	if len(got) != 6 || got[0] != 0 || got[5] != 100 {
		t.Fatalf("ticks(0, 100, 5) = %v", got)
	}
	lg := logTicks(0.1, 30)
	want := []float64{0.1, 0.2, 0.5, 1, 2, 5, 10, 20}
	if len(lg) != len(want) {
		t.Fatalf("logTicks(0.1, 30) = %v, want %v", lg, want)
	}
	for i := range want {
		if math.Abs(lg[i]-want[i]) > 1e-9 {
			t.Fatalf("logTicks(0.1, 30) = %v, want %v", lg, want)
		}
	}
}

func TestLagChartPlotsLagBeyondTheDelay(t *testing.T) {
	ms := time.Millisecond
	r := &Result{Scenario: "s", Lag: []PairLag{
		{From: "a-1", To: "b-1", OneWay: 34 * ms, Sorted: []time.Duration{35 * ms, 36 * ms, 60 * ms}, Lag: Summary{Max: 60 * ms}},
		{From: "a-1", To: "c-1", OneWay: 106 * ms, Sorted: []time.Duration{107 * ms, 110 * ms}, Lag: Summary{Max: 110 * ms}},
	}}
	c := lagChart(r)
	if len(c.series) != 2 {
		t.Fatalf("%d series, want 2", len(c.series))
	}
	if got := c.series[0].pts; len(got) != 3 || got[0] != (point{1, 1.0 / 3}) || got[2] != (point{26, 1}) {
		t.Errorf("first pair's points %v, want lag minus 34 ms", got)
	}
	if got := c.series[1].pts; got[1] != (point{4, 1}) {
		t.Errorf("second pair's points %v, want lag minus 106 ms", got)
	}
	if !c.xLog || c.xMin != 0.1 || math.Abs(c.xMax-26*1.2) > 1e-9 {
		t.Errorf("x axis log=%v %v..%v, want logarithmic 0.1 .. 1.2 × the worst lag beyond the delay (26 ms)", c.xLog, c.xMin, c.xMax)
	}
	if len(c.vlines) != 1 || c.vlines[0].x != 10 {
		t.Errorf("vlines %+v, want one target line at +10 ms", c.vlines)
	}
}

func TestConvergenceLinesAtHealAndAgreement(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	r := &Result{Start: t0, End: at(40), Converged: true, Convergence: 250 * time.Millisecond, Events: []Event{
		{At: at(4), Kind: "partition", Target: "a | b"},
		{At: at(14), Kind: "heal", Target: "all"},
		{At: at(21), Kind: "converge", Target: "agreed after 7s"},
		{At: at(25), Kind: "heal", Target: "all"},
	}}
	got := convergenceLines(r)
	want := []float64{21, 25, 25.25}
	if len(got) != len(want) {
		t.Fatalf("lines %+v, want at %v", got, want)
	}
	for i, w := range want {
		if math.Abs(got[i].x-w) > 1e-9 || got[i].label == "" {
			t.Errorf("line %d at %v (%q), want at %v with a label", i, got[i].x, got[i].label, w)
		}
	}
}

// Band and line labels never overlap, however close the faults and agreements are.
func TestChartLabelsDoNotOverlap(t *testing.T) {
	c := &chart{title: "t", xMax: 100, yMax: 1, w: 1000, h: 440}
	for i := range 6 {
		x := float64(10 + i)
		c.bands = append(c.bands, band{x0: x, x1: x + 3, label: "partition eu-west-1 | us-east-1"})
		c.vlines = append(c.vlines, vline{x: x + 0.5, color: "#2ca02c", label: "agreed after 1.234s"})
	}
	c.vlines = append(c.vlines, vline{x: 99.9, color: "#2ca02c", label: "final agreement at the very end"})
	var buf bytes.Buffer
	if err := c.write(&buf); err != nil {
		t.Fatal(err)
	}
	type box struct{ x0, x1, y float64 }
	var boxes []box
	dec := xml.NewDecoder(bytes.NewReader(buf.Bytes()))
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		se, ok := tok.(xml.StartElement)
		if !ok || se.Name.Local != "text" {
			continue
		}
		attr := map[string]string{}
		for _, a := range se.Attr {
			attr[a.Name.Local] = a.Value
		}
		if attr["font-size"] != "10" {
			continue
		}
		var text string
		if cd, ok := func() (xml.CharData, bool) { tk, _ := dec.Token(); cd, ok := tk.(xml.CharData); return cd, ok }(); ok {
			text = string(cd)
		}
		x, _ := strconv.ParseFloat(attr["x"], 64)
		y, _ := strconv.ParseFloat(attr["y"], 64)
		boxes = append(boxes, box{x, x + labelWidth(text), y})
		if x+labelWidth(text) > 1000-300+0.01 {
			t.Errorf("label %q runs past the plot: x %.1f", text, x)
		}
	}
	if len(boxes) != 13 {
		t.Fatalf("%d labels, want 13", len(boxes))
	}
	for i := range boxes {
		for j := i + 1; j < len(boxes); j++ {
			a, b := boxes[i], boxes[j]
			if a.y == b.y && a.x0 < b.x1 && b.x0 < a.x1 {
				t.Errorf("labels overlap: %+v and %+v", a, b)
			}
		}
	}
}
