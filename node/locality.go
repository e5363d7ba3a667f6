package node

import (
	"context"
	"encoding/binary"
	"errors"
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
	// waits counts the answers that told an asker to wait (or that the key is absent): how
	// often another node's load spared a load of its own.
	waits uint64
}

type lease struct {
	holder string
	until  time.Time
	absent bool // the holder's loader found no such key: answer "absent" until `until`
}

const maxLeases = 1 << 16

// acquire grants key's lease to who unless another node holds it. rich says the asker
// understands stAbsent (otherwise an "absent" entry is answered stHeld).
func (t *leaseTable) acquire(key, who string, ttl time.Duration, now time.Time, rich bool) []byte {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.leases == nil {
		t.leases = map[string]lease{}
	}
	if l, ok := t.leases[key]; ok && now.Before(l.until) && (l.absent || l.holder != who) {
		t.waits++
		st := stHeld
		if l.absent && rich {
			st = stAbsent
		}
		return binary.AppendUvarint([]byte{st}, uint64(l.until.Sub(now).Milliseconds()))
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

// release ends who's lease on key. With absent (the loader found no such key) the entry stays
// for negTTL and answers "absent" to the nodes still waiting, so they do not load in turn.
func (t *leaseTable) release(key, who string, absent bool, negTTL time.Duration, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if l, ok := t.leases[key]; ok && l.holder == who && !l.absent {
		if absent {
			t.leases[key] = lease{until: now.Add(negTTL), absent: true}
		} else {
			delete(t.leases, key)
		}
	}
}

// negCache remembers keys that no peer held, and keys a loader reported absent at the origin,
// briefly, so a truly absent key does not cost a WAN round trip (or an origin request) on every
// read. Bounded; entries expire by time.
type negCache struct {
	mu sync.Mutex
	m  map[string]negEntry
}

// negEntry says until when no peer held a key, and until when the origin does not have it.
type negEntry struct{ peers, origin time.Time }

const maxNegative = 1 << 16

func (c *negCache) has(key string, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[key]
	return ok && now.Before(e.peers)
}

func (c *negCache) hasOrigin(key string, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[key]
	return ok && now.Before(e.origin)
}

func (c *negCache) add(key string, until time.Time) {
	c.update(key, func(e *negEntry) { e.peers = until })
}

func (c *negCache) addOrigin(key string, until time.Time) {
	c.update(key, func(e *negEntry) { e.origin = until })
}

func (c *negCache) update(key string, f func(*negEntry)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]negEntry{}
	}
	e, ok := c.m[key]
	if !ok && len(c.m) >= maxNegative {
		now := time.Now()
		for k, e := range c.m {
			if !now.Before(e.peers) && !now.Before(e.origin) {
				delete(c.m, k)
			}
		}
		if len(c.m) >= maxNegative {
			return
		}
	}
	f(&e)
	c.m[key] = e
}

// forget drops the memory that no peer held key (not the origin's answer).
func (c *negCache) forget(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.m[key]; ok {
		if e.origin.IsZero() {
			delete(c.m, key)
		} else {
			e.peers = time.Time{}
			c.m[key] = e
		}
	}
}

