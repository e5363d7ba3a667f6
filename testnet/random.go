package testnet

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"time"
)

// RandomScript generates a fault schedule from a seed for a network of the given regions and
// nodes: 2 to 5 faults drawn from partitions, isolations, cuts, stalls, flapping links, kill -9
// with restart, pause with continue and clock skew within and beyond the allowed offset, with the
// workload running throughout. At most one node is down or paused at a time. The same seed gives
// the same schedule.
func RandomScript(seed uint64, regions []string, nodes []string) string {
	rng := rand.New(rand.NewPCG(seed, 0x7e57e7))
	dur := func(lo, hi int) string { return fmt.Sprintf("%dms", lo+rng.IntN(hi-lo+1)) }
	pick := func(xs []string) string { return xs[rng.IntN(len(xs))] }
	two := func(xs []string) (string, string) {
		i := rng.IntN(len(xs))
		j := (i + 1 + rng.IntN(len(xs)-1)) % len(xs)
		return xs[i], xs[j]
	}
	var b strings.Builder
	line := func(format string, a ...any) { fmt.Fprintf(&b, format+"\n", a...) }
	line("sleep %s", dur(500, 1500))
	faults := 2 + rng.IntN(4)
	for i := 0; i < faults; i++ {
		switch k := rng.IntN(100); {
		case k < 20 && len(regions) > 1:
			perm := rng.Perm(len(regions))
			cut := 1 + rng.IntN(len(regions)-1)
			var g []string
			for _, p := range perm[:cut] {
				g = append(g, regions[p])
			}
			line("partition %s | *", strings.Join(g, ","))
			line("sleep %s", dur(500, 3000))
			if rng.IntN(3) > 0 {
				line("heal")
			}
		case k < 30:
			line("isolate %s", pick(nodes))
			line("sleep %s", dur(500, 2500))
			line("heal")
		case k < 40:
			a, c := two(nodes)
			line("cut %s %s", a, c)
			line("sleep %s", dur(300, 2000))
		case k < 50:
			a, c := two(nodes)
			line("stall %s %s", a, c)
			line("sleep %s", dur(500, 4000))
			line("resume %s %s", a, c)
		case k < 60:
			a, c := two(nodes)
			line("flap %s %s period=%s for=%s", a, c, dur(300, 1000), dur(1000, 3000))
		case k < 75:
			x := pick(nodes)
			line("kill %s", x)
			line("sleep %s", dur(300, 2500))
			line("restart %s", x)
		case k < 87:
			x := pick(nodes)
			line("pause %s", x)
			line("sleep %s", dur(300, 2500))
			line("continue %s", x)
		default:
			x := pick(nodes)
			if rng.IntN(10) < 7 {
				off := -400 + rng.IntN(801)
				line("skew %s %dms", x, off)
			} else {
				line("skew %s %dms", x, 700+rng.IntN(801))
			}
		}
		line("sleep %s", dur(300, 1500))
	}
	return b.String()
}

// RandomRun is the outcome of one randomized run.
type RandomRun struct {
	Seed   uint64
	Script string
	Result *Result
}

// Seeds returns seed, seed+1, ..., seed+runs-1.
func Seeds(seed uint64, runs int) []uint64 {
	out := make([]uint64, runs)
	for i := range out {
		out[i] = seed + uint64(i)
	}
	return out
}

