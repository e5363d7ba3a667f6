package node

import (
	"context"
	"encoding/binary"
	"hash/fnv"
	"sync"
	"time"

	"github.com/geocache/geocache/crdt"
	"github.com/geocache/geocache/geo"
	"github.com/geocache/geocache/lru"
)

// Locality: a local miss can be filled from the nearest peer that holds the key (read-through),
// and a cold key loaded in several regions at once is loaded from the origin once (a lease held
// by one node, chosen by rendezvous hashing of the key over the reachable members).

// leaseTable is the set of load leases this node grants as the owner of some keys. Bounded.
type leaseTable struct {
	mu     sync.Mutex
	leases map[string]lease
}

type lease struct {
	holder string
	until  time.Time
}

const maxLeases = 1 << 16

func (t *leaseTable) acquire(key, who string, ttl time.Duration, now time.Time) []byte {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.leases == nil {
		t.leases = map[string]lease{}
	}
	if l, ok := t.leases[key]; ok && now.Before(l.until) && l.holder != who {
		return binary.AppendUvarint([]byte{stHeld}, uint64(l.until.Sub(now).Milliseconds()))
	}
	if len(t.leases) >= maxLeases {
		for k, l := range t.leases {
			if !now.Before(l.until) {
				delete(t.leases, k)
			}
		}
		if len(t.leases) >= maxLeases {
			// Full of live leases: grant without recording (a duplicate load, never a stall).
			return binary.AppendUvarint([]byte{stGranted}, uint64(ttl.Milliseconds()))
		}
	}
	t.leases[key] = lease{holder: who, until: now.Add(ttl)}
	return binary.AppendUvarint([]byte{stGranted}, uint64(ttl.Milliseconds()))
}

func (t *leaseTable) release(key, who string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if l, ok := t.leases[key]; ok && l.holder == who {
		delete(t.leases, key)
	}
}

// negCache remembers keys that no peer held, briefly, so a truly absent key does not cost a WAN
// round trip on every read. Bounded; entries expire by time.
type negCache struct {
	mu sync.Mutex
	m  map[string]time.Time
}

const maxNegative = 1 << 16

func (c *negCache) has(key string, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	until, ok := c.m[key]
	return ok && now.Before(until)
}

func (c *negCache) add(key string, until time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]time.Time{}
	}
	if len(c.m) >= maxNegative {
		now := time.Now()
		for k, u := range c.m {
			if !now.Before(u) {
				delete(c.m, k)
			}
		}
		if len(c.m) >= maxNegative {
			return
		}
	}
	c.m[key] = until
}

func (c *negCache) forget(key string) {
	c.mu.Lock()
	delete(c.m, key)
	c.mu.Unlock()
}

// healthy reports whether a member can serve: reachable, connected and not leaving.
func healthy(m *Member) bool {
	return m.Self || (m.Connected && m.Reachable && m.State != "leaving")
}

// candidates turns members into geo candidates, remembering each by id.
func candidates(ms []Member, keep func(*Member) bool) ([]geo.Candidate, map[string]Member) {
	cands := make([]geo.Candidate, 0, len(ms))
	byID := make(map[string]Member, len(ms))
	for i := range ms {
		m := &ms[i]
		if !keep(m) {
			continue
		}
		c := geo.Candidate{ID: m.PeerID, RTT: m.RTT, Healthy: true}
		if m.Region != "" || m.Lat != 0 || m.Lon != 0 {
			c.Coords = &geo.Coordinates{Lat: m.Lat, Lon: m.Lon}
		}
		cands = append(cands, c)
		byID[m.PeerID] = *m
	}
	return cands, byID
}

// rankedPeers returns up to limit healthy peers (not this node), nearest first: by measured
// RTT, else by RTT estimated from distance, then by peer id (geo.Rank).
func (n *Node) rankedPeers(limit int) []rankedPeer {
	cands, byID := candidates(n.Members(), func(m *Member) bool { return !m.Self && healthy(m) })
	ranked := geo.Rank(&geo.Coordinates{Lat: n.cfg.Lat, Lon: n.cfg.Lon}, cands)
	out := make([]rankedPeer, 0, min(limit, len(ranked)))
	for _, r := range ranked[:min(limit, len(ranked))] {
		out = append(out, rankedPeer{Member: byID[r.ID], rtt: r.EffectiveRTT})
	}
	return out
}

