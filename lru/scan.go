package lru

import "sync/atomic"

// Iteration walks slab slots in order, shard by shard. Entries never move between slots while
// they live (the slab only grows, and removal frees a slot in place), so a slot cursor visits
// every entry present for the whole iteration exactly once, whatever else is inserted or
// removed meanwhile. Callbacks run after the shard lock is released, on copied entries.

// scanWorkFactor bounds the slots Scan examines per entry it may return, like Redis's SCAN
// which visits at most 10×COUNT empty buckets.
const scanWorkFactor = 10

// rangeChunk is how many slots Range copies per read-lock hold.
const rangeChunk = 256

type item[K comparable, V any] struct {
	key    K
	value  V
	expiry int64
}

// Scan is a Redis-like cursor iteration. Start with cursor 0 and pass each returned cursor to
// the next call; a returned 0 means the iteration is complete. Every entry present for the
// whole iteration is reported at least once (here: exactly once); entries inserted or removed
// meanwhile may or may not be; expired entries are skipped. Each call reports up to count
// entries (10 if count <= 0), examines at most 10×count slots, and calls fn after releasing
// the shard lock. An unknown cursor ends the iteration (returns 0 without calling fn).
//
// A cursor is the shard number in the high 32 bits and the slot in the low 32 bits.
func (c *Store[K, V, S]) Scan(cursor uint64, count int, now int64, fn func(key K, value V, expiry int64)) (next uint64) {
	return c.scan(cursor, count, now, fn, true)
}

// scan is Scan, taking each shard's read lock when lock is set (a Locked holding every shard
// passes false).
func (c *Store[K, V, S]) scan(cursor uint64, count int, now int64, fn func(key K, value V, expiry int64), lock bool) (next uint64) {
	if count <= 0 {
		count = 10
	}
	si, slot := cursor>>32, uint32(cursor)
	if si >= uint64(len(c.shards)) {
		return 0
	}
	work := count * scanWorkFactor
	items := make([]item[K, V], 0, min(count, 1024))
	for si < uint64(len(c.shards)) && len(items) < count && work > 0 {
		s := &c.shards[si]
		if lock {
			s.mu.RLock()
		}
		for ; slot < s.used && len(items) < count && work > 0; slot++ {
			work--
			e := s.at(slot)
			if exp := int64(atomic.LoadUint64(&e.meta) & expiryMask); e.live() && !IsExpired(exp, now) {
				items = append(items, item[K, V]{s.key(e), e.value, exp})
			}
		}
		end := slot >= s.used
		if lock {
			s.mu.RUnlock()
		}
		if end {
			si, slot = si+1, 0
		}
	}
	for _, it := range items {
		fn(it.key, it.value, it.expiry)
	}
	if si >= uint64(len(c.shards)) {
		return 0
	}
	return si<<32 | uint64(slot)
}

// Range calls fn for every live, unexpired entry until fn returns false. It copies up to 256
// slots' entries under a shard's read lock, releases it and then calls fn, so fn may call the
// cache and sees each entry as it was when its chunk was copied. Entries present for the whole
// call are visited exactly once.
func (c *Store[K, V, S]) Range(now int64, fn func(key K, value V, expiry int64) bool) {
	items := make([]item[K, V], 0, rangeChunk)
	for si := range c.shards {
		s := &c.shards[si]
		for slot := uint32(0); ; {
			items = items[:0]
			s.mu.RLock()
			end := min(s.used, slot+rangeChunk)
			for ; slot < end; slot++ {
				e := s.at(slot)
				if exp := int64(atomic.LoadUint64(&e.meta) & expiryMask); e.live() && !IsExpired(exp, now) {
					items = append(items, item[K, V]{s.key(e), e.value, exp})
				}
			}
			more := slot < s.used
			s.mu.RUnlock()
			for _, it := range items {
				if !fn(it.key, it.value, it.expiry) {
					return
				}
			}
			if !more {
				break
			}
		}
	}
}
