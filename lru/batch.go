package lru

import "unsafe"

// batchMax is how many keys ApplyBatch handles under one acquisition of their shards' locks:
// enough for the loads of their lookups to overlap, few enough that readers of those shards
// wait no longer than a few tens of microseconds.
const batchMax = 64

// ApplyBatch is Apply for keys[0], keys[1], ... in that order: fn(i, cur) decides for keys[i]
// under the same rules as Apply's function (it must be fast and must not call the cache). It
// is for callers that apply many keys at once (a replica applying a peer's batch of writes).
//
// A lookup in a large cache costs a few cache and TLB misses (bucket head, entry, key bytes),
// and one Apply after another pays them one after another. ApplyBatch takes the write locks of
// the shards holding up to batchMax keys at once, in shard order (like Lock), first fetches
// every key's bucket head, then every head entry and its key bytes — prefetches whose misses
// are in flight together (warm) — and only then applies the keys one by one, from cache.
// OnRemove is called after the locks are released.
func (c *Store[K, V, S]) ApplyBatch(keys []K, now int64, fn func(i int, cur Current[V]) Update[V]) {
	c.ApplyBatchOwn(keys, now, nil, fn)
}

// ApplyBatchOwn is ApplyBatch for keys borrowed from a buffer the caller reuses: own(keys[i])
// must return a copy of keys[i] that the cache may keep, and is called only where a Put stores
// a key absent until then. A key present keeps the copy stored with it, so a caller applying
// writes to keys mostly present (a replica receiving a peer's writes) copies few keys. Neither
// keys nor anything else the cache is handed before own is kept; nil own is ApplyBatch. A
// store whose values carry their keys (NewStore) keeps no key and does not call own: the value
// fn puts must carry its key (Options.Own makes it, copying the borrowed key, when it does not).
func (c *Store[K, V, S]) ApplyBatchOwn(keys []K, now int64, own func(K) K, fn func(i int, cur Current[V]) Update[V]) {
	var (
		hs   [batchMax]uint64
		held [batchMax]uint32
		buf  []removal[K, V]
	)
	rm := c.collector(&buf)
	for base := 0; base < len(keys); base += batchMax {
		chunk := keys[base:min(base+batchMax, len(keys))]
		shards := c.sortedShards(chunk, hs[:], held[:])
		c.lockShards(shards, true)
		c.warm(chunk, hs[:len(chunk)])
		for i, k := range chunk {
			h := hs[i]
			c.shardOf(h).applyHeld(c, h, k, now, func(cur Current[V]) Update[V] { return fn(base+i, cur) }, own, rm)
		}
		c.unlockShards(shards, true)
	}
	c.notify(buf)
}

// Warm loads what looking up keys will read (bucket heads, entries, key bytes) into the
// processor's caches, with their cache misses overlapping, so that operations on keys soon
// after find them there: for a caller that knows the next few keys it will touch (a pipeline
// of commands). It takes the read locks of the keys' shards, in shard order, and changes
// nothing; keys beyond the first batchMax are ignored. keys are not retained.
func (c *Store[K, V, S]) Warm(keys []K) { c.warmKeys(keys, false) }

// WarmReads is Warm for keys about to be read: it also calls Options.WarmValue on the value of
// every key present, so that what reading the value touches beyond the entry is loaded too.
// Without WarmValue it is Warm.
func (c *Store[K, V, S]) WarmReads(keys []K) { c.warmKeys(keys, c.warmValue != nil) }

// warmKeys is Warm, and with values WarmReads.
func (c *Store[K, V, S]) warmKeys(keys []K, values bool) {
	var (
		hs   [batchMax]uint64
		held [batchMax]uint32
	)
	keys = keys[:min(len(keys), batchMax)]
	shards := c.sortedShards(keys, hs[:], held[:])
	c.lockShards(shards, false)
	c.warm(keys, hs[:len(keys)])
	if values {
		c.warmValues(keys, hs[:len(keys)])
	}
	c.unlockShards(shards, false)
}

// warmValues calls WarmValue on the value of every key present, after warm: the lookups then
// hit the caches, and the loads WarmValue makes for one key overlap those of the others.
//
//go:noinline
func (c *Store[K, V, S]) warmValues(keys []K, hs []uint64) uint64 {
	var sum uint64
	for i, k := range keys {
		s := c.shardOf(hs[i])
		if l := s.find(hs[i], k); l != 0 {
			sum += c.warmValue(&s.at(l - 1).value)
		}
	}
	return sum
}

