package lru

import (
	"slices"
	"unsafe"
)

// prefetchMax is how many keys one Prefetch call loads.
const prefetchMax = 64

// Prefetch loads into the processor's caches what looking up keys will read — each key's
// bucket head, the entry it names and the next one in the chain, and the first byte of their
// keys — and changes nothing. A lookup in a large cache costs a few dependent cache misses;
// lookups one after another pay them one after another, but the loads of different keys do
// not depend on each other, so made in passes (every head, then every entry) their misses
// overlap. It is for callers about to look up a batch of keys one by one (a pipelined batch of
// GETs and SETs): the lookups that follow find their lines cached. It takes the keys' shards'
// read locks together, in shard order, and only the first prefetchMax keys count. It returns
// a value derived from what it read, so that the compiler keeps the loads.
func (c *Cache[K, V]) Prefetch(keys []K) uint64 {
	var (
		hs     [prefetchMax]uint64
		shards [prefetchMax]uint32
		links  [prefetchMax]uint32
	)
	keys = keys[:min(len(keys), prefetchMax)]
	for i, k := range keys {
		hs[i] = c.hash(k)
		shards[i] = uint32(hs[i] >> c.shift)
	}
	held := shards[:len(keys)]
	slices.Sort(held)
	held = slices.Compact(held)
	for _, si := range held {
		c.shards[si].mu.RLock()
	}
	for i := range keys {
		s := c.shardOf(hs[i])
		if len(s.heads) != 0 {
			links[i] = *s.head(s.bucket(hs[i]))
		}
	}
	var sum uint64
	for range 2 {
		for i := range keys {
			l := links[i]
			if l == 0 {
				continue
			}
			e := c.shardOf(hs[i]).at(l - 1)
			if c.strKey {
				if k := *(*string)(unsafe.Pointer(&e.key)); len(k) > 0 {
					sum += uint64(k[0])
				}
			}
			links[i] = e.hnext()
		}
	}
	for _, si := range held {
		c.shards[si].mu.RUnlock()
	}
	return sum
}
