package lru

import (
	"errors"
	"fmt"
	"hash/maphash"
	"math/bits"
	"reflect"
	"runtime"
)

// Reason says why an entry left the cache without being removed explicitly.
type Reason uint8

const (
	// Evicted: removed to stay under MaxEntries or MaxBytes.
	Evicted Reason = iota + 1
	// Expired: its expiry time was reached.
	Expired
	// Cleared: removed by Clear.
	Cleared
)

// String returns "evicted", "expired", "cleared" or "reason(N)".
func (r Reason) String() string {
	switch r {
	case Evicted:
		return "evicted"
	case Expired:
		return "expired"
	case Cleared:
		return "cleared"
	}
	return fmt.Sprintf("reason(%d)", uint8(r))
}

// EntryOverhead is the number of bytes charged against MaxBytes for each entry on top of
// Size(key, value). It is the measured memory per entry beyond the key and value bytes, at one
// million entries with K = string and V = []byte (61.7 bytes; 53.4 with V = string; see
// docs/benchmarks-lru.md), rounded up: the 56-byte slab slot (key and value headers, expiry
// and access stamp, packed LRU and hash links), 4 bytes of hash index and chunk slack.
// Value types wider than 24 bytes in memory (a struct holding a slice and more fields) should
// charge the excess inline bytes in Size.
const EntryOverhead = 64

// DefaultMaxTombstones is the bound on local tombstones used when Options.MaxTombstones is 0.
const DefaultMaxTombstones = 1 << 20

const (
	maxShards = 1 << 16
	// autoShardMinEntries and autoShardMinBytes keep automatically chosen shards large enough
	// that per-shard LRU stays close to a global LRU and a large value fits its shard.
	autoShardMinEntries = 512
	autoShardMinBytes   = 4 << 20
)

// Options configures a Cache. The zero value is an unbounded cache without tombstones.
type Options[K comparable, V any] struct {
	// MaxBytes bounds the sum over entries of Size(key, value) + EntryOverhead. 0 means
	// unlimited. The bound is split evenly across shards and enforced per shard, so a skewed
	// key distribution may evict slightly before the total reaches MaxBytes. An entry larger
	// than its shard's share is kept while the cache has room: its shard borrows from the
	// others (borrow.go), up to three quarters of MaxBytes; an entry larger than its share
	// plus that is not stored (it is reported as evicted at once).
	MaxBytes int64
	// MaxEntries bounds the number of entries, split evenly across shards like MaxBytes.
	// 0 means unlimited, up to the capacity of a shard (about one million entries) per shard.
	MaxEntries int
	// Shards is the number of independently locked shards, a power of two. 0 picks
	// 16×GOMAXPROCS rounded up to a power of two (at most 1024), reduced so that each shard
	// holds at least 512 entries of MaxEntries and 4 MiB of MaxBytes, and raised when the
	// bounds need more than about one million entries per shard. More shards spread lock
	// traffic; fewer keep the eviction order closer to one global LRU.
	Shards int
	// Size returns the payload bytes of key and value. Required when MaxBytes > 0. It must be
	// a pure, fast function (the same inputs always give the same result) and must not call
	// the cache: it may run while a shard lock is held.
	Size func(key K, value V) int
	// Stamp returns the version stamp of a value (e.g. its HLC timestamp). nil disables local
	// tombstones. Otherwise an evicted or expired entry leaves a local tombstone
	// hash(key) -> Stamp(value) (a zero stamp leaves none). Same rules as Size: pure, fast,
	// may run under a shard lock.
	Stamp func(value V) uint64
	// MaxTombstones bounds the number of local tombstones (0 = DefaultMaxTombstones), split
	// evenly across shards. When a shard's share is full, its lowest stamps are dropped (about
	// one eighth at a time, counted in Stats.TombstonesDropped) and the global floor is raised
	// to the highest stamp dropped.
	MaxTombstones int
	// WarmValue, if set, is called by WarmReads on the value of each key present, to load what
	// reading the value will touch beyond the entry (the bytes a pointer in it names), so that
	// those cache misses overlap too. Its result is discarded (it keeps the loads). Same rules
	// as Size: pure, fast, may run under a shard lock.
	WarmValue func(value *V) uint64
	// OnRemove is called for every eviction and expiration, after the shard lock is released.
	// It may be called concurrently from several goroutines and may call the cache.
	OnRemove func(key K, value V, reason Reason)
	// KeyOf, for a Store whose entries keep no key of their own (NewStore with S = InValue),
	// returns the key a stored value carries. Required there, unused otherwise. The store calls
	// it to compare keys on every lookup and to rehash, so it must be fast and pure; it may run
	// under a shard lock.
	KeyOf func(value *V) K
	// KeyAt, optional with KeyOf, returns the address KeyOf reads a value's key from when the
	// value holds it behind a pointer (0: in the value itself, or nowhere to load), and how
	// many bytes from there an update of the value reads next (its holder's fields: 0 for
	// the key's line alone). The warm pass of ApplyBatch and Warm prefetches those lines a
	// pass before the key's bytes: calling KeyOf there instead loaded the holder, a cache miss
	// that held up the misses of the batch's other keys, the key's bytes a second one behind
	// it, and the update's reads of the holder more after the lookup. Same rules as KeyOf.
	KeyAt func(value *V) (at, n uintptr)
	// Own, with KeyOf, makes a value about to be stored under key carry that key (KeyOf must
	// then return it). It runs under the shard lock, before every Put, and must not call the
	// store. A value that already carries key should cost no more than the comparison.
	Own func(key K, value *V)
}

