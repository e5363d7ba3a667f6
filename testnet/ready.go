package testnet

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"
)

// gossipReadySlack bounds how much later than the one-way delay a write may arrive and still
// count as gossiped. A write the publisher did not gossip to a peer (it did not yet know the
// peer subscribed) reaches it only through a heartbeat and anti-entropy, at least a heartbeat
// interval (250 ms) later; 50 ms separates the two without judging the lag target.
const gossipReadySlack = 50 * time.Millisecond

// WaitReplicating waits until gossip reaches every running node from every other: connected
// nodes still exchange their topic subscriptions for a round trip or two (an RTT is up to
// 213 ms here), and until then a write reaches a peer only by anti-entropy, hundreds of
// milliseconds late. It writes one fresh key on every node per round, concurrently, and returns
// once a whole round arrived everywhere within the one-way delay + 50 ms; it returns the time
// that took and the rounds it ran. Scenarios call it before their clock starts, so steady-state
// lag is not charged with the start-up; the report records the time as a measure.
func (c *Cluster) WaitReplicating(ctx context.Context, timeout time.Duration) (time.Duration, int, error) {
	start := time.Now()
	deadline := start.Add(timeout)
	nodes := c.Running()
	for round := 1; ; round++ {
		ok, err := c.replicationRound(ctx, nodes, "ready/"+strconv.Itoa(round)+"/", deadline)
		if err != nil {
			return time.Since(start), round, err
		}
		if ok {
			return time.Since(start), round, nil
		}
		if time.Now().After(deadline) {
			return time.Since(start), round, fmt.Errorf("testnet: gossip not reaching every node within %v", timeout)
		}
	}
}

// replicationRound writes prefix+source on every node and waits on every other node for it;
// it reports whether every key arrived within its pair's one-way delay + gossipReadySlack.
func (c *Cluster) replicationRound(ctx context.Context, nodes []*Node, prefix string, deadline time.Time) (bool, error) {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		fast  = true
		first error
	)
	fail := func(err error) {
		mu.Lock()
		if first == nil {
			first = err
		}
		mu.Unlock()
	}
	for _, s := range nodes {
		wg.Go(func() {
			src, err := dialRESP(s.RESP(), time.Second)
			if err != nil {
				fail(err)
				return
			}
			defer src.Close()
			key := prefix + s.Name
			t0 := time.Now()
			if r, err := src.do(t0.Add(2*time.Second), "SET", key, "1", "PX", "5000"); err != nil || r.kind == '-' {
				fail(fmt.Errorf("testnet: ready probe SET on %s: %v %v", s.Name, err, r.err()))
				return
			}
			var inner sync.WaitGroup
			for _, d := range nodes {
				if d == s {
					continue
				}
				inner.Go(func() {
					lag, err := awaitKey(ctx, d, key, t0, deadline)
					if err != nil {
						fail(err)
						return
					}
					if lag > c.Emu.Delay(s.Name, d.Name)+gossipReadySlack {
						mu.Lock()
						fast = false
						mu.Unlock()
					}
				})
			}
			inner.Wait()
		})
	}
	wg.Wait()
	return fast && first == nil, first
}

// awaitKey polls EXISTS key on n every millisecond until it is there and returns the time
// from t0; it fails at deadline.
func awaitKey(ctx context.Context, n *Node, key string, t0, deadline time.Time) (time.Duration, error) {
	conn, err := dialRESP(n.RESP(), time.Second)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for {
		r, err := conn.do(deadline, "EXISTS", key)
		if err != nil {
			return 0, fmt.Errorf("testnet: ready probe on %s: %w", n.Name, err)
		}
		if r.kind == ':' && r.n == 1 {
			return time.Since(t0), nil
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-tick.C:
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("testnet: ready probe: %s never saw %s", n.Name, key)
		}
	}
}
