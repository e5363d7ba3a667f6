package testnet

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// LagTargetSlack is the allowed replication lag beyond the emulated one-way delay: the target is
// p99 lag <= one-way delay + LagTargetSlack.
const LagTargetSlack = 10 * time.Millisecond

// WriteReport writes dir/report.md, dir/lag-cdf.svg, dir/timeline.svg, dir/history.jsonl and
// dir/summary.json for one scenario result. command is the command line that produced it.
func WriteReport(dir, command string, r *Result) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if len(r.Lag) > 0 {
		if err := writeFile(filepath.Join(dir, "lag-cdf.svg"), func(w io.Writer) error { return lagChart(r).write(w) }); err != nil {
			return err
		}
	}
	if len(r.Probes) > 0 {
		if err := writeFile(filepath.Join(dir, "lag-probes.csv"), func(w io.Writer) error { return writeProbes(w, r) }); err != nil {
			return err
		}
	}
	if len(r.Samples) > 0 {
		if err := writeFile(filepath.Join(dir, "timeline.svg"), func(w io.Writer) error { return timelineChart(r).write(w) }); err != nil {
			return err
		}
	}
	if err := writeFile(filepath.Join(dir, "history.jsonl"), func(w io.Writer) error {
		h := History{ops: r.history}
		return h.WriteJSON(w)
	}); err != nil {
		return err
	}
	if err := writeFile(filepath.Join(dir, "summary.json"), func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(summaryOf(r))
	}); err != nil {
		return err
	}
	return writeFile(filepath.Join(dir, "report.md"), func(w io.Writer) error { return markdown(w, command, r) })
}

// writeProbes writes one line per lag probe: seconds since the run started, the pair, the
// emulated one-way delay, the source's SET round trip and the lag, in milliseconds.
func writeProbes(w io.Writer, r *Result) error {
	if _, err := fmt.Fprintln(w, "t_s,from,to,one_way_ms,set_ms,lag_ms"); err != nil {
		return err
	}
	oneWay := map[[2]string]time.Duration{}
	for _, l := range r.Lag {
		oneWay[[2]string{l.From, l.To}] = l.OneWay
	}
	for _, p := range r.Probes {
		if _, err := fmt.Fprintf(w, "%.4f,%s,%s,%.2f,%.3f,%.3f\n", p.At.Sub(r.Start).Seconds(), p.From, p.To,
			ms(oneWay[[2]string{p.From, p.To}]), ms(p.SetRTT), ms(p.Lag)); err != nil {
			return err
		}
	}
	return nil
}

func writeFile(path string, f func(io.Writer) error) error {
	fh, err := os.Create(path)
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(fh)
	if err := f(bw); err != nil {
		fh.Close()
		return err
	}
	if err := bw.Flush(); err != nil {
		fh.Close()
		return err
	}
	return fh.Close()
}

// RunSummary is the machine-readable digest of a result (summary.json).
type RunSummary struct {
	Scenario      string             `json:"scenario"`
	Seed          uint64             `json:"seed"`
	Passed        bool               `json:"passed"`
	Err           string             `json:"error,omitempty"`
	DurationS     float64            `json:"duration_s"`
	Ops           int                `json:"ops"`
	OK            int                `json:"ok"`
	Fail          int                `json:"fail"`
	Unknown       int                `json:"unknown"`
	AckedWrites   int                `json:"acked_writes"`
	ExactVersions int                `json:"exact_versions"`
	Excused       int                `json:"excused_writes"`
	Violations    int                `json:"violations"`
	ViolationKind map[string]int     `json:"violation_kinds,omitempty"`
	ConvergenceMs float64            `json:"convergence_ms"`
	Measures      map[string]float64 `json:"measures_ms,omitempty"`
	Lag           []LagSummary       `json:"lag,omitempty"`
	Bypasses      int                `json:"bypasses"`
	Rejected      uint64             `json:"deltas_rejected"`
}