// rankedPeer is a peer with the round trip its rank used (measured or estimated).
type rankedPeer struct {
	Member
	rtt time.Duration
}

// Nearest returns up to count healthy members (this node included) nearest to (lat, lon) by
// great-circle distance, ties broken by peer id (geo.Nearest).
func (n *Node) Nearest(lat, lon float64, count int) []Member {
	cands, byID := candidates(n.Members(), healthy)
	ranked := geo.Nearest(geo.Coordinates{Lat: lat, Lon: lon}, cands, count)
	out := make([]Member, 0, len(ranked))
	for _, r := range ranked {
		out = append(out, byID[r.ID])
	}
	return out
}

type fetchResult struct {
	d   crdt.Delta
	hit bool
	err error
}

// readThrough asks the nearest peers for key after a local miss: the nearest first, a second
// one after a hedge delay based on the first one's RTT (or at once when it answers miss), all
// bounded by Config.ReadThroughTimeout. A hit is stored locally with its original version.
func (n *Node) readThrough(ctx context.Context, key string) (Item, bool) {
	if n.repl == nil || n.cfg.DisableReadThrough || n.neg.has(key, time.Now()) {
		return Item{}, false
	}
	peers := n.rankedPeers(3)
	if len(peers) == 0 {
		return Item{}, false
	}
	ctx, cancel := context.WithTimeout(ctx, n.cfg.ReadThroughTimeout)
	defer cancel()
	results := make(chan fetchResult, len(peers))
	launched, answered, misses := 0, 0, 0
	launch := func() {
		p := peers[launched].PeerID
		launched++
		if !n.goAsync(func() { results <- n.fetch(ctx, p, key) }) {
			results <- fetchResult{err: ErrClosed}
		}
	}
	launch()
	hedge := time.NewTimer(hedgeDelay(peers[0].rtt))
	defer hedge.Stop()
	for answered < launched {
		select {
		case r := <-results:
			answered++
			if r.hit {
				n.remoteHits.Add(1)
				return n.storeFetched(&r.d), true
			}
			if r.err == nil {
				misses++
			}
			if launched < len(peers) {
				launch()
			}
		case <-hedge.C:
			if launched < len(peers) {
				launch()
				hedge.Reset(hedgeDelay(peers[launched-1].rtt))
			}
		case <-ctx.Done():
			n.remoteMisses.Add(1)
			return Item{}, false
		}
	}
	n.remoteMisses.Add(1)
	if misses == len(peers) {
		n.neg.add(key, time.Now().Add(n.cfg.NegativeTTL))
	}
	return Item{}, false
}

// hedgeDelay is how long to wait for a peer before asking the next one too: twice its round
// trip plus a millisecond of service time.
func hedgeDelay(rtt time.Duration) time.Duration {
	return max(2*rtt+time.Millisecond, 2*time.Millisecond)
}

func (n *Node) fetch(ctx context.Context, peer, key string) fetchResult {
	resp, err := n.call(ctx, peer, appendRequest(nil, opGet, key))
	if err != nil {
		return fetchResult{err: err}
	}
	if len(resp) == 0 || resp[0] != stHit {
		return fetchResult{}
	}
	d, used, err := crdt.DecodeDelta(resp[1:], n.repl.lim)
	if err != nil || used != len(resp)-1 || d.Key != key || d.Entry.Tombstone() {
		n.repl.st.rejected.Add(1)
		return fetchResult{err: errBadMessage}
	}
	return fetchResult{d: d, hit: true}
}

