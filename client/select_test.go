package client

import (
	"testing"
	"time"

	"github.com/geocache/geocache/geo"
)

// policyClient is a Client with nodes but no network, to drive the
// failover policy (reselectLocked) directly.
func policyClient(t *testing.T) *Client {
	t.Helper()
	cfg, err := Config{Seeds: []string{"x"}}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	tr, err := geo.NewTracker(cfg.Tracker)
	if err != nil {
		t.Fatal(err)
	}
	return &Client{cfg: cfg, nodes: map[string]*node{}, tracker: tr}
}

var now0 = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// set puts node id in the given state with a settled RTT.
func (c *Client) set(id string, rtt time.Duration, okStreak, need int, viewOK bool) *node {
	n := c.nodes[id]
	if n == nil {
		n = &node{m: member{id: id, resp: id + ":1"}}
		c.nodes[id] = n
	}
	n.okStreak, n.need, n.m.viewOK = okStreak, need, viewOK
	c.tracker.Forget(id)
	for range 5 {
		c.tracker.Observe(id, rtt, now0)
	}
	return n
}

func TestReselectPolicy(t *testing.T) {
	t.Parallel()
	ms := time.Millisecond
	type st struct {
		id       string
		rtt      time.Duration
		okStreak int
		need     int
		viewOK   bool
	}
	up := func(id string, rtt time.Duration) st { return st{id, rtt, 5, 1, true} }
	tests := []struct {
		name    string
		nodes   []st
		current string
		want    string // "" = none
		reason  string // "" = no switch
	}{
		{"initial pick is the nearest", []st{up("a", 20*ms), up("b", 10*ms)}, "", "b", "initial"},
		{"similar node does not steal", []st{up("a", 20*ms), up("b", 17*ms)}, "a", "a", ""},
		{"clearly nearer node does", []st{up("a", 20*ms), up("b", 15*ms)}, "a", "b", "nearer node"},
		{"down current is left for a slower node", []st{{"a", 1 * ms, 0, 2, true}, up("b", 90*ms)}, "a", "b", "current node down"},
		{"unhealthy current is left for a slower healthy one", []st{{"a", 1 * ms, 5, 1, false}, up("b", 90*ms)}, "a", "b", "current node unhealthy"},
		{"unhealthy but up beats nothing", []st{{"a", 1 * ms, 5, 1, false}, {"b", 1 * ms, 0, 2, true}}, "b", "a", "current node down"},
		{"recovering node waits its probes", []st{{"a", 1 * ms, 1, 2, true}, up("b", 50*ms)}, "b", "b", ""},
		{"recovered node is failed back to", []st{{"a", 1 * ms, 2, 2, true}, up("b", 50*ms)}, "b", "a", "nearer node"},
		{"recovering node beats nothing", []st{{"a", 1 * ms, 1, 2, true}, {"b", 1 * ms, 0, 2, true}}, "b", "a", "current node down"},
		{"nothing up", []st{{"a", 1 * ms, 0, 2, true}}, "a", "", "no node is up"},
		{"nothing up, nothing current", []st{{"a", 1 * ms, 0, 2, true}}, "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := policyClient(t)
			for _, s := range tt.nodes {
				c.set(s.id, s.rtt, s.okStreak, s.need, s.viewOK)
			}
			c.current = c.nodes[tt.current]
			ev := c.reselectLocked(now0)
			got := ""
			if c.current != nil {
				got = c.current.m.id
			}
			if got != tt.want {
				t.Fatalf("current = %q, want %q", got, tt.want)
			}
			switch {
			case tt.reason == "" && ev != nil:
				t.Fatalf("unexpected switch %+v", ev)
			case tt.reason != "" && (ev == nil || ev.reason != tt.reason || ev.to.ID != tt.want):
				t.Fatalf("event %+v, want a switch to %q because %q", ev, tt.want, tt.reason)
			}
			if want := uint64(0); tt.reason != "" {
				want = 1
				if c.stats.Switches != want {
					t.Fatalf("Switches = %d, want %d", c.stats.Switches, want)
				}
			}
		})
	}
}

// TestNoFlapping feeds RTTs of two similar nodes that keep trading places: the client must
// stay put, while a plain "pick the minimum" would switch back and forth.
func TestNoFlapping(t *testing.T) {
	t.Parallel()
	c := policyClient(t)
	c.set("a", 20*time.Millisecond, 5, 1, true)
	c.set("b", 21*time.Millisecond, 5, 1, true)
	c.reselectLocked(now0)
	start := c.current.m.id
	naive := 0
	prevMin := ""
	for i := range 200 {
		now := now0.Add(time.Duration(i) * 100 * time.Millisecond)
		// Every 10 probes the two swap places, 2 ms apart.
		fast, slow := 19*time.Millisecond, 21*time.Millisecond
		if (i/10)%2 == 1 {
			fast, slow = slow, fast
		}
		c.tracker.Observe("a", fast, now)
		c.tracker.Observe("b", slow, now)
		c.reselectLocked(now)
		ra, _ := c.tracker.RTT("a", now)
		rb, _ := c.tracker.RTT("b", now)
		min := "a"
		if rb < ra {
			min = "b"
		}
		if prevMin != "" && min != prevMin {
			naive++
		}
		prevMin = min
	}
	if c.current.m.id != start || c.stats.Switches != 1 {
		t.Fatalf("switched %d times (now on %s), want to stay on %s", c.stats.Switches-1, c.current.m.id, start)
	}
	if naive == 0 {
		t.Fatal("the jitter never changed the minimum: the test proves nothing")
	}
}
