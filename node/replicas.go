package node

import (
	"sync"
	"sync/atomic"

	"github.com/geocache/geocache/crdt"
)

// replicaTable interns the writer ids of the values a node stores, so that a stored value
// carries a 24-bit index instead of the 64-bit id (value.bits): that makes the value 32 bytes
// and the store's slab entry 64 instead of 72, 8 bytes per key. Ids are added, never removed,
// for the process's lifetime: one per writer incarnation whose writes this node stored (a node
// draws a fresh id at every start), a few per member in a healthy cluster; heartbeats and
// hellos already refuse vectors of more than crdt.DefaultMaxReplicas (16384) replicas. The
// table holds maxReplicaIndex+1 ids; a write by a further one is refused (not stored, counted in
// full).
//
// Safe for concurrent use: id is lock-free (a value's index was published before the value
// reached the store, and the store's lock orders the reader after it); index is a load from
// recent, or a sync.Map read, for a known id; adding takes mu.
type replicaTable struct {
	self crdt.ReplicaID // index 0, found without the map: every local write is by self
	mu   sync.Mutex
	byID sync.Map // crdt.ReplicaID -> *replicaSlot
	// recent holds the slots of ids looked up lately, direct-mapped by id: every write of a
	// received batch is by one writer, and the sync.Map read (hash, interface conversion) was
	// 3 % of a receiver's CPU under a write flood. Replacing a slot allocates nothing (each id
	// has its one slot), so two ids sharing a place only cost the map read, as before.
	recent [recentSlots]atomic.Pointer[replicaSlot]
	n      atomic.Uint32
	chunks [maxReplicaIndex/replicaChunk + 1]atomic.Pointer[[replicaChunk]crdt.ReplicaID]
	full   atomic.Uint64 // ids refused because the table was full
}

// replicaSlot is an interned id and its index, immutable once made.
type replicaSlot struct {
	id crdt.ReplicaID
	i  uint32
}

const (
	recentBits      = 4
	recentSlots     = 1 << recentBits
	replicaBits     = 24
	maxReplicaIndex = 1<<replicaBits - 1
	replicaChunk    = 1 << 12
)

// newReplicaTable makes a table whose index 0 is self.
func newReplicaTable(self crdt.ReplicaID) *replicaTable {
	t := &replicaTable{self: self}
	t.index(self)
	return t
}

// id returns the replica id at index i (interned before).
func (t *replicaTable) id(i uint32) crdt.ReplicaID {
	return t.chunks[i/replicaChunk].Load()[i%replicaChunk]
}

// index returns r's index, adding it; false when r is new and the table is full.
func (t *replicaTable) index(r crdt.ReplicaID) (uint32, bool) {
	if r == t.self && t.n.Load() > 0 {
		return 0, true
	}
	rs := &t.recent[uint64(r)*0x9e3779b97f4a7c15>>(64-recentBits)] // Fibonacci hashing
	if p := rs.Load(); p != nil && p.id == r {
		return p.i, true
	}
	if p, ok := t.byID.Load(r); ok {
		rs.Store(p.(*replicaSlot))
		return p.(*replicaSlot).i, true
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if p, ok := t.byID.Load(r); ok {
		return p.(*replicaSlot).i, true
	}
	i := t.n.Load()
	if i > maxReplicaIndex {
		t.full.Add(1)
		return 0, false
	}
	c := t.chunks[i/replicaChunk].Load()
	if c == nil {
		c = new([replicaChunk]crdt.ReplicaID)
		t.chunks[i/replicaChunk].Store(c)
	}
	c[i%replicaChunk] = r
	t.n.Store(i + 1)
	p := &replicaSlot{id: r, i: i}
	t.byID.Store(r, p)
	rs.Store(p)
	return i, true
}
