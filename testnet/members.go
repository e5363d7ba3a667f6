package testnet

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// memberView is /v1/members. Two shapes are accepted: {"replica": "<hex>", "members": [{"id",
// "self": bool, "connected": bool, ...}]} and the older {"self": "<hex>", "members": [{"id",
// "state": "self"|"connected"|"disconnected", ...}]}.
type memberView struct {
	Replica string          `json:"replica"`
	SelfTop json.RawMessage `json:"self"`
	Members []memberJSON    `json:"members"`
}

type memberJSON struct {
	ID             string `json:"id"`
	Region         string `json:"region"`
	State          string `json:"state"`
	Self           bool   `json:"self"`
	Connected      bool   `json:"connected"`
	DeltasRejected uint64 `json:"deltas_rejected"`
	DeltasDropped  uint64 `json:"deltas_dropped"`
}

func (v memberView) replica() string {
	if v.Replica != "" {
		return v.Replica
	}
	var s string
	if json.Unmarshal(v.SelfTop, &s) == nil {
		return s
	}
	return ""
}

func (m memberJSON) self() bool { return m.Self || m.State == "self" }

func (m memberJSON) connected() bool { return !m.self() && (m.Connected || m.State == "connected") }

// members fetches n's /v1/members: its replica id and the number of connected peers.
func (c *Cluster) members(ctx context.Context, n *Node) (self string, connected int, err error) {
	v, err := c.memberView(ctx, n)
	if err != nil {
		return "", 0, err
	}
	for _, m := range v.Members {
		if m.connected() {
			connected++
		}
	}
	return v.replica(), connected, nil
}

func (c *Cluster) memberView(ctx context.Context, n *Node) (memberView, error) {
	var v memberView
	req, err := http.NewRequestWithContext(ctx, "GET", n.HTTP()+"/v1/members", nil)
	if err != nil {
		return v, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return v, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return v, fmt.Errorf("testnet: %s /v1/members: %s", n.Name, resp.Status)
	}
	err = json.NewDecoder(resp.Body).Decode(&v)
	return v, err
}

// Rejected sums, over the running nodes, the deltas they rejected (clock too far ahead, or
// malformed) and dropped (older than what they held), from their Prometheus metrics
// (geocache_deltas_rejected_total, geocache_deltas_dropped_total). Counters of restarted
// processes start again from zero.
func (c *Cluster) Rejected(ctx context.Context) (rejected, dropped uint64) {
	for _, n := range c.Running() {
		m, err := c.metrics(ctx, n)
		if err != nil {
			continue
		}
		rejected += uint64(m["geocache_deltas_rejected_total"])
		dropped += uint64(m["geocache_deltas_dropped_total"])
	}
	return rejected, dropped
}

// metrics reads a node's /metrics and sums every sample by metric name (labels ignored).
func (c *Cluster) metrics(ctx context.Context, n *Node) (map[string]float64, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", n.HTTP()+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return nil, fmt.Errorf("testnet: %s /metrics: %s", n.Name, resp.Status)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		name, rest, ok := strings.Cut(line, " ")
		if i := strings.IndexByte(name, '{'); i >= 0 {
			// Labels may contain spaces: the value follows the closing brace.
			j := strings.LastIndexByte(line, '}')
			name, rest, ok = line[:i], strings.TrimSpace(line[j+1:]), j > i
		}
		if !ok {
			continue
		}
		if f := strings.Fields(rest); len(f) > 0 {
			if v, err := strconv.ParseFloat(f[0], 64); err == nil {
				out[name] += v
			}
		}
	}
	return out, sc.Err()
}

// WaitConnected waits until every running node reports every other running node connected.
func (c *Cluster) WaitConnected(ctx context.Context, timeout time.Duration) error {
	return c.waitEveryoneSees(ctx, timeout, 50*time.Millisecond, "connected",
		func(ctx context.Context, n *Node) (int, error) {
			_, conn, err := c.members(ctx, n)
			return conn, err
		})
}

// waitEveryoneSees polls, every tick until timeout, until count says of every running node that
// it sees all the other running nodes; what names the condition in the error.
func (c *Cluster) waitEveryoneSees(ctx context.Context, timeout, tick time.Duration, what string,
	count func(context.Context, *Node) (int, error)) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		running := c.Running()
		ok := true
		for _, n := range running {
			k, err := count(ctx, n)
			if err != nil || k < len(running)-1 {
				ok = false
				break
			}
		}
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("testnet: nodes do not all see each other %s within %v", what, timeout)
		case <-t.C:
		}
	}
}

// Ready reports whether a node's /readyz says it is warm.
func (c *Cluster) Ready(ctx context.Context, n *Node) bool {
	req, err := http.NewRequestWithContext(ctx, "GET", n.HTTP()+"/readyz", nil)
	if err != nil {
		return false
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == 200
}
