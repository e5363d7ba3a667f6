package node

import (
	"math/rand/v2"
	"time"
)

// KeyspaceInfo is the keyspace summary Redis's INFO keyspace reports for a database.
type KeyspaceInfo struct {
	Keys    int           // live keys (Len)
	Expires int           // live keys with an expiry, expired ones not yet reclaimed included, as Redis counts them
	AvgTTL  time.Duration // estimated from a sample of keys with an expiry; 0 when there are none
}

// avgTTLSample bounds the keys KeyspaceInfo reads to estimate the average TTL: INFO may be
// polled often, and Redis's own figure is an estimate from its expiry sampling too.
const avgTTLSample = 128

// KeyspaceInfo summarises the keyspace for INFO keyspace. It costs one pass over the shards'
// counters and a bounded sample, never a walk of the whole store.
func (n *Node) KeyspaceInfo() KeyspaceInfo {
	st := n.store.Stats()
	keys := n.Len()
	// Delete tombstones are entries with an expiry (TombstoneTTL) that Len does not count.
	exp := int(st.Expiring) - int(n.tombEntries.Load())
	out := KeyspaceInfo{Keys: keys, Expires: min(max(exp, 0), keys)}
	if out.Expires == 0 {
		return out
	}
	nowMs := n.nowMs()
	var sum, count int64
	seen := make(map[string]bool, avgTTLSample) // a wrapped-around scan may report a key twice
	// Start in a random shard so that repeated calls do not sample the same keys, and wrap
	// around once.
	start := uint64(rand.IntN(n.store.Shards())) << 32
	cursor, wrapped := start, false
	for range 4 * n.store.Shards() {
		cursor = n.store.Scan(cursor, avgTTLSample, nowMs, func(k string, v value, expiry int64) {
			if expiry > nowMs && !v.tombstone() && count < avgTTLSample && !seen[k] {
				seen[k] = true
				sum += expiry - nowMs
				count++
			}
		})
		if count >= avgTTLSample {
			break
		}
		if cursor == 0 {
			if wrapped || start == 0 {
				break
			}
			wrapped = true
		}
		if wrapped && cursor >= start {
			break
		}
	}
	if count > 0 {
		out.AvgTTL = time.Duration(sum/count) * time.Millisecond
	}
	return out
}
