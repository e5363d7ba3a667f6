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
// It also keeps the timestamp of the version evicted: a copy fetched back from a peer with
// exactly that timestamp is the very write this node held, so it is taken back even when this
// node once applied it and the local tombstone that recorded the eviction has been collected
// (storeFetched refused it then, so read-through worked only for a heartbeat or two after an
// eviction). An expiry forgets the key: a later version that expired here must not let an
// older copy, held by a peer that never got it, come back.
//
// It is a direct-mapped table of 64-bit key hashes: add overwrites its slot, so a key is
// forgotten when a later eviction lands on the same slot (its next miss is then local, a cache
// miss like any other); get compares the whole hash, so a false "evicted" needs a 64-bit
// collision. Lock-free: a writer marks the slot busy while it replaces the pair, and a reader
// that sees the hash change across its read of the timestamp answers "not evicted". The size
// is fixed at start (see newEvictedSet), but the table is allocated at the first eviction: a
// node whose store never fills never pays for it (16 MiB from 1 GiB of MaxMemory, 16 bytes per
// entry of a store of a million keys).
type evictedSet struct {
	seed  maphash.Seed
	size  int                          // slots
	shift uint                         // slot = hash >> shift (the high bits: the low bit is forced to 1)
	tab   atomic.Pointer[evictedTable] // nil until the first add
}

type evictedTable struct {
	slots []atomic.Uint64 // key fingerprint; 0 = empty, slotBusy = being written
	ts    []atomic.Uint64 // timestamp of the version evicted
}

// slotBusy marks a slot whose pair is being replaced (fingerprints are odd).
const slotBusy = 2

// Bounds of the table: 16 bytes per slot, one slot per KiB of MaxMemory (1.6 % of it), at
// least 4096 slots (64 KiB) and at most 1M (16 MiB).
const (
	evictedMinSlots = 1 << 12
	evictedMaxSlots = 1 << 20
)

// evictedSlots is the size of the table of a node started with maxMemory.
func evictedSlots(maxMemory int64) uint64 {
	n := uint64(max(maxMemory>>10, evictedMinSlots))
	return min(uint64(1)<<(64-bits.LeadingZeros64(n-1)), evictedMaxSlots) // next power of two
}

func newEvictedSet(maxMemory int64) *evictedSet {
	n := evictedSlots(maxMemory)
	return &evictedSet{seed: maphash.MakeSeed(), size: int(n), shift: uint(bits.LeadingZeros64(n) + 1)}
}

// table returns the table, allocating it if need is set; nil if it is not allocated and need
// is not set.
func (s *evictedSet) table(need bool) *evictedTable {
	t := s.tab.Load()
	if t != nil || !need {
		return t
	}
	t = &evictedTable{slots: make([]atomic.Uint64, s.size), ts: make([]atomic.Uint64, s.size)}
	if s.tab.CompareAndSwap(nil, t) {
		return t
	}
	return s.tab.Load() // another eviction allocated it first
}

// fingerprint is key's hash, never 0 (0 marks an empty slot).
func (s *evictedSet) fingerprint(key string) uint64 {
	return maphash.String(s.seed, key) | 1
}

// add records that key was evicted holding the version stamped ts.
func (s *evictedSet) add(key string, ts uint64) {
	t := s.table(true)
	h := s.fingerprint(key)
	i := h >> s.shift
	for {
		old := t.slots[i].Load()
		if old != slotBusy && t.slots[i].CompareAndSwap(old, slotBusy) {
			break
		}
	}
	t.ts[i].Store(ts)
	t.slots[i].Store(h)
}

// get returns the timestamp key was evicted with, if the table remembers it.
func (s *evictedSet) get(key string) (uint64, bool) {
	t := s.table(false)
	if t == nil {
		return 0, false
	}
	h := s.fingerprint(key)
	i := h >> s.shift
	if t.slots[i].Load() != h {
		return 0, false
	}
	ts := t.ts[i].Load()
	if t.slots[i].Load() != h {
		return 0, false // replaced meanwhile
	}
	return ts, true
}

func (s *evictedSet) has(key string) bool {
	_, ok := s.get(key)
	return ok
}

// forget drops key from the table (it expired here).
func (s *evictedSet) forget(key string) {
	t := s.table(false)
	if t == nil {
		return
	}
	h := s.fingerprint(key)
	t.slots[h>>s.shift].CompareAndSwap(h, 0)
}
