package testnet

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// exec runs one step.
func (r *run) exec(ctx context.Context, st step) error {
	c := r.c
	res := func(i int) (string, error) { return resolve(c, st.args[i]) }
	two := func(f func(a, b string) error) error {
		a, err := res(0)
		if err != nil {
			return err
		}
		b, err := res(1)
		if err != nil {
			return err
		}
		return f(a, b)
	}
	one := func(f func(a string) error) error {
		a, err := res(0)
		if err != nil {
			return err
		}
		return f(a)
	}
	switch st.cmd {
	case "sleep":
		select {
		case <-time.After(st.dur):
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	case "partition":
		groups, err := partitionGroups(c, st.args)
		if err != nil {
			return err
		}
		return c.Partition(groups...)
	case "isolate":
		return one(c.Isolate)
	case "cut":
		return two(c.Cut)
	case "heal":
		if len(st.args) == 0 {
			c.HealAll()
			return nil
		}
		return two(c.Heal)
	case "stall":
		return two(c.Stall)
	case "resume":
		return two(c.Resume)
	case "delay":
		return two(func(a, b string) error { return c.SetDelay(a, b, st.dur) })
	case "flap":
		period, _ := time.ParseDuration(st.kv["period"])
		lasts, _ := time.ParseDuration(st.kv["for"])
		return two(func(a, b string) error {
			r.bg.Go(func() { c.Flap(r.bgCtx, a, b, period, lasts) })
			return nil
		})
	case "kill", "stop", "pause", "continue", "restart", "skew", "warmup", "gossip":
		names, err := c.nodesOf([]string{mustResolve(c, st.args[0])})
		if err != nil {
			return err
		}
		for _, n := range names {
			if err := r.lifecycle(ctx, st, n); err != nil {
				return err
			}
		}
		return nil
	case "workload":
		if st.args[0] == "off" {
			r.stopWorkload()
			c.Log.add("workload", "off")
			return nil
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.wl == nil {
			cfg := r.wcfg
			cfg.Seed += uint64(len(r.done)) + 1
			r.wl = StartWorkload(c, cfg)
			c.Log.add("workload", "on")
		}
		return nil
	case "probe":
		if r.prober != nil {
			r.prober.SetEnabled(st.args[0] == "on")
		}
		return nil
	case "converge":
		start := time.Now()
		ok, d, err := r.converge(ctx, start)
		if err != nil {
			return err
		}
		name := "converge"
		if r.prev != "" {
			name += " after " + r.prev
		}
		if !ok {
			// A violation, not a reason to stop: the rest of the script still tells something.
			r.stepViolations = append(r.stepViolations, notConverged(
				fmt.Sprintf("script line %d: nodes still disagree %v after %s", st.line, r.rc.ConvergeTimeout, r.prev),
				r.disagreement))
			c.Log.add("converge", "timed out")
			return nil
		}
		r.res.Measures = append(r.res.Measures, Measure{Name: name, Value: d})
		c.Log.add("converge", "agreed after "+d.Round(time.Millisecond).String())
		return nil
	case "mark":
		c.Log.add("mark", strings.Join(st.args, " "))
		return nil
	case "count":
		return r.countKeys(ctx)
	case "expectwarm":
		return r.expectWarm(ctx, st)
	}
	return fmt.Errorf("unknown command %q", st.cmd)
}

func mustResolve(c *Cluster, s string) string {
	if r, err := resolve(c, s); err == nil {
		return r
	}
	return s
}

func (r *run) lifecycle(ctx context.Context, st step, n *Node) error {
	c := r.c
	switch st.cmd {
	case "kill":
		return c.Kill(n.Name)
	case "stop":
		return c.Stop(n.Name)
	case "pause":
		err := c.Pause(n.Name)
		c.refreshDisturbed()
		return err
	case "continue":
		err := c.Continue(n.Name)
		c.refreshDisturbed()
		return err
	case "restart":
		if st.kv["identity"] == "new" {
			return c.RestartNewIdentity(ctx, n.Name)
		}
		return c.Restart(ctx, n.Name, nil)
	case "gossip":
		return r.gossipAfter(ctx, st, n)
	case "skew":
		d := st.dur
		for i := range r.res.Nodes {
			if r.res.Nodes[i].Name == n.Name {
				r.res.Nodes[i].Offset = d
			}
		}
		return c.Restart(ctx, n.Name, &d)
	case "warmup":
		ready, caught, err := r.warmup(ctx, n)
		if err != nil {
			if ctx.Err() != nil {
				return err
			}
			r.stepViolations = append(r.stepViolations, Violation{Kind: "not-warm",
				Detail: fmt.Sprintf("script line %d: %v", st.line, err)})
			return nil
		}
		r.res.Measures = append(r.res.Measures,
			Measure{Name: "warm-up " + n.Name + ": /readyz after restart", Value: ready},
			Measure{Name: "warm-up " + n.Name + ": caught up after restart", Value: caught})
		return nil
	}
	return nil
}

// warmup waits until n answers /readyz and holds, for every key another running node held when
// warmup began, the same or a newer version. Both durations are from n's last start.
func (r *run) warmup(ctx context.Context, n *Node) (ready, caught time.Duration, err error) {
	n.mu.Lock()
	started := n.lastStart
	n.mu.Unlock()
	var ref *Node
	for _, o := range r.c.Running() {
		if o != n {
			ref = o
			break
		}
	}
	if ref == nil {
		return 0, 0, errors.New("warmup needs another running node")
	}
	want, err := r.c.Dump(ctx, ref)
	if err != nil {
		return 0, 0, err
	}
	deadline := time.Now().Add(r.rc.ConvergeTimeout)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for ready == 0 || caught == 0 {
		if ready == 0 && r.c.Ready(ctx, n) {
			ready = time.Since(started)
		}
		if caught == 0 {
			if have, err := r.c.Dump(ctx, n); err == nil && holdsAll(have, want) {
				caught = time.Since(started)
			}
		}
		if time.Now().After(deadline) {
			return ready, caught, fmt.Errorf("%s not warm within %v (ready %v, caught up %v)", n.Name,
				r.rc.ConvergeTimeout, ready, caught)
		}
		select {
		case <-ctx.Done():
			return 0, 0, ctx.Err()
		case <-tick.C:
		}
	}
	return ready, caught, nil
}

// holdsAll reports whether have holds every register of want at the same or a newer version
// (keys about to expire excepted).
func holdsAll(have, want NodeDump) bool {
	soon := want.At.Add(want.Offset).Add(2 * time.Second).UnixMilli()
	for k, w := range want.Regs {
		if w.ExpireAtMs != 0 && w.ExpireAtMs <= soon {
			continue
		}
		h, ok := have.Regs[k]
		if !ok || h.Version.Less(w.Version) {
			return false
		}
	}
	return true
}

// gossipBound is how soon after a restart gossip must flow between every pair of nodes again
// (issue 11: a restarted node hears every peer's gossip within 3 s).
const gossipBound = 3 * time.Second

// gossipAfter waits until every running node is connected to every other, then until gossip
// reaches every running node from every other (a round of writes arrives everywhere within
// the one-way delays), and measures both from n's last start; gossip later than gossipBound is
// a violation.
func (r *run) gossipAfter(ctx context.Context, st step, n *Node) error {
	n.mu.Lock()
	started := n.lastStart
	n.mu.Unlock()
	// Connected first: a replication round started before the links are up waits for its keys
	// to come by anti-entropy and then must be repeated, which would charge the measure with a
	// whole extra round.
	err := r.c.WaitConnected(ctx, r.rc.ConvergeTimeout)
	connected := time.Since(started)
	if err == nil {
		_, _, err = r.c.WaitReplicating(ctx, r.rc.ConvergeTimeout)
	}
	took := time.Since(started)
	if err != nil {
		if ctx.Err() != nil {
			return err
		}
		r.stepViolations = append(r.stepViolations, Violation{Kind: "slow-gossip",
			Detail: fmt.Sprintf("script line %d: %v", st.line, err)})
		return nil
	}
	r.res.Measures = append(r.res.Measures,
		Measure{Name: "connected after restart of " + n.Name, Value: connected},
		Measure{Name: "gossip flowing after restart of " + n.Name, Value: took})
	r.c.Log.add("gossip", "connected "+connected.Round(time.Millisecond).String()+", flowing "+
		took.Round(time.Millisecond).String()+" after "+n.Name+" started")
	if took > gossipBound {
		r.stepViolations = append(r.stepViolations, Violation{Kind: "slow-gossip",
			Detail: fmt.Sprintf("script line %d: gossip flowed %v after %s started, bound %v", st.line,
				took.Round(time.Millisecond), n.Name, gossipBound)})
	}
	return nil
}
