package client

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/geocache/geocache/geo"
)

// maxOtherSources bounds how many known nodes (besides the current one)
// a refresh asks before falling back to the seeds.
const maxOtherSources = 3

// refresh fetches the member list and installs it.
func (c *Client) refresh(ctx context.Context) error {
	ms, err := c.fetch(ctx)
	if err != nil {
		return err
	}
	c.merge(ms)
	return nil
}

// fetch gets the member list from the first source that answers: the
// current node, then other nodes that are up (nearest first), then the
// seeds. It only reads the client's state, so it may run beside a probe
// round.
func (c *Client) fetch(ctx context.Context) ([]member, error) {
	var errs []error
	for _, src := range c.sources() {
		if ctx.Err() != nil {
			break
		}
		ms, err := c.fetchMembers(ctx, src)
		if err == nil && len(ms) == 0 {
			err = errors.New("no member with a usable RESP address")
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", src, err))
			continue
		}
		c.count(func(s *Stats) { s.Refreshes++ })
		return ms, nil
	}
	c.count(func(s *Stats) { s.RefreshFailures++ })
	if err := ctx.Err(); err != nil {
		errs = append(errs, err)
	}
	return nil, fmt.Errorf("client: no member list: %w", errors.Join(errs...))
}

func (c *Client) sources() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	seen := map[string]bool{}
	add := func(u string) {
		if u != "" && !seen[u] {
			seen[u] = true
			out = append(out, u)
		}
	}
	if c.current != nil {
		add(c.current.m.http)
	}
	others := 0
	for _, r := range c.rankLocked(time.Now(), (*node).up) {
		if n := c.nodes[r.ID]; n != c.current && n.m.http != "" && others < maxOtherSources {
			add(n.m.http)
			others++
		}
	}
	for _, s := range c.cfg.Seeds {
		add(s)
	}
	return out
}

// merge installs a fresh member list. New nodes get clients; nodes whose
// RESP address changed get new ones; nodes no longer listed are dropped,
// except the current node, which stays (marked unhealthy, so the client
// moves away if it can) until it is no longer current. Only the probe loop
// (or New) calls merge, so the node set does not change between its two
// critical sections.
func (c *Client) merge(ms []member) {
	c.mu.Lock()
	var fresh []member
	for _, m := range ms {
		if n := c.nodes[m.id]; n == nil || n.m.resp != m.resp {
			fresh = append(fresh, m)
		}
	}
	c.mu.Unlock()

	// Build clients without the lock: RedisOptions is user code.
	clients := make(map[string]*redis.Client, len(fresh)) // by id
	for _, m := range fresh {
		clients[m.id] = c.newRedis(m.resp)
	}

	var closeP []*prober
	var closeR []*redis.Client
	c.mu.Lock()
	listed := make(map[string]bool, len(ms))
	for _, m := range ms {
		listed[m.id] = true
		n := c.nodes[m.id]
		switch {
		case n == nil:
			n = &node{prober: c.newProber(m.resp), need: 1}
			c.nodes[m.id] = n
		case n.m.resp != m.resp:
			// Moved (restarted on another address): start over.
			closeP, closeR = append(closeP, n.prober), append(closeR, n.rdb)
			n.prober = c.newProber(m.resp)
			n.okStreak, n.need, n.stale, n.lastErr = 0, 1, false, nil
			c.tracker.Forget(m.id)
		}
		if rdb := clients[m.id]; rdb != nil {
			n.rdb = rdb
			delete(clients, m.id)
		}
		n.m = m
	}
	for id, n := range c.nodes {
		if listed[id] {
			continue
		}
		if n == c.current {
			n.m.viewOK = false
			n.m.state = "unlisted"
			continue
		}
		c.deleteLocked(n)
		closeP, closeR = append(closeP, n.prober), append(closeR, n.rdb)
	}
	c.mu.Unlock()
	for _, p := range closeP {
		p.close()
	}
	for _, rdb := range closeR {
		rdb.Close()
	}
}

// probeAll PINGs every node in parallel, records RTTs and health, and
// re-selects the current node.
func (c *Client) probeAll(ctx context.Context) {
	type job struct {
		n     *node
		p     *prober
		addr  string
		stale bool
		rtt   time.Duration
		err   error
		fresh *redis.Client
	}
	c.mu.Lock()
	jobs := make([]*job, 0, len(c.nodes))
	for _, n := range c.nodes {
		jobs = append(jobs, &job{n: n, p: n.prober, addr: n.m.resp, stale: n.stale})
	}
	c.mu.Unlock()

	var wg sync.WaitGroup
	sem := make(chan struct{}, maxParallelProbes)
	for _, j := range jobs {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			j.rtt, j.err = j.p.ping(ctx, c.cfg.ProbeTimeout)
			if j.err == nil && c.cfg.probeDistance != nil {
				j.rtt += c.cfg.probeDistance(j.p.addr)
			}
		})
	}
	wg.Wait()
	if ctx.Err() != nil {
		return // closing: the failures are ours, not the nodes'
	}
	// A node back from a failure gets a new command client: the old one
	// may hold broken connections and go-redis's dial circuit breaker.
	for _, j := range jobs {
		if j.err == nil && j.stale {
			j.fresh = c.newRedis(j.addr)
		}
	}

	now := time.Now()
	var toClose []*redis.Client
	c.mu.Lock()
	for _, j := range jobs {
		n := j.n
		if n.gone || n.m.resp != j.addr {
			if j.fresh != nil {
				toClose = append(toClose, j.fresh)
			}
			continue
		}
		if j.err != nil {
			n.okStreak, n.need, n.stale, n.lastErr = 0, c.cfg.RecoverProbes, true, j.err
			c.stats.ProbeFailures++
			continue
		}
		c.tracker.Observe(n.m.id, j.rtt, now)
		wasUp := n.up()
		n.okStreak = min(n.okStreak+1, 1<<20)
		if n.up() {
			n.lastErr = nil
			if !wasUp && !n.m.viewOK {
				// Back from a failure while the last member list showed it down:
				// the list is stale for it, fetch it now.
				c.refreshSoon = true
			}
		}
		if j.fresh != nil {
			if n.stale {
				toClose = append(toClose, n.rdb)
				n.rdb, n.stale = j.fresh, false
			} else {
				toClose = append(toClose, j.fresh)
			}
		}
	}
	ev := c.reselectLocked(now)
	c.mu.Unlock()
	for _, rdb := range toClose {
		rdb.Close()
	}
	c.report(ev)
}