// LagSummary is one pair's lag in milliseconds.
type LagSummary struct {
	From     string  `json:"from"`
	To       string  `json:"to"`
	OneWayMs float64 `json:"one_way_ms"`
	Samples  uint64  `json:"samples"`
	P50      float64 `json:"p50_ms"`
	P99      float64 `json:"p99_ms"`
	MaxMs    float64 `json:"max_ms"`
	TargetMs float64 `json:"target_ms"`
	Met      bool    `json:"met"`
}

func summaryOf(r *Result) RunSummary {
	s := RunSummary{Scenario: r.Scenario, Seed: r.Seed, Passed: r.Passed(), Err: r.Err,
		DurationS: r.End.Sub(r.Start).Seconds(), Ops: r.Ops, OK: r.OK, Fail: r.Fail, Unknown: r.Unknown,
		AckedWrites: r.Check.AckedWrites, ExactVersions: r.Check.ExactVersions, Excused: r.Check.Excused,
		Violations: len(r.Check.Violations), ConvergenceMs: ms(r.Convergence), Bypasses: len(r.Audit.Bypasses),
		Rejected: r.Rejected}
	for _, v := range r.Check.Violations {
		if s.ViolationKind == nil {
			s.ViolationKind = map[string]int{}
		}
		s.ViolationKind[v.Kind]++
	}
	for _, m := range r.Measures {
		if s.Measures == nil {
			s.Measures = map[string]float64{}
		}
		s.Measures[m.Name] = ms(m.Value)
	}
	for _, l := range r.Lag {
		s.Lag = append(s.Lag, lagSummary(l))
	}
	return s
}

func lagSummary(l PairLag) LagSummary {
	target := l.OneWay + LagTargetSlack
	return LagSummary{From: l.From, To: l.To, OneWayMs: ms(l.OneWay), Samples: l.Lag.Count, P50: ms(l.Lag.P[0]),
		P99: ms(l.Lag.P[2]), MaxMs: ms(l.Lag.Max), TargetMs: ms(target), Met: l.Lag.Count > 0 && l.Lag.P[2] <= target}
}

// lagChart plots, per directed pair, the CDF of the lag beyond the pair's emulated one-way
// delay on a logarithmic axis: the pairs' delays differ by up to 70 ms while their steady tails
// differ by a few (absolute lags drew every CDF as a vertical line), and a fault's probes wait
// seconds. The target (+LagTargetSlack) is one line for all pairs.
func lagChart(r *Result) *chart {
	target := ms(LagTargetSlack)
	c := &chart{title: "Replication lag beyond the one-way delay, CDF per directed pair (" + r.Scenario + ")",
		note:   "lag: SET sent to the source until the key is seen on the destination, minus the emulated one-way delay (log scale)",
		xLabel: "lag − one-way delay (ms)", yLabel: "fraction of probes", yMax: 1, xLog: true, xMin: 0.1, xMax: 2 * target,
		vlines: []vline{{x: target, color: "#d62728", label: fmt.Sprintf("target +%g ms", target)}}}
	for i, l := range r.Lag {
		if len(l.Sorted) == 0 {
			continue
		}
		color := palette[i%len(palette)]
		s := series{name: fmt.Sprintf("%s→%s (%gms)", short(l.From), short(l.To), ms(l.OneWay)), color: color, step: true,
			dashed: i%2 == 1} // pairs with equal delays overlap: dash every other one
		n := float64(len(l.Sorted))
		for j, d := range l.Sorted {
			s.pts = append(s.pts, point{ms(d - l.OneWay), float64(j+1) / n})
		}
		c.series = append(c.series, s)
		c.xMax = max(c.xMax, ms(l.Lag.Max-l.OneWay)*1.2)
	}
	return c
}

func short(node string) string { return strings.TrimSuffix(node, "-1") }