// warm loads what looking up keys (hashes hs) will read, one pass per step of the lookup:
// every bucket head, then the entry each names, then the entry after it in the chain (a key
// is the head of its bucket about two times in three), with each entry whose hash tag matches
// the key's bytes when keys are strings. Each pass prefetches what the next reads, so the
// misses of all the keys are in flight together: loads instead (as before) kept only a few
// keys' misses in flight, the processor's window filling behind the oldest, and warm was still
// 15 % of a receiver's CPU under a write flood. The caller holds the keys' shard locks.
func (c *Store[K, V, S]) warm(keys []K, hs []uint64) {
	var links [batchMax]uint32
	// Keys behind a pointer (KeyAt): the key's number and its entry's link, once the pointer's
	// target is prefetched.
	var behind [batchMax][2]uint32
	nbehind := 0
	var last uintptr // the holder whose lines were prefetched last
	for i := range keys {
		if s := c.shardOf(hs[i]); len(s.heads) != 0 {
			prefetch(uintptr(unsafe.Pointer(s.head(s.bucket(hs[i])))))
		}
	}
	for i := range keys {
		if s := c.shardOf(hs[i]); len(s.heads) != 0 {
			if l := *s.head(s.bucket(hs[i])); l != 0 {
				links[i] = l
				prefetchEntry(s.at(l - 1))
			}
		}
	}
	for pass := range 2 {
		for i := range keys {
			l := links[i]
			if l == 0 {
				continue
			}
			s := c.shardOf(hs[i])
			e := s.at(l - 1)
			// The key's bytes only where find will compare them: a tag that differs rules the
			// entry out (for a missing key, every entry of its chain). A tag that matches ends
			// the walk: another key's 4-bit tag matches one time in 16, so this is almost
			// surely the key, where find stops. Following the chain past it as well (as
			// before) prefetched an entry find would not read, and the next pass loaded it: a
			// stall on most keys of a batch.
			if e.links&tagBits == tagOf(hs[i]) {
				if c.keyAt != nil {
					if a, n := c.keyAt(&e.value); a != 0 {
						// One key's lines once per batch (a batch of writes to one big
						// collection names the same holder 64 times).
						if a != last {
							prefetchSpan(a, n)
							last = a
						}
						behind[nbehind] = [2]uint32{uint32(i), l}
						nbehind++
						links[i] = 0
						continue
					}
				}
				if c.strKey {
					k := s.key(e)
					if k := *(*string)(unsafe.Pointer(&k)); len(k) > 0 {
						prefetch(uintptr(unsafe.Pointer(unsafe.StringData(k))))
					}
				}
				links[i] = 0
				continue
			}
			links[i] = e.hnext()
			if pass == 0 && links[i] != 0 {
				prefetchEntry(s.at(links[i] - 1))
			}
		}
	}
	// The bytes of the keys behind a pointer, which the passes above prefetched.
	if c.strKey {
		for _, b := range behind[:nbehind] {
			s := c.shardOf(hs[b[0]])
			k := s.key(s.at(b[1] - 1))
			if k := *(*string)(unsafe.Pointer(&k)); len(k) > 0 {
				prefetch(uintptr(unsafe.Pointer(unsafe.StringData(k))))
			}
		}
	}
}

// prefetchSpan prefetches the cache lines of the n bytes at a (at least a's line); at most
// spanMax bytes.
func prefetchSpan(a, n uintptr) {
	end := a + min(max(n, 1), spanMax)
	for p := a &^ 63; p < end; p += 64 {
		prefetch(p)
	}
}

// spanMax bounds what prefetchSpan loads of one holder: a few lines, not a large value.
const spanMax = 512

// prefetchEntry prefetches entry e, both of its cache lines when it straddles two: half the
// 48-byte slots of a store whose values carry their keys do (64-byte slots never), and a lookup
// reads the links at the end of the entry and the value (the key through it) at its start.
func prefetchEntry[K comparable, V any, S any](e *entry[K, V, S]) {
	p := uintptr(unsafe.Pointer(e))
	prefetch(p)
	if end := p + unsafe.Sizeof(*e) - 1; end>>6 != p>>6 {
		prefetch(end)
	}
}