// markDown records that a call to n failed with a connection error and
// moves the client to the next node at once; the probe loop is woken to
// confirm and to watch for recovery.
func (c *Client) markDown(n *node, err error) {
	c.mu.Lock()
	if n.gone || c.closed {
		c.mu.Unlock()
		return
	}
	n.okStreak, n.need, n.stale, n.lastErr = 0, c.cfg.RecoverProbes, true, err
	ev := c.reselectLocked(time.Now())
	c.mu.Unlock()
	c.report(ev)
	c.wakeLoop()
}

// usableLocked is the set calls may go to: nodes that are up, or, when
// none is, nodes that answered their last probe but have not yet answered
// RecoverProbes in a row (better than nothing).
func (c *Client) usableLocked() func(*node) bool {
	for _, n := range c.nodes {
		if n.up() {
			return (*node).up
		}
	}
	return func(n *node) bool { return n.okStreak > 0 }
}

// rankLocked ranks the nodes keep selects, nearest first (see
// geo.Rank): healthy (up and listed as serving) before the rest, then by
// measured RTT.
func (c *Client) rankLocked(now time.Time, keep func(*node) bool) []geo.Ranked {
	cands := make([]geo.Candidate, 0, len(c.nodes))
	for _, n := range c.nodes {
		if !keep(n) {
			continue
		}
		cand := geo.Candidate{ID: n.m.id, Coords: n.m.coords, Healthy: n.up() && n.m.viewOK}
		if n.up() {
			cand.RTT, _ = c.tracker.RTT(n.m.id, now)
		}
		cands = append(cands, cand)
	}
	return geo.Rank(c.cfg.Location, cands)
}

// pick returns the node for a call's next attempt: the current node, or
// the nearest usable node not tried yet.
func (c *Client) pick(tried []*node) (*node, *redis.Client, string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, nil, "", ErrClosed
	}
	if n := c.current; n != nil && !slices.Contains(tried, n) {
		return n, n.rdb, n.m.resp, nil
	}
	for _, r := range c.rankLocked(time.Now(), c.usableLocked()) {
		if n := c.nodes[r.ID]; !slices.Contains(tried, n) {
			return n, n.rdb, n.m.resp, nil
		}
	}
	return nil, nil, "", ErrNoNode
}

// switchEvent is a change of current node, reported after unlocking.
type switchEvent struct {
	from, to Node
	reason   string
}

// reselectLocked applies the failover policy:
//
//   - a current node that is no longer usable is replaced at once by the
//     best usable node (failover);
//   - a current node that is usable but not healthy is replaced by a
//     healthy one as soon as there is one;
//   - otherwise the client moves to a nearer node only when its RTT is
//     below SwitchRatio × the current RTT (failback, with hysteresis so
//     that jitter between similar nodes does not cause flapping).
func (c *Client) reselectLocked(now time.Time) *switchEvent {
	usable := c.usableLocked()
	ranked := c.rankLocked(now, usable)
	cur := c.current
	var ev *switchEvent
	if cur != nil {
		ev = &switchEvent{from: c.snapshotLocked(cur, now)}
	}
	if len(ranked) == 0 {
		if cur == nil {
			return nil
		}
		c.current = nil
		c.stats.Switches++
		ev.reason = "no node is up"
		return ev
	}
	best := c.nodes[ranked[0].ID]
	if best == cur {
		return nil
	}
	if cur != nil && !cur.gone && usable(cur) {
		curHealthy := cur.up() && cur.m.viewOK
		if curHealthy == ranked[0].Healthy {
			curRTT, okCur := c.tracker.RTT(cur.m.id, now)
			bestRTT, okBest := c.tracker.RTT(best.m.id, now)
			if !okBest || (okCur && float64(bestRTT) >= c.cfg.SwitchRatio*float64(curRTT)) {
				return nil
			}
			ev.reason = "nearer node"
		} else {
			ev.reason = "current node unhealthy"
		}
	} else if cur != nil {
		ev.reason = "current node down"
	} else {
		ev = &switchEvent{reason: "initial"}
	}
	c.current = best
	c.stats.Switches++
	ev.to = c.snapshotLocked(best, now)
	return ev
}

// report logs a switch. It runs without c.mu: the Logger's handler is user
// code.
func (c *Client) report(ev *switchEvent) {
	if ev == nil {
		return
	}
	if ev.to.ID == "" {
		c.cfg.Logger.Warn("client: no node available", "from", ev.from.ID, "reason", ev.reason)
		return
	}
	c.cfg.Logger.Info("client: using node", "node", ev.to.ID, "region", ev.to.Region, "resp", ev.to.RESP,
		"rtt", ev.to.RTT, "from", ev.from.ID, "reason", ev.reason)
}
