package lru

import (
	"hash/maphash"
	"sync/atomic"
	"unsafe"
)

// Store is a sharded, byte-bounded LRU store with per-entry expiry and local tombstones.
// All methods are safe for concurrent use. See the package documentation for the model.
type Store[K comparable, V any, S any] struct {
	shards    []shard[K, V, S]
	shift     uint // shard = hash >> shift
	seed      maphash.Seed
	strKey    bool // K's underlying type is string: hash it without reflection
	size      func(K, V) int
	stamp     func(V) uint64
	warmValue func(*V) uint64
	keyAt     func(*V) (at, n uintptr) // Options.KeyAt
	onRemove  func(K, V, Reason)

	maxBytes atomic.Int64  // Options.MaxBytes, changed by SetMaxBytes (bound.go)
	over     atomic.Int64  // bytes of shards above their shares (borrow.go)
	floor    atomic.Uint64 // raised when tombstones are dropped for lack of room
	expNext  atomic.Uint32 // next shard for ExpireTick
}

// removal is an eviction or expiration whose callback runs after the lock is released.
type removal[K comparable, V any] struct {
	key    K
	value  V
	reason Reason
}

// IsExpired reports whether an entry with the given expiry (unix ms, 0 = none) is expired at
// now: an entry is live while now < expiry. A negative expiry is always expired.
func IsExpired(expiry, now int64) bool {
	return expiry != 0 && (now >= expiry || expiry < 0)
}

func (c *Store[K, V, S]) hash(key K) uint64 {
	if c.strKey {
		return maphash.String(c.seed, *(*string)(unsafe.Pointer(&key)))
	}
	return maphash.Comparable(c.seed, key)
}

func (c *Store[K, V, S]) shardOf(h uint64) *shard[K, V, S] {
	return &c.shards[h>>c.shift]
}

// cost is what an entry is charged against MaxBytes.
func (c *Store[K, V, S]) cost(key K, value V) int64 {
	if c.size == nil {
		return EntryOverhead
	}
	return int64(max(c.size(key, value), 0)) + EntryOverhead
}

func (c *Store[K, V, S]) notify(rm []removal[K, V]) {
	for _, r := range rm {
		c.onRemove(r.key, r.value, r.reason)
	}
}

// collector returns where removals should be collected: nil when nobody listens.
func (c *Store[K, V, S]) collector(buf *[]removal[K, V]) *[]removal[K, V] {
	if c.onRemove == nil {
		return nil
	}
	return buf
}

// Get returns the value and expiry of key and marks it recently used. It counts a hit or a
// miss. An expired entry is never returned: it is removed (leaving a tombstone, calling
// OnRemove with Expired) and Get reports a miss.
//
// Get holds only its shard's read lock and does not reorder anything: it stamps the entry with
// the current generation (a write only when the stamp changes), and eviction later puts
// entries in order by stamp. See the package documentation for the resolution of that order.
func (c *Store[K, V, S]) Get(key K, now int64) (value V, expiry int64, ok bool) {
	h := c.hash(key)
	s := c.shardOf(h)
	s.mu.RLock()
	l := s.find(h, key)
	if l == 0 {
		s.misses.Add(1)
		s.mu.RUnlock()
		return value, 0, false
	}
	e := s.at(l - 1)
	meta := atomic.LoadUint64(&e.meta)
	expiry = int64(meta & expiryMask)
	if IsExpired(expiry, now) {
		s.misses.Add(1)
		s.mu.RUnlock()
		c.expireKey(s, h, key, now)
		return value, 0, false
	}
	value = e.value
	s.touch(e, meta)
	s.hits.Add(1)
	s.mu.RUnlock()
	return value, expiry, true
}

// expireKey removes key if it is (still) expired.
func (c *Store[K, V, S]) expireKey(s *shard[K, V, S], h uint64, key K, now int64) {
	var buf []removal[K, V]
	rm := c.collector(&buf)
	s.mu.Lock()
	if l := s.find(h, key); l != 0 {
		if e := s.at(l - 1); IsExpired(e.expiry(), now) {
			s.drop(c, l, e, h, Expired, rm)
		}
	}
	s.mu.Unlock()
	c.notify(buf)
}