// healthy reports whether a member can serve: reachable, connected and not leaving or left.
func healthy(m *Member) bool {
	return m.Self || (m.Connected && m.Reachable && m.State != "leaving" && m.State != "left")
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

// mayLiveElsewhere reports whether a key absent here can plausibly be held by a peer: this node
// evicted it (eviction is local, other regions keep their copies) or is not warmed yet (not
// Ready: joining or restarted, anti-entropy still filling it). Every other miss is answered
// here at local speed: on a warmed node a key held anywhere arrived here by replication, and
// an expired key expired everywhere at the same moment. Asking peers on every miss made a
// miss-heavy workload a cluster-wide one (one peer round trip, ~0.4 ms of CPU, per miss).
func (n *Node) mayLiveElsewhere(key string) bool {
	return !n.Ready() || n.evicted.has(key)
}

// errStaleCopy: a peer's copy is older than what was deleted or expired here.
var errStaleCopy = errors.New("node: peer copy older than local state")

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
				if it, ok := n.storeFetched(&r.d); ok {
					n.remoteHits.Add(1)
					return it, true
				}
				// Older than what was deleted or expired here: a miss.
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
// returns what is now current. It reports false when that is nothing: a newer local delete,
// expiry or eviction stamp beats an older copy from a peer (which may not have the newer write
// yet, or rejected it), and an expired copy is no copy.
func (n *Node) storeFetched(d *crdt.Delta) (Item, bool) {
	e := &d.Entry
	nowMs := n.nowMs()
	n.clockMu.Lock()
	_, err := n.clock.Observe(e.Version.TS, nowMs)
	n.clockMu.Unlock()
	v, known := n.reps.valueOf(e)
	if !known || e.Expired(nowMs) {
		return Item{}, false // a writer the replica table has no room for: a miss
	}
	if err != nil {
		return n.itemOf(&v, e.Expiry), true
	}
	// Whether this node applied that very write. If it did and holds neither it nor a tombstone
	// stamped with it, it has since replaced or removed it and the tombstone that said so was
	// collected: the copy may be older than what this node's clients already read (found by
	// testnet seed 92: a node served its own superseded write back after the newer one
	// expired). That costs a miss for a register evicted here long ago; never a stale read.
	n.repl.mu.Lock()
	applied := n.repl.vec.Contains(e.Dot())
	n.repl.mu.Unlock()
	if evictedTS, ok := n.evicted.get(d.Key); ok && evictedTS == uint64(e.Version.TS) {
		// The very version this node evicted (evicted.go): taking it back is no stale read,
		// though the local tombstone that recorded the eviction may have been collected.
		applied = false
	}
	var cur lru.Current[value]
	put, exp := false, e.Expiry
	n.store.Do(d.Key, nowMs, func(c lru.Current[value]) lru.Update[value] {
		cur = c
		// ">=" on the floor: a local tombstone keeps only the timestamp, and an evicted
		// register fetched back carries exactly that timestamp. (A different write with the
		// same HLC timestamp is possible only within one millisecond and logical tick.)
		ts := uint64(e.Version.TS)
		put = !c.Exists && ts >= c.Floor && !(applied && ts > c.Floor)
		if n.flushedBefore(e) {
			put = false // written before a FLUSHALL applied here (a peer may not have it yet)
		} else if c.Exists {
			// LWW between registers; a counter merges with what is here.
			var mv value
			if mv, exp, put = n.mergeValue(&c, e); put {
				v = mv
			}
		}
		if put {
			n.trackTombstone(&c, &v)
			return lru.Update[value]{Action: lru.Put, Value: v, Expiry: exp}
		}
		return lru.Update[value]{Action: lru.Keep}
	})
	switch {
	case put:
		return n.itemOf(&v, exp), true
	case cur.Exists && !cur.Value.tombstone():
		return n.itemOf(&cur.Value, cur.Expiry), true
	}
	return Item{}, false
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
		if s := rendezvousScore(m.PeerID, key); s > bestScore || (s == bestScore && m.PeerID < best) {
			best, bestScore = m.PeerID, s
		}
	}
	return best
}

// rendezvousScore is peer's score for key in the owner choice. FNV-1a alone is not enough: keys
// that differ only in their last bytes (user:1, user:2) change only the low bits of the hash,
// so one peer would own them all; the murmur3 finalizer spreads every input bit over the score.
func rendezvousScore(peer, key string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(peer))
	h.Write([]byte{0})
	h.Write([]byte(key))
	x := h.Sum64()
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	x *= 0xc4ceb9fe1a85ec53
	x ^= x >> 33
	return x
}

// leaseAnswer is a lease owner's answer (see acquireLease).
type leaseAnswer struct {
	owner  string
	status byte          // stGranted, stHeld, stAbsent or stOwnerHit
	wait   time.Duration // stHeld, stAbsent: how long the answer holds
	item   Item          // stOwnerHit: the owner's register, now stored here
	err    error         // the owner could not be asked: load it yourself
}

// acquireLease asks key's owner for the right to load it. The owner answers stGranted (this
// node should load), stHeld with the time the current holder has left, stAbsent (a load just
// found no such key) with how long that answer holds, or stOwnerHit with its register, which is
// then kept here as a read-through result. An error (owner unreachable) means "load it
// yourself".
func (n *Node) acquireLease(ctx context.Context, key string) leaseAnswer {
	owner := n.leaseOwner(key)
	a := leaseAnswer{owner: owner, status: stGranted}
	ttl := n.cfg.LoadLeaseTTL
	var resp []byte
	if owner == n.PeerID() {
		resp = n.leases.acquire(key, owner, ttl, time.Now(), true)
	} else {
		req := binary.AppendUvarint(appendRequest(nil, opLease, key), uint64(ttl.Milliseconds()))
		req = append(req, leaseFlagRich)
		// Bounded: a black-holed owner must not hold the load up (then: load ourselves).
		cctx, cancel := context.WithTimeout(ctx, 4*n.cfg.ReadThroughTimeout)
		var err error
		resp, err = n.call(cctx, owner, req)
		cancel()
		if err != nil {
			a.err = err
			return a
		}
	}
	if len(resp) >= 1 && resp[0] == stOwnerHit {
		d, used, err := crdt.DecodeDelta(resp[1:], n.repl.lim)
		if err != nil || used != len(resp)-1 || d.Key != key || d.Entry.Tombstone() {
			n.repl.st.rejected.Add(1)
			a.err = errBadMessage
			return a
		}
		it, ok := n.storeFetched(&d)
		if !ok {
			// The owner's copy is older than what was deleted or expired here: load it.
			a.err = errStaleCopy
			return a
		}
		n.remoteHits.Add(1)
		a.status, a.item = stOwnerHit, it
		return a
	}
	if len(resp) < 2 {
		a.err = errBadMessage
		return a
	}
	ms, k := binary.Uvarint(resp[1:])
	if k <= 0 {
		a.err = errBadMessage
		return a
	}
	a.status, a.wait = resp[0], time.Duration(ms)*time.Millisecond
	return a
}

