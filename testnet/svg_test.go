package testnet

import (
	"bytes"
	"encoding/xml"
	"io"
	"math"
	"strings"
	"testing"
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
}
