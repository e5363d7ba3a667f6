// Package lru is a generic, concurrent, byte-bounded LRU store with per-entry absolute
// expiry, local tombstones and an atomic compare-and-apply. It is the storage core of a
// geocache node and knows nothing of replication beyond what it is handed: a Stamp function
// for tombstones and the Apply callback for last-writer-wins decisions.
//
// # Model
//
// A Cache maps keys to values, each with an absolute expiry in unix milliseconds (0 = none).
// An entry is live while now < expiry; an expired entry is never returned. Time is never read
// from a clock: every call that needs it takes now (unix ms) from the caller. The package
// starts no goroutines.
//
// The cache is split into shards by a seeded hash of the key. Each shard is an LRU bounded
// by its share of MaxEntries and MaxBytes (charged as Size(key, value) + EntryOverhead
// per entry). When a write pushes a shard over a bound, its least recently used entries are
// evicted. A shard holding an entry larger than a quarter of its share may go over its share
// while the others make room (borrow.go), so one big entry is kept while the cache has room.
// Eviction and expiry leave a local tombstone hash(key) -> Stamp(value) when Stamp is
// set, so that Apply can present a Floor for absent keys: a late write at or below the floor is
// older than something already evicted, expired or deleted here. Tombstones are bounded by
// MaxTombstones; when full the lowest stamps are dropped and a global floor is raised.
// CollectTombstones drops those below a causally stable stamp.
//
// Expired entries are reclaimed lazily (Get, Touch, Apply on that key) and by ExpireTick, a
// bounded incremental sweep over the slab that the owner calls periodically (like Redis's
// active expiry; it costs no memory per entry). An entry is live while now < expiry; expiries
// beyond MaxExpiry (year 10889) are stored as MaxExpiry.
//
// # Concurrency
//
// All methods are safe for concurrent use. There is no global lock: Get, Peek and Touch take
// one shard's read lock, so reads of different keys, and of the same key, proceed in
// parallel. A read does not reorder the LRU list: it stamps the entry with the shard's current
// generation (a 16-bit stamp, written atomically and only when it changes, so hot entries
// cost no writes) and eviction, under the write lock, moves entries read since they were
// placed before choosing a victim. Reordering work is thus paid per eviction, not per read.
// The order is exact LRU while a shard holds fewer than 64 entries (one generation per
// access) and otherwise exact to within one generation, about 1/64 of the shard's recency
// range; on Zipf traces the hit ratio matches an exact LRU within a few hundredths of a
// point (see docs/benchmarks-lru.md).
//
// Writes (Set, Remove, Apply and Do, and reads that find an expired entry) take one shard's
// write lock. Apply's (and Do's) function runs under
// it, which is what makes compare-and-apply atomic: it must be fast and must not call the
// cache. Size and Stamp may also run under a shard lock and must be pure. OnRemove and the
// Scan and Range callbacks are never called with a lock held; OnRemove may run concurrently
// on several goroutines.
//
// ApplyBatch and Warm, for callers that touch many keys at once, hold the locks of all their
// keys' shards together (write and read locks respectively), taken in shard order like Lock's,
// so that the lookups' cache misses overlap.
//
// Iteration (Scan, Range) walks the slab slot by slot. Entries never move while they live, so
// an entry present for the whole iteration is visited exactly once.
//
// # Memory
//
// Entries live in a per-shard slab of chunks addressed by 20-bit slot numbers: the LRU ring
// and hash chains are packed slot links, the hash index is a dense array of bucket heads grown
// by splitting buckets in order (linear hashing: never a whole-table rehash), eight at a time
// with the keys they move prefetched first, and an entry has no allocation of its own: 56 bytes
// with K = string and V = []byte, plus 4 bytes of index. A Store whose values carry their keys
// (NewStore with S = InValue, Options.KeyOf and Own) keeps no key in the slot: the size of V
// plus 16 bytes. See EntryOverhead. A shard holds at
// most about one million entries; automatic sharding provides enough shards for the bounds.
package lru