// faultBands turns the event log into shaded intervals on the timeline.
func faultBands(r *Result) []band {
	var out []band
	open := map[string]float64{}
	label := map[string]string{}
	t := func(e Event) float64 { return e.At.Sub(r.Start).Seconds() }
	end := r.End.Sub(r.Start).Seconds()
	for _, e := range r.Events {
		switch e.Kind {
		case "partition", "isolate", "cut", "stall":
			if _, ok := open["net"]; !ok {
				open["net"], label["net"] = t(e), e.Kind+" "+e.Target
			}
		case "flap start":
			open["flap"], label["flap"] = t(e), "flap "+e.Target
		case "flap end":
			if s, ok := open["flap"]; ok {
				out = append(out, band{s, t(e), label["flap"], "#92c5de"})
				delete(open, "flap")
			}
		case "heal", "resume":
			if s, ok := open["net"]; ok && (e.Kind == "heal" || e.Target != "") {
				out = append(out, band{s, t(e), label["net"], "#f4a582"})
				delete(open, "net")
			}
		case "kill", "stop":
			open["down "+e.Target], label["down "+e.Target] = t(e), e.Kind+" "+e.Target
		case "restart", "restart clock-offset":
			if s, ok := open["down "+e.Target]; ok {
				out = append(out, band{s, t(e), label["down "+e.Target], "#bababa"})
				delete(open, "down "+e.Target)
			}
		case "pause":
			open["pause "+e.Target], label["pause "+e.Target] = t(e), "pause "+e.Target
		case "continue":
			if s, ok := open["pause "+e.Target]; ok {
				out = append(out, band{s, t(e), label["pause "+e.Target], "#c2a5cf"})
				delete(open, "pause "+e.Target)
			}
		}
		if strings.HasPrefix(e.Kind, "restart") {
			if s, ok := open["down "+e.Target]; ok {
				out = append(out, band{s, t(e), label["down "+e.Target], "#bababa"})
				delete(open, "down "+e.Target)
			}
		}
	}
	for k, s := range open {
		out = append(out, band{s, end, label[k], "#f4a582"})
	}
	return out
}

func timelineChart(r *Result) *chart {
	c := &chart{title: "Convergence timeline (" + r.Scenario + ")",
		note:   "every 200 ms: share of workload keys at the same version on every answering node; shaded: faults; green: agreement",
		xLabel: "seconds since start", yLabel: "% of keys", yMax: 100, w: 1000, h: 440}
	agree := series{name: "% keys agreeing", color: "#1f77b4"}
	per := map[string]*series{}
	var names []string
	for _, s := range r.Samples {
		x := s.At.Sub(r.Start).Seconds()
		agree.pts = append(agree.pts, point{x, s.Agree * 100})
		for _, n := range r.Nodes {
			if per[n.Name] == nil {
				per[n.Name] = &series{name: "keys differing: " + short(n.Name), color: palette[(1+len(names))%len(palette)], dashed: true}
				names = append(names, n.Name)
			}
			y := math.NaN() // not answering (down or paused): a gap
			if d, ok := s.Differ[n.Name]; ok {
				y = float64(d) * 100 / float64(max(len(r.keys), 1))
			}
			per[n.Name].pts = append(per[n.Name].pts, point{x, y})
		}
		c.xMax = x
	}
	c.series = append(c.series, agree)
	for _, n := range names {
		per[n].name += " (% of keys)"
		c.series = append(c.series, *per[n])
	}
	c.bands = faultBands(r)
	c.vlines = convergenceLines(r)
	return c
}

// convergenceLines marks every agreement a converge step measured and the final heal and
// agreement. (The final agreement is the final heal plus the convergence time; the run's end
// comes later, after the expiry wait and the dumps.)
func convergenceLines(r *Result) []vline {
	var out []vline
	var lastHeal time.Time
	for _, e := range r.Events {
		switch {
		case e.Kind == "converge" && strings.HasPrefix(e.Target, "agreed after "):
			out = append(out, vline{x: e.At.Sub(r.Start).Seconds(), color: "#2ca02c", label: e.Target})
		case e.Kind == "heal":
			lastHeal = e.At
		}
	}
	if r.Converged && !lastHeal.IsZero() {
		at := lastHeal.Sub(r.Start).Seconds()
		out = append(out, vline{x: at, color: "#2ca02c", label: "final heal"},
			vline{x: at + r.Convergence.Seconds(), color: "#2ca02c", label: "agreed after " + r.Convergence.Round(time.Millisecond).String()})
	}
	return out
}