// RunRandom starts one network and runs one randomized fault schedule per seed on it, each on its
// own key prefix, checking each run after heal and quiescence. onRun is called after each run
// (for progress and early reports). It returns every run; the error means the network failed,
// not that a run found violations.
func RunRandom(ctx context.Context, rc RunConfig, seeds []uint64, onRun func(i int, rr RandomRun)) ([]RandomRun, error) {
	if rc.ConvergeTimeout <= 0 {
		rc.ConvergeTimeout = 30 * time.Second
	}
	rc = rc.withDefaults()
	fmt.Fprintf(rc.Progress, "== random: starting %d regions x %d nodes\n", max(rc.Regions, 1), max(rc.NodesPerRegion, 1))
	c, err := StartCluster(ctx, ClusterConfig{Binary: rc.Binary, Ports: rc.Ports, Dir: rc.Out + "/nodes", Matrix: rc.Matrix,
		Regions: rc.Regions, NodesPerRegion: rc.NodesPerRegion, LogLevel: rc.LogLevel, Progress: rc.Progress})
	if err != nil {
		return nil, err
	}
	defer c.Close()
	var regions, nodes []string
	for _, r := range c.Matrix().Regions {
		regions = append(regions, r.Name)
	}
	for _, n := range c.Nodes {
		nodes = append(nodes, n.Name)
	}
	var out []RandomRun
	for i, s := range seeds {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		script := RandomScript(s, regions, nodes)
		steps, err := ParseScript(script)
		if err != nil {
			return out, err
		}
		rci := rc
		rci.Seed = s
		rci.Progress = io.Discard
		res, runErr := runSteps(ctx, c, rci, Scenario{Name: fmt.Sprintf("random-%d", s), Script: script, NoProbe: true},
			steps, fmt.Sprintf("r%d/", s))
		rr := RandomRun{Seed: s, Script: script, Result: res}
		out = append(out, rr)
		if onRun != nil {
			onRun(i, rr)
		}
		if runErr != nil && res == nil {
			return out, runErr
		}
		// Set skewed clocks right for the next run.
		for _, n := range c.Nodes {
			if n.ClockOffset() != 0 {
				zero := time.Duration(0)
				if err := c.Restart(ctx, n.Name, &zero); err != nil {
					return out, err
				}
			}
		}
		if err := c.WaitConnected(ctx, 60*time.Second); err != nil {
			return out, err
		}
	}
	return out, nil
}

// WriteRandomReport writes the randomized runs' table as Markdown.
func WriteRandomReport(w io.Writer, command string, runs []RandomRun, elapsed time.Duration) {
	pass, viol := 0, 0
	for _, r := range runs {
		if r.Result != nil && r.Result.Passed() {
			pass++
		}
		if r.Result != nil {
			viol += len(r.Result.Check.Violations)
		}
	}
	fmt.Fprintf(w, "# Randomized fault schedules\n\n- command: `%s`\n- %d runs, %d passed, %d violations in total, %.0f s\n\n",
		command, len(runs), pass, viol, elapsed.Seconds())
	fmt.Fprintf(w, "| seed | result | ops | acked writes | excused | violations | converged in | faults |\n|---|---|---|---|---|---|---|---|\n")
	for _, r := range runs {
		res := r.Result
		if res == nil {
			fmt.Fprintf(w, "| %d | error | | | | | | |\n", r.Seed)
			continue
		}
		var faults []string
		for _, l := range strings.Split(r.Script, "\n") {
			if f := strings.Fields(l); len(f) > 0 && f[0] != "sleep" {
				faults = append(faults, strings.Join(f, " "))
			}
		}
		v := "PASS"
		if !res.Passed() {
			v = "**FAIL**"
			if res.Err != "" {
				v += " (" + res.Err + ")"
			}
		}
		fmt.Fprintf(w, "| %d | %s | %d | %d | %d | %d | %.0f ms | %s |\n", r.Seed, v, res.Ops, res.Check.AckedWrites,
			res.Check.Excused, len(res.Check.Violations), ms(res.Convergence), strings.Join(faults, "; "))
	}
	for _, r := range runs {
		if r.Result == nil || r.Result.Check.OK() {
			continue
		}
		fmt.Fprintf(w, "\n## Seed %d violations\n\n```\n%s```\n\n", r.Seed, r.Script)
		for i, v := range r.Result.Check.Violations {
			if i == 10 {
				fmt.Fprintf(w, "... %d more\n", len(r.Result.Check.Violations)-10)
				break
			}
			fmt.Fprintf(w, "```\n%s\n```\n", v.String())
		}
	}
}