// Peek returns the value and expiry of key without touching the LRU order or the hit and miss
// counts. An expired entry is reported absent (and left for Get, Apply or ExpireTick to
// reclaim).
func (c *Store[K, V, S]) Peek(key K, now int64) (value V, expiry int64, ok bool) {
	h := c.hash(key)
	s := c.shardOf(h)
	s.mu.RLock()
	if l := s.find(h, key); l != 0 {
		e := s.at(l - 1)
		meta := atomic.LoadUint64(&e.meta)
		if exp := int64(meta & expiryMask); !IsExpired(exp, now) {
			value, expiry, ok = e.value, exp, true
		}
	}
	s.mu.RUnlock()
	return value, expiry, ok
}

// Set inserts or replaces key with value and an absolute expiry (unix ms, 0 = none; later than
// MaxExpiry is stored as MaxExpiry), marks it recently used and evicts least recently used
// entries of its shard as needed. Inserting a key removes its local tombstone. A replaced
// value is not reported to OnRemove. A value that is already expired at now, or too large for
// its shard, is not stored: any old value is dropped and the new one is reported as Expired or
// Evicted (with a tombstone), as if stored and removed at once.
func (c *Store[K, V, S]) Set(key K, value V, expiry int64, now int64) {
	h := c.hash(key)
	cost := c.cost(key, value)
	s := c.shardOf(h)
	var buf []removal[K, V]
	rm := c.collector(&buf)
	s.mu.Lock()
	s.set(c, h, key, value, expiry, cost, now, rm)
	s.mu.Unlock()
	c.notify(buf)
}

// set is Set under the shard's write lock.
func (s *shard[K, V, S]) set(c *Store[K, V, S], h uint64, key K, value V, expiry, cost, now int64, rm *[]removal[K, V]) {
	s.setAt(c, h, key, s.find(h, key), value, expiry, cost, now, rm)
}

// setAt is set for a caller that already looked key up under the same hold of the lock: l is
// its link (0: absent). Apply's lookup serves its write, which otherwise looked the key up
// twice (a receiver's second largest lookup cost under a write flood).
func (s *shard[K, V, S]) setAt(c *Store[K, V, S], h uint64, key K, l uint32, value V, expiry, cost, now int64, rm *[]removal[K, V]) {
	expired := IsExpired(expiry, now)
	if expired || !s.fits(c, cost) {
		if l != 0 {
			e := s.at(l - 1)
			key = s.key(e) // the cache's own copy for OnRemove (ApplyBatchOwn's may be borrowed)
			s.charge(c, c.cost(s.key(e), e.value), 0)
			s.remove(l, e, h)
		}
		reason := Evicted
		if expired {
			reason = Expired
			s.expirations++
		} else {
			s.evictions++
		}
		if c.stamp != nil {
			s.addTomb(c, h, c.stamp(value))
		}
		if rm != nil {
			*rm = append(*rm, removal[K, V]{key, value, reason})
		}
		return
	}
	if l != 0 {
		e := s.at(l - 1)
		s.charge(c, c.cost(s.key(e), e.value), cost)
		if had := e.meta&expiryMask != 0; had != (expiry != 0) {
			if had {
				s.nttl.Add(-1)
			} else {
				s.nttl.Add(1)
			}
		}
		s.replace(e, key, value)
		s.restamp(e, expiry)
	} else {
		if len(s.tomb) > 0 {
			delete(s.tomb, h)
		}
		l = s.insert(c, h, key, value, expiry)
		s.charge(c, 0, cost)
	}
	s.evict(c, l, rm)
}

// evict removes least recently used entries other than keep (the entry just written, which
// fits alone) until the shard is within its bounds.
func (s *shard[K, V, S]) evict(c *Store[K, V, S], keep uint32, rm *[]removal[K, V]) {
	for s.n > s.maxEntries || s.tooBig(c) {
		l := s.victim(keep)
		if l == 0 {
			return
		}
		e := s.at(l - 1)
		s.drop(c, l, e, c.hash(s.key(e)), Evicted, rm)
	}
}

