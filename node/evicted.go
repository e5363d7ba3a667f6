package node

import (
	"hash/maphash"
	"math/bits"
	"sync/atomic"
)

// evictedSet remembers, lossily, which keys this node evicted: the misses worth a read-through
// on a warmed node. Eviction is local (another region keeps its copy), so a key evicted here
// plausibly lives elsewhere; a key never seen here, or one that expired (expiry is replicated
// and deterministic, so every region expired it at the same moment), does not, and its miss is
// answered at local speed. The local tombstones in the store cannot serve: they are collected
// as soon as they are causally stable, which on a healthy cluster is within a heartbeat or two.
//
// It is a direct-mapped table of 64-bit key hashes: add overwrites its slot, so a key is
// forgotten when a later eviction lands on the same slot (its next miss is then local, a cache
// miss like any other); has compares the whole hash, so a false "evicted" needs a 64-bit
// collision. Lock-free; the size is fixed at start (see newEvictedSet).
type evictedSet struct {
	seed  maphash.Seed
	slots []atomic.Uint64
	shift uint // slot = hash >> shift (the high bits: the low bit is forced to 1)
}

// Bounds of the table: 8 bytes per slot, one slot per KiB of MaxMemory (0.8 % of it), at least
// 4096 slots (32 KiB) and at most 1M (8 MiB).
const (
	evictedMinSlots = 1 << 12
	evictedMaxSlots = 1 << 20
)

func newEvictedSet(maxMemory int64) *evictedSet {
	n := uint64(max(maxMemory>>10, evictedMinSlots))
	n = min(uint64(1)<<(64-bits.LeadingZeros64(n-1)), evictedMaxSlots) // next power of two
	return &evictedSet{seed: maphash.MakeSeed(), slots: make([]atomic.Uint64, n), shift: uint(bits.LeadingZeros64(n) + 1)}
}

// fingerprint is key's hash, never 0 (0 marks an empty slot).
func (s *evictedSet) fingerprint(key string) uint64 {
	return maphash.String(s.seed, key) | 1
}

func (s *evictedSet) add(key string) {
	h := s.fingerprint(key)
	s.slots[h>>s.shift].Store(h)
}

func (s *evictedSet) has(key string) bool {
	h := s.fingerprint(key)
	return s.slots[h>>s.shift].Load() == h
}
