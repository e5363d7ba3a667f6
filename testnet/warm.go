package testnet

import (
	"context"
	"fmt"
	"time"
)

// Warm restart checks: "count" records every node's key count (DBSIZE) and "expectwarm" checks,
// after the nodes were stopped and restarted, that each holds them again — loaded from its
// snapshot (--data-dir), not fetched from peers that were all down too. A node that comes back
// with fewer keys is a violation ("cold-restart").

// warmLoadTimeout bounds how long expectwarm waits for a node to finish loading its snapshot.
const warmLoadTimeout = 30 * time.Second

// countKeys records the key count of every node.
func (r *run) countKeys(ctx context.Context) error {
	counts := map[string]int64{}
	for _, n := range r.c.Nodes {
		k, err := dbsize(ctx, n, time.Now().Add(5*time.Second))
		if err != nil {
			return err
		}
		counts[n.Name] = k
	}
	r.mu.Lock()
	r.warmKeys = counts
	r.mu.Unlock()
	r.c.Log.add("count", fmt.Sprint(counts))
	return nil
}

// expectWarm checks every node holds the keys counted before.
func (r *run) expectWarm(ctx context.Context, st step) error {
	r.mu.Lock()
	counts := r.warmKeys
	r.mu.Unlock()
	if counts == nil {
		return fmt.Errorf("testnet: script line %d: expectwarm without a count before it", st.line)
	}
	for _, n := range r.c.Nodes {
		start := time.Now()
		k, err := dbsize(ctx, n, start.Add(warmLoadTimeout))
		if err != nil {
			return err
		}
		r.res.Measures = append(r.res.Measures, Measure{Name: "warm restart " + n.Name + ": keys served", Value: time.Since(start)})
		if k < counts[n.Name] {
			r.stepViolations = append(r.stepViolations, Violation{Kind: "cold-restart",
				Detail: fmt.Sprintf("script line %d: %s holds %d keys after the restart, %d before", st.line, n.Name, k, counts[n.Name])})
		}
	}
	r.c.Log.add("expectwarm", "checked")
	return nil
}

// dbsize asks n for its key count, retrying while it loads its snapshot (-LOADING) until
// deadline.
func dbsize(ctx context.Context, n *Node, deadline time.Time) (int64, error) {
	conn, err := dialRESP(n.RESP(), time.Second)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		rep, err := conn.do(deadline, "DBSIZE")
		if err != nil {
			return 0, fmt.Errorf("testnet: DBSIZE on %s: %w", n.Name, err)
		}
		if rep.kind == ':' {
			return rep.n, nil
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("testnet: DBSIZE on %s: %v", n.Name, rep.err())
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-tick.C:
		}
	}
}
