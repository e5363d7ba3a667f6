package testnet

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"sort"
	"strings"
	"time"
)

// converge waits until every running node's dump agrees, and returns how long after since. When
// it gives up, r.disagreement holds the last differences seen.
func (r *run) converge(ctx context.Context, since time.Time) (bool, time.Duration, error) {
	deadline := time.Now().Add(r.rc.ConvergeTimeout)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		dumps, err := r.dumps(ctx)
		if err == nil {
			// While the lag probe runs, its keys are always in flight somewhere: compare the
			// workload's keys only until it is stopped (the final phase stops it first).
			compare := r.ours
			if !r.proberStopped {
				compare = func(k string) bool { return strings.HasPrefix(k, r.wcfg.Prefix) }
			}
			v := Check(CheckInput{Dumps: dumps, Compare: compare}).Violations
			if len(v) == 0 {
				return true, time.Since(since), nil
			}
			r.disagreement = v
		}
		if time.Now().After(deadline) {
			return false, 0, nil
		}
		select {
		case <-ctx.Done():
			return false, 0, ctx.Err()
		case <-tick.C:
		}
	}
}

func (r *run) dumps(ctx context.Context) ([]NodeDump, error) {
	d, _, err := r.dumpsOf(ctx)
	return d, err
}

// dumpsOf dumps every running node; on error it names the node that failed.
func (r *run) dumpsOf(ctx context.Context) ([]NodeDump, *Node, error) {
	var out []NodeDump
	for _, n := range r.c.Running() {
		dctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		d, err := r.c.Dump(dctx, n)
		cancel()
		if err != nil {
			return nil, n, fmt.Errorf("%s: %w", n.Name, err)
		}
		out = append(out, d)
	}
	return out, nil, nil
}

// machineLoad describes the machine's load: /proc/loadavg and the CPU pressure stall
// information (the share of time some task waited for a CPU).
func machineLoad() string {
	var parts []string
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		f := strings.Fields(string(b))
		if len(f) >= 3 {
			parts = append(parts, "load average "+strings.Join(f[:3], " "))
		}
	}
	if b, err := os.ReadFile("/proc/pressure/cpu"); err == nil {
		line, _, _ := strings.Cut(string(b), "\n")
		for _, f := range strings.Fields(line) {
			if v, ok := strings.CutPrefix(f, "avg60="); ok {
				parts = append(parts, "CPU pressure (some, avg60) "+v+"%")
			}
		}
	}
	parts = append(parts, fmt.Sprintf("%d CPUs", runtime.NumCPU()))
	return strings.Join(parts, ", ")
}

// notConverged is the violation of a convergence wait that timed out, with the last differences
// (at most five keys) as evidence.
func notConverged(detail string, last []Violation) Violation {
	v := Violation{Kind: "not-converged", Detail: detail}
	for i, d := range last {
		if i == 5 {
			v.Nodes = append(v.Nodes, fmt.Sprintf("... %d more keys", len(last)-5))
			break
		}
		v.Nodes = append(v.Nodes, fmt.Sprintf("%s key %q:", d.Kind, d.Key))
		for _, n := range d.Nodes {
			v.Nodes = append(v.Nodes, "  "+n)
		}
	}
	return v
}

// ours reports whether a key belongs to this run (its workload or its lag probes).
func (r *run) ours(key string) bool {
	return strings.HasPrefix(key, r.wcfg.Prefix) || strings.HasPrefix(key, "lag/"+r.wcfg.Prefix)
}

// final stops the workload and faults, brings every node back, waits for convergence and checks.
func (r *run) final(ctx context.Context) error {
	c := r.c
	r.stopWorkload()
	if r.prober != nil {
		r.prober.Stop()
	}
	r.proberStopped = true
	r.bgCancel()
	r.bg.Wait()
	c.HealAll()
	for _, n := range c.Nodes {
		switch st, _, _ := n.State(); st {
		case StatePaused:
			if err := c.Continue(n.Name); err != nil {
				return err
			}
		case StateKilled, StateStopped:
			if err := c.Restart(ctx, n.Name, nil); err != nil {
				return err
			}
		}
	}
	c.refreshDisturbed()
	healed := time.Now()
	// Convergence: agreement on every key not about to expire (those are compared below).
	ok, d, err := r.converge(ctx, healed)
	if err != nil {
		return err
	}
	r.res.Converged, r.res.Convergence = ok, d
	// Let every expiring write expire (clocks may be skewed), then the nodes must still agree,
	// now on every key.
	var maxOff time.Duration
	for _, n := range c.Nodes {
		maxOff = max(maxOff, n.ClockOffset(), -n.ClockOffset())
	}
	select {
	case <-time.After(time.Until(healed.Add(r.wcfg.MaxTTL + maxOff + 2500*time.Millisecond))):
	case <-ctx.Done():
		return ctx.Err()
	}
	if ok {
		if ok, _, err = r.converge(ctx, healed); err != nil {
			return err
		}
		r.res.Converged = ok
	}
	r.res.Load = machineLoad()
	// What was measured goes into the result whatever happens next.
	r.res.Samples = r.sampler.Stop()
	var ops []Op
	for _, h := range r.doneHistories() {
		ops = append(ops, h.Ops()...)
	}
	sort.SliceStable(ops, func(i, j int) bool { return ops[i].Complete.Before(ops[j].Complete) })
	for i := range ops {
		ops[i].ID = i + 1
		switch ops[i].Status {
		case StatusOK:
			r.res.OK++
		case StatusFail:
			r.res.Fail++
		default:
			r.res.Unknown++
		}
	}
	r.res.Ops, r.res.history = len(ops), ops
	if r.prober != nil {
		r.res.Lag = r.prober.Results()
		r.res.Probes = r.prober.Probes()
	}
	r.res.Emu = c.Emu.Stats()
	r.res.Rejected, r.res.Dropped = c.Rejected(ctx)
	a, err := c.Audit()
	r.res.Audit = a
	if err != nil {
		r.res.AuditErr = err.Error()
	}

	var dumps []NodeDump
	for attempt := 0; ; attempt++ {
		var failed *Node
		dumps, failed, err = r.dumpsOf(ctx)
		if err == nil {
			break
		}
		if attempt == 2 || ctx.Err() != nil {
			if failed != nil {
				// Leave evidence: the Go runtime prints every goroutine's stack on SIGQUIT.
				if qerr := c.Quit(failed.Name); qerr == nil {
					err = fmt.Errorf("%w (%s did not answer; its goroutine dump is in %s.log)", err, failed.Name, failed.Name)
				}
			}
			return fmt.Errorf("final dumps: %w", err)
		}
	}
	r.res.Check = Check(CheckInput{Ops: ops, Prefix: r.wcfg.Prefix, Dumps: dumps, Compare: r.ours,
		Incarnations: c.Incarnations(), Disturbances: c.Log.Disturbances()})
	if !ok {
		r.res.Check.Violations = append([]Violation{notConverged(
			fmt.Sprintf("nodes still disagree %v after the final heal", r.rc.ConvergeTimeout), r.disagreement)},
			r.res.Check.Violations...)
	}
	r.res.Check.Violations = append(r.stepViolations, r.res.Check.Violations...)
	return nil
}