// storeFetched keeps a register fetched from a peer under its original version (it is not a
// new write: no dot is recorded and nothing is replicated) unless something newer is here, and
// returns what is now current.
func (n *Node) storeFetched(d *crdt.Delta) Item {
	e := &d.Entry
	nowMs := n.nowMs()
	n.clockMu.Lock()
	_, err := n.clock.Observe(e.Version.TS, nowMs)
	n.clockMu.Unlock()
	v := valueOf(e)
	if err != nil || e.Expired(nowMs) {
		return itemOf(&v, e.Expiry)
	}
	var cur lru.Current[value]
	n.store.Apply(d.Key, nowMs, func(c lru.Current[value]) lru.Update[value] {
		cur = c
		// ">=" on the floor: a local tombstone keeps only the timestamp, and an evicted
		// register fetched back carries exactly that timestamp. (A different write with the
		// same HLC timestamp is possible only within one millisecond and logical tick.)
		if (!c.Exists && uint64(e.Version.TS) >= c.Floor) || (c.Exists && c.Value.ver.Less(e.Version)) {
			n.trackTombstone(&c, &v)
			return lru.Update[value]{Action: lru.Put, Value: v, Expiry: e.Expiry}
		}
		return lru.Update[value]{Action: lru.Keep}
	})
	if cur.Exists && !cur.Value.ver.Less(e.Version) && !cur.Value.tombstone() {
		return itemOf(&cur.Value, cur.Expiry)
	}
	return itemOf(&v, e.Expiry)
}

// leaseOwner picks the node that arbitrates loads of key: rendezvous hashing over this node and
// its healthy peers. Nodes with the same view pick the same owner; during a partition each side
// picks its own, so a cold key is loaded at most once per side.
func (n *Node) leaseOwner(key string) string {
	best, bestScore := n.PeerID(), uint64(0)
	for _, m := range n.Members() {
		if !healthy(&m) {
			continue
		}
		h := fnv.New64a()
		h.Write([]byte(m.PeerID))
		h.Write([]byte{0})
		h.Write([]byte(key))
		if s := h.Sum64(); s > bestScore || (s == bestScore && m.PeerID < best) {
			best, bestScore = m.PeerID, s
		}
	}
	return best
}

// acquireLease asks key's owner for the right to load it. It returns granted=true when this
// node should load, or the time the current holder has left. Errors (owner unreachable) mean
// "load it yourself".
func (n *Node) acquireLease(ctx context.Context, key string) (owner string, granted bool, wait time.Duration, err error) {
	owner = n.leaseOwner(key)
	ttl := n.cfg.LoadLeaseTTL
	var resp []byte
	if owner == n.PeerID() {
		resp = n.leases.acquire(key, owner, ttl, time.Now())
	} else {
		req := binary.AppendUvarint(appendRequest(nil, opLease, key), uint64(ttl.Milliseconds()))
		if resp, err = n.call(ctx, owner, req); err != nil {
			return owner, true, 0, err
		}
	}
	ms, k := binary.Uvarint(resp[1:])
	if k <= 0 {
		return owner, true, 0, errBadMessage
	}
	return owner, resp[0] == stGranted, time.Duration(ms) * time.Millisecond, nil
}

// releaseLease tells the owner the load is done (best effort: leases also expire).
func (n *Node) releaseLease(key, owner string) {
	if owner == n.PeerID() {
		n.leases.release(key, owner)
		return
	}
	n.goAsync(func() {
		ctx, cancel := n.stopCtx()
		defer cancel()
		ctx, cancel2 := context.WithTimeout(ctx, rpcDeadline)
		defer cancel2()
		n.call(ctx, owner, appendRequest(nil, opRelease, key))
	})
}

// awaitRemoteLoad waits up to d for another node's load of key to arrive here (by gossip, or
// read-through from peers), and returns it.
func (n *Node) awaitRemoteLoad(ctx context.Context, key string, d time.Duration) (Item, bool) {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	t := time.NewTicker(2 * time.Millisecond)
	defer t.Stop()
	lastAsk := time.Now()
	for {
		if it, ok, err := n.Peek(ctx, key); err == nil && ok {
			return it, true
		}
		if time.Since(lastAsk) > 50*time.Millisecond {
			lastAsk = time.Now()
			n.neg.forget(key)
			if it, ok := n.readThrough(ctx, key); ok {
				return it, true
			}
		}
		select {
		case <-ctx.Done():
			return Item{}, false
		case <-t.C:
		}
	}
}