// drop evicts or expires entry l: tombstone, accounting, callback, removal.
func (s *shard[K, V, S]) drop(c *Store[K, V, S], l uint32, e *entry[K, V, S], h uint64, reason Reason, rm *[]removal[K, V]) {
	if c.stamp != nil {
		s.addTomb(c, h, c.stamp(e.value))
	}
	s.charge(c, c.cost(s.key(e), e.value), 0)
	if reason == Expired {
		s.expirations++
	} else {
		s.evictions++
	}
	if rm != nil {
		*rm = append(*rm, removal[K, V]{s.key(e), e.value, reason})
	}
	s.remove(l, e, h)
}

// Remove deletes key without leaving a tombstone and without calling OnRemove. It reports
// whether an entry (live or expired) was present.
func (c *Store[K, V, S]) Remove(key K) bool {
	h := c.hash(key)
	s := c.shardOf(h)
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.find(h, key)
	if l == 0 {
		return false
	}
	e := s.at(l - 1)
	s.charge(c, c.cost(s.key(e), e.value), 0)
	s.remove(l, e, h)
	return true
}

// Touch marks key recently used and reports whether it is present and not expired. An
// expired entry is reclaimed as in Get. It does not count as a hit or miss.
func (c *Store[K, V, S]) Touch(key K, now int64) bool {
	h := c.hash(key)
	s := c.shardOf(h)
	s.mu.RLock()
	l := s.find(h, key)
	if l == 0 {
		s.mu.RUnlock()
		return false
	}
	e := s.at(l - 1)
	meta := atomic.LoadUint64(&e.meta)
	if IsExpired(int64(meta&expiryMask), now) {
		s.mu.RUnlock()
		c.expireKey(s, h, key, now)
		return false
	}
	s.touch(e, meta)
	s.mu.RUnlock()
	return true
}

// Len returns the number of entries, including expired ones not yet reclaimed.
func (c *Store[K, V, S]) Len() int {
	n := int64(0)
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.RLock()
		n += s.n
		s.mu.RUnlock()
	}
	return int(n)
}

// Bytes returns the bytes charged for all entries: Size(key, value) + EntryOverhead each
// (EntryOverhead alone when Size is nil).
func (c *Store[K, V, S]) Bytes() int64 {
	n := int64(0)
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.RLock()
		n += s.bytes
		s.mu.RUnlock()
	}
	return n
}

// Stats are cumulative counters and current sizes.
type Stats struct {
	Hits              uint64 // Get found a live entry
	Misses            uint64 // Get found nothing, or an expired entry
	Evictions         uint64 // entries removed to stay within bounds
	Expirations       uint64 // entries reclaimed because they expired
	Entries           uint64 // current entries (expired ones included until reclaimed)
	Tombstones        uint64 // current local tombstones
	TombstonesDropped uint64 // tombstones dropped because the bound was reached
	Bytes             int64  // current charged bytes, as Bytes()
	Floor             uint64 // current tombstone floor, as Floor()
	Expiring          uint64 // current entries with an expiry (expired ones included until reclaimed)

	TombstonesCollected uint64 // tombstones removed by CollectTombstones
}

// Stats returns a snapshot of the counters, summed shard by shard.
func (c *Store[K, V, S]) Stats() Stats { return c.stats(true) }

// stats sums the shards' counters, taking each shard's read lock when lock is set (a Locked
// holding every shard passes false).
func (c *Store[K, V, S]) stats(lock bool) Stats {
	var st Stats
	for i := range c.shards {
		s := &c.shards[i]
		if lock {
			s.mu.RLock()
		}
		st.Evictions += s.evictions
		st.Expirations += s.expirations
		st.Entries += uint64(s.n)
		st.Tombstones += uint64(len(s.tomb))
		st.TombstonesDropped += s.tombDropped
		st.TombstonesCollected += s.tombCollected
		st.Bytes += s.bytes
		if lock {
			s.mu.RUnlock()
		}
		st.Expiring += uint64(max(s.nttl.Load(), 0))
		st.Hits += s.hits.Load()
		st.Misses += s.misses.Load()
	}
	st.Floor = c.floor.Load()
	return st
}

// Shards returns the number of shards (the high half of a Scan cursor ranges below it).
func (c *Store[K, V, S]) Shards() int { return len(c.shards) }
