package node

import (
	"bytes"
	"sync"

	"github.com/geocache/geocache/crdt"
	"github.com/geocache/geocache/lru"
)

// Removed element writes of hashes, sets and sorted sets are collected like key tombstones:
// once causally stable, and bounded.
//
// A write or merge compacts its collection at the stable time of the last janitor pass, but a
// collection that goes quiet after removes would keep them until its next write. So every
// collection left holding removed writes is queued (coll.queued keeps it there once), and each
// janitor pass whose stable time advanced compacts a bounded batch of them through the store,
// which refreshes the charge the LRU holds for them. Those still holding removed writes newer
// than the stable time are queued again.
//
// While stability is held back (a member silent but within the grace horizon, or a peer whose
// writes arrive with a gap), each collection caps its removed writes at elemTombCap or its
// element count, whichever is larger, so a hot element removed or rewritten in a loop cannot
// grow a collection without bound; past the cap the oldest are dropped and the collection's
// floor raised (crdt/tombs.go has the rule and its price). A raised floor is shipped to peers
// with the whole collection (shipFloors), so every replica takes the same outcome.

// elemTombCap is the smallest cap of removed writes per collection (16 bytes of dot and a
// little map overhead each: about 40 KiB). Larger collections may hold one per element.
const elemTombCap = 1024

// tombQueue is the janitor's queue of keys whose collections hold removed writes.
type tombQueue struct {
	mu   sync.Mutex
	keys []string
}

func (q *tombQueue) add(key string) {
	q.mu.Lock()
	q.keys = append(q.keys, key)
	q.mu.Unlock()
}

// take removes and returns up to limit keys, oldest first.
func (q *tombQueue) take(limit int) []string {
	q.mu.Lock()
	defer q.mu.Unlock()
	k := min(limit, len(q.keys))
	out := append([]string(nil), q.keys[:k]...)
	rest := copy(q.keys, q.keys[k:])
	clear(q.keys[rest:])
	q.keys = q.keys[:rest]
	return out
}

func (q *tombQueue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.keys)
}

// collectColls compacts up to budget queued collections at stable time st (a janitor pass).
func (n *Node) collectColls(st crdt.Timestamp, nowMs int64, budget int) {
	for _, key := range n.tombColls.take(budget) {
		n.applyQueued(key, nowMs, func(c *coll) *bool { return &c.queued }, func(cur lru.Current[value], c *coll) lru.Update[value] {
			before, raised := c.tombstones(), c.floorRaised
			c.compact(st)
			if c.tombstones() == before && c.floorRaised == raised && c.size() == c.bytes {
				// Nothing collected (a write since compacted it, or none is stable yet): the
				// value and its charge stand, so the store is not written (a new value and
				// an update per visit, on every node, of each collection a write queued).
				if before > 0 {
					c.queued = true
					n.tombColls.add(key)
				}
				return lru.Update[value]{Action: lru.Keep}
			}
			// Same version and expiry: only the removed writes and the charge change (an empty
			// collection keeps its tombstone's lifetime, not a fresh one).
			v, _ := n.collValue(key, c, cur.Value.ver(n.reps), cur.Value.seq(), nowMs)
			return lru.Update[value]{Action: lru.Put, Value: v, Expiry: cur.Expiry}
		})
	}
}

// applyQueued runs fn, under the collection's lock, on key's collection if the janitor queue's
// flag (queued) is still set on it, clearing the flag; a key gone, no longer a collection, or a
// later incarnation that was queued anew is kept as it is.
func (n *Node) applyQueued(key string, nowMs int64, queued func(*coll) *bool, fn func(cur lru.Current[value], c *coll) lru.Update[value]) {
	n.store.Apply(key, nowMs, func(cur lru.Current[value]) lru.Update[value] {
		c := cur.Value.obj()
		if !cur.Exists || c == nil {
			return lru.Update[value]{Action: lru.Keep}
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		q := queued(c)
		if !*q {
			return lru.Update[value]{Action: lru.Keep} // a later incarnation, queued anew
		}
		*q = false
		return fn(cur, c)
	})
}

// floorShipBudget bounds the collections one janitor pass ships whole (shipFloors); the rest
// stay queued for the next pass.
const floorShipBudget = 256

// shipFloors ships whole, as new local writes, up to budget queued collections whose floor the
// removed-writes cap raised (crdt/tombs.go). Element deltas carry no floor, so without this a
// late concurrent element write stamped below the raised floor would count as removed here and
// stay in the region that wrote it forever. A full state carries the floor, and a peer's join
// drops its dots below it that this state does not hold, so every replica takes the same
// (remove-wins) outcome for such a write. Each part is a write with a dot of its own: the
// replicator skips a collection delta whose dot the receiver holds, and the delta log and
// anti-entropy deliver it after a heal like any write. The cost is bounded: the cap raises a
// floor at most once per eighth of the cap of removes, and a pass ships a key once however
// often it was raised since.
func (n *Node) shipFloors(nowMs int64, budget int) {
	for _, key := range n.floorColls.take(budget) {
		var out []crdt.Entry
		n.applyQueued(key, nowMs, func(c *coll) *bool { return &c.floorQueued }, func(cur lru.Current[value], c *coll) lru.Update[value] {
			if !c.full() {
				return lru.Update[value]{Action: lru.Keep} // queued again once complete (collValue)
			}
			c.floorRaised = false
			var parts [][]byte
			if c.appendParts(collPartBytes, func(b []byte) error {
				parts = append(parts, bytes.Clone(b))
				return nil
			}) != nil {
				return lru.Update[value]{Action: lru.Keep}
			}
			ver, seq := cur.Value.ver(n.reps), cur.Value.seq()
			for _, p := range parts {
				ver, seq = n.stamp(nowMs, ver.TS)
				out = append(out, crdt.Entry{Type: c.typ, Value: p, Version: ver, Seq: seq})
			}
			v, exp := n.collValue(key, c, ver, seq, nowMs)
			for i := range out {
				out[i].Expiry = exp
			}
			n.trackTombstone(&cur, &v)
			return lru.Update[value]{Action: lru.Put, Value: v, Expiry: exp}
		})
		for _, e := range out {
			n.emit(key, e)
		}
	}
}