// InValue is the stored-key type of a Store whose values carry their keys (Options.KeyOf): its
// entries hold no key of their own, so a key costs the slot no bytes (a string key's header is
// 16).
type InValue struct{}

// Cache is a Store that keeps each key in its entry, beside the value.
type Cache[K comparable, V any] = Store[K, V, K]

// New validates opts and returns an empty cache. It does not retain or modify opts beyond
// copying its fields.
func New[K comparable, V any](opts Options[K, V]) (*Cache[K, V], error) {
	if opts.KeyOf != nil || opts.Own != nil || opts.KeyAt != nil {
		return nil, errors.New("lru: KeyOf and Own are for a Store of values that carry their keys (NewStore)")
	}
	return newStore[K, V, K](opts)
}

// NewStore is New for a store of values that carry their keys: S is InValue and opts.KeyOf and
// opts.Own are required.
func NewStore[K comparable, V any, S InValue](opts Options[K, V]) (*Store[K, V, S], error) {
	if opts.KeyOf == nil || opts.Own == nil {
		return nil, errors.New("lru: NewStore needs KeyOf and Own")
	}
	return newStore[K, V, S](opts)
}

func newStore[K comparable, V any, S any](opts Options[K, V]) (*Store[K, V, S], error) {
	switch {
	case opts.MaxBytes < 0:
		return nil, errors.New("lru: MaxBytes must not be negative")
	case opts.MaxEntries < 0:
		return nil, errors.New("lru: MaxEntries must not be negative")
	case opts.MaxTombstones < 0:
		return nil, errors.New("lru: MaxTombstones must not be negative")
	case opts.Shards < 0 || opts.Shards > maxShards || opts.Shards&(opts.Shards-1) != 0:
		return nil, fmt.Errorf("lru: Shards must be 0 or a power of two up to %d, got %d", maxShards, opts.Shards)
	case opts.MaxBytes > 0 && opts.Size == nil:
		return nil, errors.New("lru: Size is required when MaxBytes > 0")
	case opts.Shards > 0 && int64(opts.MaxEntries) > int64(opts.Shards)*entryCap:
		return nil, fmt.Errorf("lru: MaxEntries (%d) needs more than %d shards of at most %d entries", opts.MaxEntries, opts.Shards, entryCap)
	case opts.MaxEntries > 0 && opts.Shards > opts.MaxEntries:
		return nil, fmt.Errorf("lru: Shards (%d) exceeds MaxEntries (%d)", opts.Shards, opts.MaxEntries)
	}
	n := opts.Shards
	if n == 0 {
		n = autoShards(opts.MaxEntries, opts.MaxBytes)
	}
	if opts.MaxBytes > 0 && int64(n)*EntryOverhead > opts.MaxBytes {
		return nil, fmt.Errorf("lru: MaxBytes (%d) cannot hold one entry per shard (%d shards)", opts.MaxBytes, n)
	}
	maxTomb := opts.MaxTombstones
	if maxTomb == 0 {
		maxTomb = DefaultMaxTombstones
	}
	c := &Store[K, V, S]{
		shards:    make([]shard[K, V, S], n),
		shift:     uint(64 - bits.TrailingZeros(uint(n))),
		seed:      maphash.MakeSeed(),
		strKey:    reflect.TypeFor[K]().Kind() == reflect.String,
		size:      opts.Size,
		stamp:     opts.Stamp,
		warmValue: opts.WarmValue,
		keyAt:     opts.KeyAt,
		onRemove:  opts.OnRemove,
	}
	c.maxBytes.Store(opts.MaxBytes)
	for i := range c.shards {
		s := &c.shards[i]
		s.maxEntries = share(int64(opts.MaxEntries), n, i)
		if s.maxEntries == 0 || s.maxEntries > entryCap {
			s.maxEntries = entryCap
		}
		s.maxBytes = shardShare(opts.MaxBytes, n, i)
		s.maxTomb = max(int(share(int64(maxTomb), n, i)), 1)
		s.keyOf, s.own = opts.KeyOf, opts.Own
		s.initRing()
	}
	return c, nil
}

// share returns shard i's part of total split n ways (0 stays 0 = unlimited).
func share(total int64, n, i int) int64 {
	q := total / int64(n)
	if int64(i) < total%int64(n) {
		q++
	}
	return q
}

func autoShards(maxEntries int, maxBytes int64) int {
	n := 1
	for n < 16*runtime.GOMAXPROCS(0) && n < 1024 {
		n <<= 1
	}
	for n > 1 && maxEntries > 0 && maxEntries/n < autoShardMinEntries {
		n >>= 1
	}
	for n > 1 && maxBytes > 0 && maxBytes/int64(n) < autoShardMinBytes {
		n >>= 1
	}
	// Never fewer shards than the bound needs: a shard holds at most entryCap entries.
	bound := int64(maxEntries)
	if bound == 0 {
		bound = maxBytes / EntryOverhead
	}
	for int64(n)*entryCap < bound && n < maxShards {
		n <<= 1
	}
	return n
}
