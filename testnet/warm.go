package testnet

import (
	"context"
	"fmt"
	"time"
)

// Warm restart checks: "count" records, per node, the keys that will not expire within a minute
// (SCAN and PTTL), and "expectwarm" checks, after the nodes were stopped and restarted, that each
// holds them again — loaded from its snapshot (--data-dir), not fetched from peers, which were
// all down too. A node missing any is a violation ("cold-restart").

// warmLoadTimeout bounds how long expectwarm waits for a node to finish loading its snapshot.
const warmLoadTimeout = 30 * time.Second

// warmMinTTL: keys expiring sooner are not counted (lag probes write short-lived keys).
const warmMinTTL = time.Minute

// countKeys records the lasting keys of every node.
func (r *run) countKeys(ctx context.Context) error {
	keys := map[string][]string{}
	total := 0
	for _, n := range r.c.Nodes {
		ks, err := lastingKeys(n, time.Now().Add(10*time.Second))
		if err != nil {
			return err
		}
		keys[n.Name] = ks
		total += len(ks)
	}
	r.mu.Lock()
	r.warmKeys = keys
	r.mu.Unlock()
	r.c.Log.add("count", fmt.Sprintf("%d lasting keys on %d nodes", total, len(keys)))
	return nil
}

// expectWarm checks every node holds the keys counted before.
func (r *run) expectWarm(ctx context.Context, st step) error {
	r.mu.Lock()
	keys := r.warmKeys
	r.mu.Unlock()
	if keys == nil {
		return fmt.Errorf("testnet: script line %d: expectwarm without a count before it", st.line)
	}
	for _, n := range r.c.Nodes {
		start := time.Now()
		held, err := existing(ctx, n, keys[n.Name], start.Add(warmLoadTimeout))
		if err != nil {
			return err
		}
		r.res.Measures = append(r.res.Measures, Measure{Name: "warm restart " + n.Name + ": keys served", Value: time.Since(start)})
		if held < len(keys[n.Name]) {
			r.stepViolations = append(r.stepViolations, Violation{Kind: "cold-restart",
				Detail: fmt.Sprintf("script line %d: %s holds %d of its %d keys after the restart", st.line, n.Name, held, len(keys[n.Name]))})
		}
	}
	r.c.Log.add("expectwarm", "checked")
	return nil
}

// lastingKeys lists n's keys that expire in more than warmMinTTL, or never.
func lastingKeys(n *Node, deadline time.Time) ([]string, error) {
	conn, err := dialRESP(n.RESP(), time.Second)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	var out []string
	cursor := "0"
	for {
		rep, err := conn.do(deadline, "SCAN", cursor, "COUNT", "1000")
		if err != nil {
			return nil, err
		}
		if rep.kind != '*' || len(rep.arr) != 2 {
			return nil, fmt.Errorf("testnet: %s SCAN: unexpected reply %v", n.Name, rep.err())
		}
		for _, k := range rep.arr[1].arr {
			ttl, err := conn.do(deadline, "PTTL", k.str)
			if err != nil {
				return nil, err
			}
			if ttl.kind == ':' && (ttl.n == -1 || ttl.n > warmMinTTL.Milliseconds()) {
				out = append(out, k.str)
			}
		}
		if cursor = rep.arr[0].str; cursor == "0" {
			return out, nil
		}
	}
}

// existing counts how many of keys n holds, retrying while it loads its snapshot (-LOADING)
// until deadline.
func existing(ctx context.Context, n *Node, keys []string, deadline time.Time) (int, error) {
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
			break
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
	if len(keys) == 0 {
		return 0, nil
	}
	// EXISTS counts without touching recency and without reading through to a peer.
	rep, err := conn.do(deadline, append([]string{"EXISTS"}, keys...)...)
	if err != nil {
		return 0, err
	}
	if rep.kind != ':' {
		return 0, fmt.Errorf("testnet: EXISTS on %s: %v", n.Name, rep.err())
	}
	return int(rep.n), nil
}
