package testnet

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// Event is one fault or life-cycle action, for the report and the checker.
type Event struct {
	At     time.Time
	Kind   string // "partition", "heal", "kill", "restart", ...
	Target string // what it acted on, human-readable
}

// Interval is a half-open time range; End is zero while open.
type Interval struct{ Start, End time.Time }

// EventLog records faults as they are injected, and per node the intervals during which it was
// disturbed (a link of it cut or stalled, or the process paused). Safe for concurrent use.
type EventLog struct {
	mu        sync.Mutex
	events    []Event
	disturbed map[string][]Interval
}

func newEventLog() *EventLog { return &EventLog{disturbed: map[string][]Interval{}} }

func (l *EventLog) add(kind, target string) {
	l.mu.Lock()
	l.events = append(l.events, Event{At: time.Now(), Kind: kind, Target: target})
	l.mu.Unlock()
}

// Events returns the events so far, oldest first.
func (l *EventLog) Events() []Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.events)
}

func (l *EventLog) setDisturbed(node string, on bool, at time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	iv := l.disturbed[node]
	open := len(iv) > 0 && iv[len(iv)-1].End.IsZero()
	switch {
	case on && !open:
		l.disturbed[node] = append(iv, Interval{Start: at})
	case !on && open:
		iv[len(iv)-1].End = at
	}
}

// Disturbances returns every node's disturbed intervals.
func (l *EventLog) Disturbances() map[string][]Interval {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[string][]Interval, len(l.disturbed))
	for k, v := range l.disturbed {
		out[k] = slices.Clone(v)
	}
	return out
}

// nodesOf resolves names (nodes or regions) to nodes.
func (c *Cluster) nodesOf(names []string) ([]*Node, error) {
	var out []*Node
	for _, name := range names {
		found := false
		for _, n := range c.Nodes {
			if n.Name == name || n.Region == name {
				if !slices.Contains(out, n) {
					out = append(out, n)
				}
				found = true
			}
		}
		if !found {
			return nil, fmt.Errorf("testnet: no node or region %q", name)
		}
	}
	return out, nil
}

// refreshDisturbed recomputes which nodes have a cut or stalled link or are paused.
func (c *Cluster) refreshDisturbed() {
	now := time.Now()
	for _, a := range c.Nodes {
		st, _, _ := a.State()
		on := st == StatePaused
		for _, b := range c.Nodes {
			if on {
				break
			}
			if a != b && (c.Emu.IsCut(a.Name, b.Name) || c.Emu.link(a.Name, b.Name).stalled() ||
				c.Emu.link(b.Name, a.Name).stalled()) {
				on = true
			}
		}
		c.Log.setDisturbed(a.Name, on, now)
	}
}

// Partition cuts every node of each group from every node of the other groups. Groups name
// nodes or regions; nodes in no group keep all their links.
func (c *Cluster) Partition(groups ...[]string) error {
	resolved := make([][]*Node, len(groups))
	var desc []string
	for i, g := range groups {
		ns, err := c.nodesOf(g)
		if err != nil {
			return err
		}
		resolved[i] = ns
		desc = append(desc, strings.Join(g, ","))
	}
	for i, g := range resolved {
		for _, h := range resolved[i+1:] {
			for _, a := range g {
				for _, b := range h {
					c.Emu.Cut(a.Name, b.Name)
				}
			}
		}
	}
	c.Log.add("partition", strings.Join(desc, " | "))
	c.refreshDisturbed()
	return nil
}

// Isolate cuts a node (or every node of a region) from all others.
func (c *Cluster) Isolate(name string) error {
	ns, err := c.nodesOf([]string{name})
	if err != nil {
		return err
	}
	for _, a := range ns {
		for _, b := range c.Nodes {
			if !slices.Contains(ns, b) {
				c.Emu.Cut(a.Name, b.Name)
			}
		}
	}
	c.Log.add("isolate", name)
	c.refreshDisturbed()
	return nil
}

// Cut cuts every link between the nodes of a and those of b (nodes or regions).
func (c *Cluster) Cut(a, b string) error {
	return c.eachPair(a, b, "cut", func(x, y *Node) { c.Emu.Cut(x.Name, y.Name) })
}

// Stall black-holes the direction from -> to (nodes or regions) until Resume or a heal.
func (c *Cluster) Stall(from, to string) error {
	return c.eachPair(from, to, "stall", func(x, y *Node) { c.Emu.Stall(x.Name, y.Name) })
}

// Resume lifts a Stall from -> to.
func (c *Cluster) Resume(from, to string) error {
	return c.eachPair(from, to, "resume", func(x, y *Node) { c.Emu.Resume(x.Name, y.Name) })
}

// Heal lifts cuts and stalls between a and b.
func (c *Cluster) Heal(a, b string) error {
	return c.eachPair(a, b, "heal", func(x, y *Node) { c.Emu.Heal(x.Name, y.Name) })
}

// SetDelay overrides the one-way delay from -> to (nodes or regions).
func (c *Cluster) SetDelay(from, to string, d time.Duration) error {
	return c.eachPair(from, to, "delay "+d.String(), func(x, y *Node) {
		c.Emu.SetDelay(x.Name, y.Name, d, c.cfg.Matrix.Jitter)
	})
}

func (c *Cluster) eachPair(a, b, kind string, f func(x, y *Node)) error {
	as, err := c.nodesOf([]string{a})
	if err != nil {
		return err
	}
	bs, err := c.nodesOf([]string{b})
	if err != nil {
		return err
	}
	for _, x := range as {
		for _, y := range bs {
			if x != y {
				f(x, y)
			}
		}
	}
	c.Log.add(kind, a+" -> "+b)
	c.refreshDisturbed()
	return nil
}

// HealAll lifts every cut and stall.
func (c *Cluster) HealAll() {
	c.Emu.HealAll()
	c.Log.add("heal", "all")
	c.refreshDisturbed()
}

// Flap cuts and heals the links between a and b every half period until ctx is done or for
// lasts, and leaves them healed. It blocks; run it in a goroutine the caller waits for.
func (c *Cluster) Flap(ctx context.Context, a, b string, period, lasts time.Duration) error {
	if period <= 0 {
		return fmt.Errorf("testnet: flap period must be positive")
	}
	c.Log.add("flap start", fmt.Sprintf("%s <-> %s every %v for %v", a, b, period, lasts))
	defer c.Log.add("flap end", a+" <-> "+b)
	end := time.NewTimer(lasts)
	defer end.Stop()
	t := time.NewTicker(period / 2)
	defer t.Stop()
	cut := false
	defer func() {
		if cut {
			c.Heal(a, b)
		}
	}()
	for {
		if cut {
			if err := c.Heal(a, b); err != nil {
				return err
			}
		} else if err := c.Cut(a, b); err != nil {
			return err
		}
		cut = !cut
		select {
		case <-ctx.Done():
			return nil
		case <-end.C:
			return nil
		case <-t.C:
		}
	}
}