func verdict(ok bool) string {
	if ok {
		return "PASS"
	}
	return "**FAIL**"
}

func markdown(w io.Writer, command string, r *Result) error {
	p := func(format string, a ...any) { fmt.Fprintf(w, format, a...) }
	p("# Scenario `%s`: %s\n\n", r.Scenario, verdict(r.Passed()))
	if r.Description != "" {
		p("%s\n\n", r.Description)
	}
	p("- command: `%s`\n- run: %s, %.1f s, seed %d\n", command, r.Start.UTC().Format(time.RFC3339), r.End.Sub(r.Start).Seconds(), r.Seed)
	if r.Load != "" {
		p("- machine at the end of the run: %s\n", r.Load)
	}
	if r.Err != "" {
		p("- **error**: %s\n", r.Err)
	}
	p("\n## Summary\n\n| measure | value |\n|---|---|\n")
	p("| operations (ok / failed / unknown) | %d (%d / %d / %d) |\n", r.Ops, r.OK, r.Fail, r.Unknown)
	p("| acknowledged writes (exact version learned) | %d (%d) |\n", r.Check.AckedWrites, r.Check.ExactVersions)
	p("| writes excused (lost with a killed process) | %d |\n", r.Check.Excused)
	p("| keys compared across nodes / judged against history | %d / %d |\n", r.Check.Keys, r.Check.Judged)
	if r.Converged {
		p("| converged after the final heal in | %.0f ms |\n", ms(r.Convergence))
	} else {
		p("| converged after the final heal | **no** |\n")
	}
	for _, m := range r.Measures {
		p("| %s | %.0f ms |\n", m.Name, ms(m.Value))
	}
	p("| deltas rejected (clock ahead) / dropped (older) | %d / %d |\n", r.Rejected, r.Dropped)
	p("| violations | %d |\n", len(r.Check.Violations))
	p("| emulator bypasses (node-to-node TCP connections) | %d (%d node connections to the testnet process) |\n",
		len(r.Audit.Bypasses), r.Audit.Relayed)
	if r.AuditErr != "" {
		p("| audit error | %s |\n", r.AuditErr)
	}

	p("\n## Network\n\n| node | region | peer id | clock offset |\n|---|---|---|---|\n")
	for _, n := range r.Nodes {
		p("| %s | %s | `%s` | %v |\n", n.Name, n.Region, n.PeerID, n.Offset)
	}

	if len(r.Lag) > 0 {
		p("\n## Replication lag\n\nLag of one probe: from sending a SET to the source until the first EXISTS on the destination that finds the key (polled every 0.25 ms from 1 ms before the one-way delay until delay + 20 ms, every 1 ms after; an upper bound of the true lag). Lost: probes not seen within 3 s although the pair stayed healthy. Early: probes seen before the one-way delay had passed, which only a path around the emulator could explain (must be 0). Target: p99 <= one-way delay + %v.\n\n", LagTargetSlack)
		p("| from → to | one-way delay | probes (lost, early) | p50 | p90 | p99 | max | p99 - one-way | target met |\n|---|---|---|---|---|---|---|---|---|\n")
		for _, l := range r.Lag {
			ls := lagSummary(l)
			p("| %s → %s | %.1f ms | %d (%d, %d) | %.2f | %.2f | %.2f | %.2f | %+.2f ms | %s |\n", l.From, l.To, ms(l.OneWay), l.Lag.Count, l.Lost, l.Early,
				ms(l.Lag.P[0]), ms(l.Lag.P[1]), ms(l.Lag.P[2]), ms(l.Lag.Max), ms(l.Lag.P[2]-l.OneWay), yesNo(ls.Met))
		}
		p("\n![lag CDF](lag-cdf.svg)\n")
	}
	if len(r.Samples) > 0 {
		p("\n## Convergence timeline\n\nEvery 200 ms, every running node's registers (GET /v1/dump): the share of workload keys on which all answering nodes hold the same version (blue), and per node the share differing from the majority. Shaded: faults. Green dashed: agreement reached by a `converge` step, the final heal and the final agreement.\n\n![timeline](timeline.svg)\n")
	}
	p("\n## Events\n\n| t (s) | event | target |\n|---|---|---|\n")
	for _, e := range r.Events {
		p("| %.2f | %s | %s |\n", e.At.Sub(r.Start).Seconds(), e.Kind, e.Target)
	}
	p("\n## Emulator\n\nAccepted %d connections; refused %d (pair cut), %d (source not identified); %d target dials failed.\n\n",
		r.Emu.Accepted, r.Emu.Refused, r.Emu.Unclassified, r.Emu.DialFailed)
	p("Per directed link: bytes relayed and how late each chunk was written after its due time (arrival + delay). *Late*: chunks whose writer was idle until the due time, i.e. the emulator's own error on top of the requested one-way delay. *Backlog*: chunks queued behind an earlier write that the receiving node did not drain in time (TCP flow control) or that a CPU stall delayed; this is not emulator error but it does add to the delay the nodes see.\n\n")
	p("| link | delay | bytes | chunks | held by stall | late p50 | late p99 | late p99.9 | backlog chunks | backlog p50 | backlog p99 |\n|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, l := range r.Emu.Links {
		if len(l.Late.P) < 3 || len(l.Backlog.P) < 2 {
			continue
		}
		p("| %s → %s | %v | %d | %d | %d | %.3f ms | %.3f ms | %.3f ms | %d | %.3f ms | %.3f ms |\n", l.From, l.To, l.Delay,
			l.Bytes, l.Chunks, l.Held, ms(l.Late.P[0]), ms(l.Late.P[1]), ms(l.Late.P[2]), l.Backlog.Count,
			ms(l.Backlog.P[0]), ms(l.Backlog.P[1]))
	}
	if len(r.Audit.Bypasses) > 0 {
		p("\n**Bypasses:**\n\n")
		for _, b := range r.Audit.Bypasses {
			p("- %s → %s: %s → %s\n", b.From, b.To, b.Local, b.Remote)
		}
	}
	if len(r.Check.Violations) > 0 {
		p("\n## Violations\n\n")
		for i, v := range r.Check.Violations {
			if i == 30 {
				p("... and %d more (see summary.json and history.jsonl)\n", len(r.Check.Violations)-30)
				break
			}
			p("```\n%s\n```\n", v.String())
		}
	}
	if len(r.Check.Notes) > 0 {
		p("\n## Notes\n\n")
		for _, n := range r.Check.Notes[:min(len(r.Check.Notes), 20)] {
			p("- %s\n", n)
		}
	}
	p("\n## Script\n\n```\n%s\n```\n", strings.TrimSpace(r.Script))
	return nil
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "**no**"
}

// SummaryTable writes a one-line-per-scenario table, for the terminal.
func SummaryTable(w io.Writer, results []*Result) {
	fmt.Fprintf(w, "\n%-14s %-6s %7s %7s %6s %6s %10s %12s %8s %s\n", "scenario", "result", "ops", "acked", "viol", "bypass", "converge", "p99<=L+10ms", "rejected", "measures")
	for _, r := range results {
		met := 0
		for _, l := range r.Lag {
			if lagSummary(l).Met {
				met++
			}
		}
		var ms2 []string
		for _, m := range r.Measures {
			ms2 = append(ms2, fmt.Sprintf("%s=%.0fms", m.Name, ms(m.Value)))
		}
		slices.Sort(ms2)
		res := "PASS"
		if !r.Passed() {
			res = "FAIL"
		}
		fmt.Fprintf(w, "%-14s %-6s %7d %7d %6d %6d %8.0fms %7d/%-4d %8d %s\n", r.Scenario, res, r.Ops, r.Check.AckedWrites,
			len(r.Check.Violations), len(r.Audit.Bypasses), ms(r.Convergence), met, len(r.Lag), r.Rejected, strings.Join(ms2, " "))
	}
}
