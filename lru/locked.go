package lru

import (
	"math/bits"
	"slices"
	"sync/atomic"
)

// Locked is a set of shards held under their write locks, for operations that must be atomic
// across keys (transactions): no other operation on a held shard interleaves with them, so
// other goroutines see either none or all of what is done through a Locked. Get it from Lock,
// use it from one goroutine, and call Unlock exactly once.
//
// Locks are taken in shard order, so two Locked never deadlock each other (nor ApplyBatch and
// Warm, which take theirs in the same order), and every other operation of the cache holds at
// most one shard lock at a time. Operations through a Locked
// must name a key of a held shard (Holds); others panic, as would a deadlock.
type Locked[K comparable, V any, S any] struct {
	c    *Store[K, V, S]
	all  bool
	held []uint32 // shard indexes, ascending, when !all
	rm   []removal[K, V]
	done bool
}

// Lock takes the write locks of the shards holding keys, or of every shard when all is set,
// in shard order. Callers should keep the hold short: readers of those shards wait for it.
func (c *Store[K, V, S]) Lock(keys []K, all bool) *Locked[K, V, S] {
	l := &Locked[K, V, S]{c: c, all: all}
	if all {
		for i := range c.shards {
			c.shards[i].mu.Lock()
		}
		return l
	}
	l.held = c.sortedShards(keys, nil, make([]uint32, 0, len(keys)))
	c.lockShards(l.held, true)
	return l
}

// bitsetShards is the most shards sortedShards orders with a bitset (on the stack) rather than
// a sort: the automatic shard count is at most 1024.
const bitsetShards = 1024

// sortedShards stores keys[i]'s hash in hs[i] (unless hs is nil) and returns the distinct
// shards holding keys, in shard order, in held[:0]: every caller that locks several shards
// takes them in this order, so that two of them can never wait for each other.
func (c *Store[K, V, S]) sortedShards(keys []K, hs []uint64, held []uint32) []uint32 {
	held = held[:0]
	if len(c.shards) <= bitsetShards {
		// A bitset of the shards, read in order: sorting the indices instead was 5 % of a
		// receiver's CPU under a write flood (a sort per 64-key batch, on every apply).
		var set [bitsetShards / 64]uint64
		for i, k := range keys {
			h := c.hash(k)
			if hs != nil {
				hs[i] = h
			}
			s := uint32(h >> c.shift)
			set[s/64] |= 1 << (s % 64)
		}
		for w, b := range set[:(len(c.shards)+63)/64] {
			for b != 0 {
				held = append(held, uint32(w*64+bits.TrailingZeros64(b)))
				b &= b - 1
			}
		}
		return held
	}
	for i, k := range keys {
		h := c.hash(k)
		if hs != nil {
			hs[i] = h
		}
		held = append(held, uint32(h>>c.shift))
	}
	slices.Sort(held)
	return slices.Compact(held)
}

// lockShards takes the locks of shards (from sortedShards), for writing or for reading.
func (c *Store[K, V, S]) lockShards(shards []uint32, write bool) {
	for _, i := range shards {
		if write {
			c.shards[i].mu.Lock()
		} else {
			c.shards[i].mu.RLock()
		}
	}
}

// unlockShards releases what lockShards took.
func (c *Store[K, V, S]) unlockShards(shards []uint32, write bool) {
	for _, i := range shards {
		if write {
			c.shards[i].mu.Unlock()
		} else {
			c.shards[i].mu.RUnlock()
		}
	}
}

// Unlock releases the locks and then reports the evictions and expirations made meanwhile to
// OnRemove. It panics if called twice.
func (l *Locked[K, V, S]) Unlock() {
	if l.done {
		panic("lru: Locked.Unlock called twice")
	}
	l.done = true
	if l.all {
		for i := range l.c.shards {
			l.c.shards[i].mu.Unlock()
		}
	} else {
		l.c.unlockShards(l.held, true)
	}
	rm := l.rm
	l.rm = nil
	l.c.notify(rm)
}