// releaseLease tells the owner the load is done (best effort: leases also expire); absent says
// the loader found no such key, which the owner then tells the nodes still waiting.
func (n *Node) releaseLease(key, owner string, absent bool) {
	if owner == n.PeerID() {
		n.leases.release(key, owner, absent, n.cfg.NegativeTTL, time.Now())
		return
	}
	req := appendRequest(nil, opRelease, key)
	if absent {
		req = append(req, 1)
	}
	n.goAsync(func() {
		ctx, cancel := n.stopCtx()
		defer cancel()
		ctx, cancel2 := context.WithTimeout(ctx, rpcDeadline)
		defer cancel2()
		n.call(ctx, owner, req)
	})
}

// findResult is how looking for a cold key in the cluster ended.
type findResult int

const (
	findArrived  findResult = iota // the value is here (a peer, the owner or gossip had it)
	findAbsent                     // the holder's loader found no such key
	findGranted                    // the lease is ours: load (and release on failure)
	findLoadSelf                   // no value, no lease and no news: load without a lease
)

// findPoll is how often a node waiting for another node's load asks its peers for the value
// and the owner for news; findTick how often it looks at its own store (gossip).
const (
	findPoll = 50 * time.Millisecond
	findTick = 2 * time.Millisecond
)

// findOrLease looks for a locally missing key in the cluster and decides who loads it. It
// reads through to the nearest peers and, at the same time, asks the key's lease owner, which
// answers with the value if it holds it. The first value found wins. A granted lease means
// load now (without waiting for slower peers: a duplicate load is cheaper than a stall). While
// another node holds the lease, the key is watched in the local store (gossip) and, every
// findPoll, asked of the peers and of the owner again, all off this goroutine so the value is
// seen as soon as it arrives: a holder whose load failed released the lease, which then goes
// to one waiter; a holder that found nothing left "absent". The wait lasts the holder's
// remaining lease plus a read-through, extended while another live holder has the lease, but
// never beyond twice the lease TTL; then (or if the owner cannot be asked) it returns
// findLoadSelf.
func (n *Node) findOrLease(ctx context.Context, key string) (Item, findResult, string) {
	type rtAnswer struct {
		it Item
		ok bool
	}
	rtc := make(chan rtAnswer, 1)
	lc := make(chan leaseAnswer, 1)
	rtBusy, leaseBusy := false, false
	startRT := func() {
		if rtBusy || !n.ReadThroughCandidate(key) {
			return
		}
		rtBusy = n.goAsync(func() {
			it, ok := n.readThrough(ctx, key)
			rtc <- rtAnswer{it, ok}
		})
	}
	startLease := func() {
		if !leaseBusy {
			leaseBusy = n.goAsync(func() { lc <- n.acquireLease(ctx, key) })
		}
	}
	defer func() {
		if leaseBusy {
			// A lease granted after we stopped caring must not block others until it expires.
			n.goAsync(func() {
				if a := <-lc; a.err == nil && a.status == stGranted {
					n.releaseLease(key, a.owner, false)
				}
			})
		}
	}()
	start := time.Now()
	limit := start.Add(2*n.cfg.LoadLeaseTTL + n.cfg.ReadThroughTimeout)
	var deadline time.Time // set once the owner said another node holds the lease
	lastPoll := start
	ownerDown := false
	startRT()
	startLease()
	if !leaseBusy { // closing
		return Item{}, findLoadSelf, ""
	}
	t := time.NewTicker(findTick)
	defer t.Stop()
	for {
		if it, ok, err := n.Peek(ctx, key); err == nil && ok {
			return it, findArrived, ""
		}
		select {
		case a := <-rtc:
			rtBusy = false
			if a.ok {
				return a.it, findArrived, ""
			}
		case a := <-lc:
			leaseBusy = false
			switch {
			case a.err != nil:
				// Unreachable owner: before waiting on anyone, load ourselves (once the
				// read-through in flight has missed); while waiting, keep waiting.
				ownerDown = deadline.IsZero()
			case a.status == stOwnerHit:
				return a.item, findArrived, ""
			case a.status == stGranted:
				return Item{}, findGranted, a.owner
			case a.status == stAbsent:
				return Item{}, findAbsent, ""
			case a.status == stHeld:
				if d := time.Now().Add(a.wait + n.cfg.ReadThroughTimeout); d.After(deadline) {
					deadline = d
				}
			}
		case <-ctx.Done():
			return Item{}, findLoadSelf, ""
		case <-t.C:
		}
		now := time.Now()
		switch {
		case ownerDown && !rtBusy:
			return Item{}, findLoadSelf, ""
		case deadline.IsZero():
			// Still waiting for the owner's first answer.
		case now.After(deadline) || now.After(limit):
			return Item{}, findLoadSelf, ""
		case now.Sub(lastPoll) >= findPoll:
			lastPoll = now
			if !rtBusy {
				n.neg.forget(key)
				startRT()
			}
			startLease()
		}
	}
}