// Holds reports whether key's shard is held.
func (l *Locked[K, V, S]) Holds(key K) bool {
	if l.all {
		return true
	}
	_, ok := slices.BinarySearch(l.held, uint32(l.c.hash(key)>>l.c.shift))
	return ok
}

// shard returns key's hash and held shard, panicking if it is not held.
func (l *Locked[K, V, S]) shard(key K) (uint64, *shard[K, V, S]) {
	if l.done {
		panic("lru: Locked used after Unlock")
	}
	h := l.c.hash(key)
	if !l.all {
		if _, ok := slices.BinarySearch(l.held, uint32(h>>l.c.shift)); !ok {
			panic("lru: key's shard is not held by this Locked")
		}
	}
	return h, l.c.shardOf(h)
}

// Apply is Cache.Apply on a held shard.
func (l *Locked[K, V, S]) Apply(key K, now int64, fn func(cur Current[V]) Update[V]) (cur Current[V], up Update[V]) {
	l.Do(key, now, func(c Current[V]) Update[V] {
		cur, up = c, fn(c)
		return up
	})
	return cur, up
}

// Do is Store.Do on a held shard.
func (l *Locked[K, V, S]) Do(key K, now int64, fn func(cur Current[V]) Update[V]) {
	h, s := l.shard(key)
	s.applyHeld(l.c, h, key, now, fn, nil, l.c.collector(&l.rm))
}

// Get is Cache.Get on a held shard: it counts a hit or a miss, marks a hit recently used and
// reclaims an expired entry.
func (l *Locked[K, V, S]) Get(key K, now int64) (value V, expiry int64, ok bool) {
	h, s := l.shard(key)
	li := s.find(h, key)
	if li == 0 {
		s.misses.Add(1)
		return value, 0, false
	}
	e := s.at(li - 1)
	meta := atomic.LoadUint64(&e.meta)
	if IsExpired(int64(meta&expiryMask), now) {
		s.misses.Add(1)
		s.drop(l.c, li, e, h, Expired, l.c.collector(&l.rm))
		return value, 0, false
	}
	s.touch(e, meta)
	s.hits.Add(1)
	return e.value, int64(meta & expiryMask), true
}

// Peek is Cache.Peek on a held shard.
func (l *Locked[K, V, S]) Peek(key K, now int64) (value V, expiry int64, ok bool) {
	h, s := l.shard(key)
	if li := s.find(h, key); li != 0 {
		e := s.at(li - 1)
		if exp := e.expiry(); !IsExpired(exp, now) {
			return e.value, exp, true
		}
	}
	return value, 0, false
}

// Touch is Cache.Touch on a held shard.
func (l *Locked[K, V, S]) Touch(key K, now int64) bool {
	h, s := l.shard(key)
	li := s.find(h, key)
	if li == 0 {
		return false
	}
	e := s.at(li - 1)
	meta := atomic.LoadUint64(&e.meta)
	if IsExpired(int64(meta&expiryMask), now) {
		s.drop(l.c, li, e, h, Expired, l.c.collector(&l.rm))
		return false
	}
	s.touch(e, meta)
	return true
}

// mustAll panics unless every shard is held: whole-cache reads would otherwise lock shards
// out of order.
func (l *Locked[K, V, S]) mustAll() {
	if l.done || !l.all {
		panic("lru: whole-cache operation needs a Locked holding every shard")
	}
}

// Len is Cache.Len; every shard must be held.
func (l *Locked[K, V, S]) Len() int {
	l.mustAll()
	n := int64(0)
	for i := range l.c.shards {
		n += l.c.shards[i].n
	}
	return int(n)
}

// Stats is Cache.Stats; every shard must be held.
func (l *Locked[K, V, S]) Stats() Stats {
	l.mustAll()
	return l.c.stats(false)
}

// Scan is Cache.Scan; every shard must be held. fn runs with the locks held and must not call
// the cache.
func (l *Locked[K, V, S]) Scan(cursor uint64, count int, now int64, fn func(key K, value V, expiry int64)) (next uint64) {
	l.mustAll()
	return l.c.scan(cursor, count, now, fn, false)
}
